"""python docs/results/stop15_evals/summarise.py docs/results/stop15.json: per-seed records, means ± std and paired
statistics of the stop-15 runs (the records in this folder; all trained and evaluated on one machine)."""
import json, os, sys
from functools import partial
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
recs, summary, paired, pooled = (partial(f, HERE) for f in (seed_stats.recs, seed_stats.summary, seed_stats.paired,
                                                            seed_stats.paired_pooled))
RECIPES = {"default": "ref", "region_fixed": "regionF", "region_alone": "regionA"}
RUNS = {f"{regime}, {recipe}": f"{prefix}-{regime}" for recipe, prefix in RECIPES.items()
        for regime in ("cocu", "oracle", "baseline")}
PAIRS = [(f"{g}, {a}", f"{g}, {b}") for g in ("cocu", "oracle", "baseline")
         for a, b in (("region_fixed", "default"), ("region_alone", "default"), ("region_alone", "region_fixed"))]
PAIRS += [(f"{a}, {r}", f"baseline, {r}") for r in RECIPES for a in ("cocu", "oracle")]
runs = {k: v for k, v in RUNS.items() if recs(v)}
out = {"note": "tiny preset, 24k samples per run, the grounded objective's default recipe (usage ×2, first-stage "
               "usage ×2 until 0.4), bf16 autocast (AMD EPYC with AVX512-BF16), OMP_NUM_THREADS=1, 3 runs in "
               "parallel; the model's isolated_groups as named; records: docs/results/stop15_evals/<run>-s<seed>.json; "
               "ADE-like split unless the key says voc",
       "runs": {k: {"records": v, **summary(v)} for k, v in runs.items()},
       "paired": {f"{a} − {b}": paired(runs[a], runs[b]) for a, b in PAIRS
                  if a in runs and b in runs and len(set(recs(runs[a])) & set(recs(runs[b]))) > 1}}
for recipe in ("region_fixed", "region_alone"):  # the recipe's effect, CoCu and oracle runs pooled (seed pairs)
    out["paired"][f"cocu + oracle, {recipe} − default (pooled)"] = pooled(
        [(runs[f"{g}, {recipe}"], runs[f"{g}, default"]) for g in ("cocu", "oracle")])
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
for k, v in out["runs"].items():
    m, s = v["mean"], v["std"]
    print(f"{k:24s} n={len(v['seeds'])} ADE {m['miou']:5.1f} ± {s['miou'] or 0:4.1f}  VOC {m['voc_miou']:5.1f} ± "
          f"{s['voc_miou'] or 0:4.1f}  object {m['object_miou']:5.1f} ± {s['object_miou'] or 0:4.1f}  grouping "
          f"{m['grouping_miou']:5.1f} ± {s['grouping_miou'] or 0:4.1f}  naming {m['naming_accuracy']:.2f} ± "
          f"{s['naming_accuracy'] or 0:.2f}  groups {m['groups_in_use']:.2f} ± {s['groups_in_use'] or 0:.2f}")
for k, p in out["paired"].items():
    print(f"{k} (seeds {p['seeds']}): " + "; ".join(
        f"{n} {p[key]['mean']:+.2f} [{p[key]['ci95'][0]:+.2f}, {p[key]['ci95'][1]:+.2f}]"
        for n, key in (("ADE", "miou"), ("VOC", "voc_miou"), ("object", "object_miou"), ("naming", "naming_accuracy"),
                       ("groups", "groups_in_use"))))
