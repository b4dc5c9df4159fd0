"""python summ.py [FOLDER] A B [C ...]: per-run means ± std, and paired differences of each run vs the
first (seeds in common, 95 % t interval). FOLDER holds <run>-s<seed>.json records (default evals/)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from seed_stats import KEYS, paired, recs, summary  # noqa: E402  (docs/results/seed_stats.py)

D = sys.argv[1] if os.path.isdir(sys.argv[1]) else "evals"
names = sys.argv[2:] if os.path.isdir(sys.argv[1]) else sys.argv[1:]
for n in names:
    r = summary(D, n)
    print(f"{n:22s} n={len(r['seeds'])} " + " ".join(f"{k[:6]} {r['mean'][k]:6.2f}±{r['std'][k] or 0:5.2f}" for k in KEYS))
for n in names[1:]:
    if len(set(recs(D, n)) & set(recs(D, names[0]))) < 2:
        continue
    p = paired(D, n, names[0])
    print(f"{n} − {names[0]} (seeds {p['seeds']}): " + "; ".join(
        f"{k[:6]} {p[k]['mean']:+.2f} [{p[k]['ci95'][0]:+.2f},{p[k]['ci95'][1]:+.2f}]" for k in KEYS if k != "stuff_miou"))
