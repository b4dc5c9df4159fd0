"""python docs/results/usage_evals/summarise.py docs/results/usage.json: per-seed records and paired
statistics of the usage-term runs (stops 12-13), read from this folder."""
import json, math, os, statistics as st, sys
HERE = os.path.dirname(os.path.abspath(__file__))
T = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}
KEYS = ("miou", "voc_miou", "object_miou", "stuff_miou", "grouping_miou", "naming_accuracy", "groups_in_use")
def recs(name):
    return {s: json.load(open(f"{HERE}/{name}-s{s}.json")) for s in range(10) if os.path.exists(f"{HERE}/{name}-s{s}.json")}
def summary(name):
    r = recs(name)
    return {"seeds": sorted(r), "per_seed": {k: [round(r[s][k], 3) for s in sorted(r)] for k in KEYS},
            "mean": {k: round(st.mean(r[s][k] for s in r), 3) for k in KEYS},
            "std": {k: round(st.stdev(r[s][k] for s in r), 3) if len(r) > 1 else None for k in KEYS}}
def paired(a, b):
    ra, rb = recs(a), recs(b); seeds = sorted(set(ra) & set(rb)); out = {"seeds": seeds}
    for k in KEYS:
        d = [ra[s][k] - rb[s][k] for s in seeds]; m = st.mean(d); sd = st.stdev(d); h = T[len(d) - 1] * sd / math.sqrt(len(d))
        out[k] = {"per_seed": [round(x, 3) for x in d], "mean": round(m, 3), "std": round(sd, 3), "ci95": [round(m - h, 3), round(m + h, 3)]}
    return out
runs = {"baseline+usage2": "mi2.0-caption", "cocu+usage2": "mi2.0-cocu", "oracle+usage2": "mi2.0-oracle",
        "cocu+usage4": "mi4.0-cocu", "cocu+usage2+first0.5": "fu0.5-cocu", "cocu+usage2+first1": "fu1.0-cocu",
        "cocu+usage2+first2": "fu2-cocu", "oracle+usage2+first2": "fu2-oracle", "baseline+usage2+first2": "fu2-caption",
        "cocu+first2 (no final usage)": "f2only-cocu", "oracle+first2 (no final usage)": "f2only-oracle"}
runs = {k: v for k, v in runs.items() if recs(v)}
pairs = [("cocu+usage2", "baseline+usage2"), ("oracle+usage2", "baseline+usage2"), ("oracle+usage2", "cocu+usage2"),
         ("cocu+usage4", "cocu+usage2"), ("cocu+usage2+first0.5", "cocu+usage2"), ("cocu+usage2+first1", "cocu+usage2"),
         ("cocu+usage2+first2", "cocu+usage2"), ("oracle+usage2+first2", "oracle+usage2"), ("cocu+first2 (no final usage)", "cocu+usage2"), ("oracle+first2 (no final usage)", "oracle+usage2"),
         ("cocu+usage2+first2", "baseline+usage2+first2"), ("oracle+usage2+first2", "baseline+usage2+first2")]
out = {"note": "tiny preset, 24k samples per run, grounded objective; records: docs/results/usage_evals/<run>-s<seed>.json; "
               "ADE-like split unless the key says voc", "runs": {k: {"records": v, **summary(v)} for k, v in runs.items()},
       "paired": {f"{a} − {b}": paired(runs[a], runs[b]) for a, b in pairs if a in runs and b in runs}}
g = out["paired"]["cocu+usage2 − baseline+usage2"]["miou"]["mean"] / out["paired"]["oracle+usage2 − baseline+usage2"]["miou"]["mean"]
out["gap_share_ade_cocu_usage2"] = round(g, 3)
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
print("gap share", round(g, 3))
