"""python docs/results/stop14_evals/summarise.py docs/results/stop14.json: per-seed records, means ± std and paired
statistics of the stop-14 runs (the records in this folder; all trained and evaluated in one environment)."""
import json, math, os, statistics as st, sys
HERE = os.path.dirname(os.path.abspath(__file__))
T = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}
KEYS = ("miou", "voc_miou", "object_miou", "stuff_miou", "grouping_miou", "naming_accuracy", "groups_in_use")
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


def recs(name):
    return {s: json.load(open(f"{HERE}/{name}-s{s}.json")) for s in range(10) if os.path.exists(f"{HERE}/{name}-s{s}.json")}


def summary(name):
    r = recs(name)
    return {"seeds": sorted(r), "per_seed": {k: [round(r[s][k], 3) for s in sorted(r)] for k in KEYS},
            "mean": {k: round(st.mean(r[s][k] for s in r), 3) for k in KEYS},
            "std": {k: round(st.stdev(r[s][k] for s in r), 3) if len(r) > 1 else None for k in KEYS}}


def paired(a, b):
    ra, rb = recs(a), recs(b)
    seeds = sorted(set(ra) & set(rb))
    out = {"seeds": seeds}
    for k in KEYS:
        d = [ra[s][k] - rb[s][k] for s in seeds]
        m, sd = st.mean(d), st.stdev(d)
        h = T[len(d) - 1] * sd / math.sqrt(len(d))
        out[k] = {"per_seed": [round(x, 3) for x in d], "mean": round(m, 3), "std": round(sd, 3),
                  "ci95": [round(m - h, 3), round(m + h, 3)]}
    return out


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
