"""python docs/results/stop14_evals/summarise.py docs/results/stop14.json: per-seed records, means ± std and paired
statistics of the stop-14 runs (the records in this folder; all trained and evaluated in one environment)."""
import json, os, sys
from functools import partial
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
recs, summary, paired = (partial(f, HERE) for f in (seed_stats.recs, seed_stats.summary, seed_stats.paired))
RUNS = {"baseline (recipe)": "mi2.0-caption", "cocu (recipe)": "mi2.0-cocu", "oracle (recipe)": "mi2.0-oracle",
        "baseline + first-stage usage ×2 until 0.4": "fs0.4-caption", "cocu + first-stage usage ×2 until 0.4": "fs0.4-cocu",
        "oracle + first-stage usage ×2 until 0.4": "fs0.4-oracle", "cocu + naming ×1": "nm1-cocu",
        "cocu + naming ×1 + first-stage usage ×2 until 0.4": "nm1fs-cocu",
        "cocu + first-stage usage ×2 until 0.4 + distinct ×1": "dg1-cocu",
        "oracle + first-stage usage ×2 until 0.4 + distinct ×1": "dg1-oracle"}
PAIRS = [("cocu (recipe)", "baseline (recipe)"), ("oracle (recipe)", "baseline (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4", "cocu (recipe)"), ("oracle + first-stage usage ×2 until 0.4", "oracle (recipe)"),
         ("baseline + first-stage usage ×2 until 0.4", "baseline (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4", "baseline + first-stage usage ×2 until 0.4"),
         ("oracle + first-stage usage ×2 until 0.4", "baseline + first-stage usage ×2 until 0.4"),
         ("cocu + naming ×1", "cocu (recipe)"), ("cocu + naming ×1 + first-stage usage ×2 until 0.4", "cocu (recipe)"),
         ("cocu + first-stage usage ×2 until 0.4 + distinct ×1", "cocu + first-stage usage ×2 until 0.4"),
         ("oracle + first-stage usage ×2 until 0.4 + distinct ×1", "oracle + first-stage usage ×2 until 0.4")]



runs = {k: v for k, v in RUNS.items() if recs(v)}
out = {"note": "tiny preset, 24k samples per run, grounded objective with usage ×2 (the recipe), OMP_NUM_THREADS=1; "
               "records: docs/results/stop14_evals/<run>-s<seed>.json; ADE-like split unless the key says voc",
       "runs": {k: {"records": v, **summary(v)} for k, v in runs.items()},
       "paired": {f"{a} − {b}": paired(runs[a], runs[b]) for a, b in PAIRS
                  if a in runs and b in runs and len(set(recs(runs[a])) & set(recs(runs[b]))) > 1}}
for label in ("recipe", "first-stage usage ×2 until 0.4"):
    key = (f"cocu ({label})", f"oracle ({label})", f"baseline ({label})") if label == "recipe" else \
          (f"cocu + {label}", f"oracle + {label}", f"baseline + {label}")
    c, o = f"{key[0]} − {key[2]}", f"{key[1]} − {key[2]}"
    if c in out["paired"] and o in out["paired"]:
        out[f"gap_share_ade ({label})"] = round(out["paired"][c]["miou"]["mean"] / out["paired"][o]["miou"]["mean"], 3)
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
for k, v in out["runs"].items():
    print(f"{k:52s} n={len(v['seeds'])} ADE {v['mean']['miou']:5.1f} ± {v['std']['miou'] or 0:4.1f}  groups {v['mean']['groups_in_use']:.2f}"
          f"  grouping {v['mean']['grouping_miou']:.1f}  naming {v['mean']['naming_accuracy']:.2f}  object {v['mean']['object_miou']:.1f}")
for k, v in out["paired"].items():
    print(f"{k}: ADE {v['miou']['mean']:+.1f} ± {v['miou']['std']:.1f} {v['miou']['ci95']}, VOC {v['voc_miou']['mean']:+.1f} {v['voc_miou']['ci95']} (seeds {v['seeds']})")
print({k: v for k, v in out.items() if k.startswith("gap")})
