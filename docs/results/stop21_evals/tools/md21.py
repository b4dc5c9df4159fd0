"""python md21.py docs/results/stop21.json: the VOC-like tables of stop 21 (the other columns:
``../../stop17_evals/tools/md17.py docs/results/stop21.json``)."""
import json, sys
d = json.load(open(sys.argv[1]))
cols = [("voc_miou", "VOC-like, threshold 0.95"), ("voc_thresh05_miou", "threshold 0.5"),
        ("voc_words_miou", "stuff words, no threshold"), ("voc_clamped", "images below 0.95"),
        ("voc_fg_groups", "foreground groups per image"), ("logit_scale", "logit scale")]
print("| model | seeds | " + " | ".join(c for _, c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for k, v in d["runs"].items():
    m, s = v["mean"], v["std"]
    f = lambda x: f"{m[x]:.2f} ± {s[x]:.2f}" if x in ("voc_clamped", "voc_fg_groups") else f"{m[x]:.1f} ± {s[x]:.1f}"
    print(f"| {k} | {len(v['seeds'])} | " + " | ".join(f(x) for x, _ in cols) + " |")
print()
pc = [("voc_miou", "VOC-like, threshold"), ("voc_words_miou", "VOC-like, stuff words")]
print("| paired difference | seeds | " + " | ".join(f"{c} per seed | {c} [95 %]" for _, c in pc) + " |")
print("|---|---|" + "---|---|" * len(pc))
for k, p in d["paired"].items():
    print(f"| {k} | {len(p['seeds'])} | " + " | ".join(
        f"{', '.join(f'{v:+.1f}' for v in p[x]['per_seed'])} | "
        f"{p[x]['mean']:+.1f} [{p[x]['ci95'][0]:+.1f}, {p[x]['ci95'][1]:+.1f}]" for x, _ in pc) + " |")
