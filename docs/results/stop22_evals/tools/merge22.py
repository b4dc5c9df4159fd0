"""python merge22.py PREFIX OUTDIR: one record per run PREFIX-*: diag17.py's (evals17/) plus ana21.py's VOC-like
analysis (ana/), its headline numbers as top-level keys for seed_stats, and both learnt logit scales read from the
run's last checkpoint (``logit_scale``: the caption scale the segmenter uses; ``ml_logit_scale``: the multi-label
scale of the multi-label and grounding terms)."""
import glob, json, math, os, sys
import torch
prefix, out = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(f"evals17/{prefix}-*.json")):
    name = os.path.basename(f)
    if not os.path.exists(f"ana/{name}"):
        continue
    rec, ana = json.load(open(f)), json.load(open(f"ana/{name}"))
    weights = torch.load(f"runs/{name[:-5]}/checkpoints/last.pt", map_location="cpu", weights_only=False)["model"]
    rec.update(voc_words_miou=ana["stuff_as_background"]["miou"], voc_thresh05_miou=ana["thresh_0.5"]["miou"],
               voc_clamped=ana["clamped_fraction"], voc_fg_groups=ana["fg_groups_mean"],
               logit_scale=math.exp(weights["logit_scale"].item()),
               ml_logit_scale=math.exp(weights["multi_label_logit_scale"].item()), voc_analysis=ana)
    json.dump(rec, open(f"{out}/{name}", "w"), indent=1)
    print(name, rec["voc_miou"], rec["voc_words_miou"], round(rec["logit_scale"], 2), round(rec["ml_logit_scale"], 2))
