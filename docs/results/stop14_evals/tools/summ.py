"""python summ.py A B [C ...]: per-run means ± std, and paired differences of each vs the first (seeds in common)."""
import json, math, os, statistics as st, sys, glob
T = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447}
K = ("miou", "voc_miou", "object_miou", "stuff_miou", "grouping_miou", "naming_accuracy", "groups_in_use")
D = sys.argv[1] if os.path.isdir(sys.argv[1]) else "evals"
names = sys.argv[2:] if os.path.isdir(sys.argv[1]) else sys.argv[1:]
def recs(n): return {int(p.rsplit("-s", 1)[1][:-5]): json.load(open(p)) for p in glob.glob(f"{D}/{n}-s*.json")}
R = {n: recs(n) for n in names}
for n, r in R.items():
    print(f"{n:22s} n={len(r)} " + " ".join(f"{k[:6]} {st.mean(x[k] for x in r.values()):6.2f}±{(st.stdev(x[k] for x in r.values()) if len(r)>1 else 0):5.2f}" for k in K))
ref = names[0]
for n in names[1:]:
    s = sorted(set(R[n]) & set(R[ref]))
    if len(s) < 2: continue
    out = []
    for k in ("miou", "voc_miou", "object_miou", "grouping_miou", "naming_accuracy", "groups_in_use"):
        d = [R[n][i][k] - R[ref][i][k] for i in s]; m = st.mean(d); h = T[len(d)-1] * st.stdev(d) / math.sqrt(len(d))
        out.append(f"{k[:6]} {m:+.2f} [{m-h:+.2f},{m+h:+.2f}]")
    print(f"{n} − {ref} (seeds {s}): " + "; ".join(out))
