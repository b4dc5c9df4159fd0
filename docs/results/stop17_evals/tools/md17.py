"""python md17.py STOP.json [PART]: the markdown tables (runs, paired differences) of a stop-17 or -18 statistics file,
or of its section PART (e.g. ``machine`` in stop18.json)."""
import json, sys
d = json.load(open(sys.argv[1]))
cols = [("voc_miou", "VOC-like"), ("miou", "ADE-like"), ("object_miou", "object"), ("stuff_miou", "stuff"),
        ("image_miou", "ADE-like, image gate"), ("image_object_miou", "object, image gate"),
        ("grouping_miou", "grouping"), ("naming_accuracy", "naming"), ("groups_in_use", "groups")]
part = d[sys.argv[2]] if len(sys.argv) > 2 else d
print("| model | seeds | " + " | ".join(c for _, c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for k, v in part["runs"].items():
    m, s = v["mean"], v["std"]
    f = lambda x: (f"{m[x]:.2f} ± {s[x]:.2f}" if x in ("naming_accuracy", "groups_in_use") else f"{m[x]:.1f} ± {s[x]:.1f}")
    print(f"| {k} | {len(v['seeds'])} | " + " | ".join(f(x) for x, _ in cols) + " |")
print()
pc = [("miou", "ADE-like"), ("voc_miou", "VOC-like"), ("object_miou", "object"), ("image_miou", "ADE-like, image gate"),
      ("voc_image_miou", "VOC-like, image gate"), ("naming_accuracy", "naming")]
print("| paired difference | seeds | ADE-like per seed | " + " | ".join(c + " [95 %]" for _, c in pc) + " |")
print("|---|---|---|" + "---|" * len(pc))
for k, p in part["paired"].items():
    fmt = lambda x: (f"{p[x]['mean']:+.2f} [{p[x]['ci95'][0]:+.2f}, {p[x]['ci95'][1]:+.2f}]" if x == "naming_accuracy"
                     else f"{p[x]['mean']:+.1f} [{p[x]['ci95'][0]:+.1f}, {p[x]['ci95'][1]:+.1f}]")
    print(f"| {k} | {len(p['seeds'])} | {', '.join(f'{v:+.1f}' for v in p['miou']['per_seed'])} | "
          + " | ".join(fmt(x) for x, _ in pc) + " |")
