"""python docs/results/usage_evals/summarise.py docs/results/usage.json: per-seed records and paired
statistics of the usage-term runs (stops 12-13), read from this folder."""
import json, os, sys
from functools import partial
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import seed_stats  # noqa: E402
recs, summary, paired = (partial(f, HERE) for f in (seed_stats.recs, seed_stats.summary, seed_stats.paired))
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
