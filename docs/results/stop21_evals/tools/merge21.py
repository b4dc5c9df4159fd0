"""python merge21.py OUTDIR: one record per run: diag17.py's (evals17/) plus ana21.py's VOC-like analysis (ana/),
its headline numbers as top-level keys for seed_stats."""
import glob, json, os, sys
out = sys.argv[1]
for f in sorted(glob.glob("evals17/g8-*.json")):
    name = os.path.basename(f)
    if not os.path.exists(f"ana/{name}"):
        continue
    rec, ana = json.load(open(f)), json.load(open(f"ana/{name}"))
    rec.update(voc_words_miou=ana["stuff_as_background"]["miou"], voc_thresh05_miou=ana["thresh_0.5"]["miou"],
               voc_clamped=ana["clamped_fraction"], voc_fg_groups=ana["fg_groups_mean"], logit_scale=ana["logit_scale"],
               voc_analysis=ana)
    json.dump(rec, open(f"{out}/{name}", "w"), indent=1)
    print(name, rec["voc_miou"], rec["voc_words_miou"])
