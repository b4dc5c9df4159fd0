"""python plot17.py OUT.png CURVE.json...: grouping IoU, naming, groups in use, object IoU and mIoU over the training
steps (files curve17_<run>-s<seed>.json; the grounded recipe with 8 final groups, the synthetic 'groups' gate)."""
import json, sys, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
keys = [("grouping_miou", "grouping-only IoU (%)"), ("naming_accuracy", "naming accuracy"),
        ("groups_in_use", "groups in use (of 8)"), ("object_miou", "object IoU (%)"), ("miou", "ADE-like mIoU (%)")]
fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4))
styles = {"cocu": "-", "oracle": "--", "baseline": ":"}
for path in sys.argv[2:]:
    name = os.path.basename(path)[8:-5]           # curve17_<run>-s<seed>.json
    c = json.load(open(path))
    steps = sorted(int(s) for s in c)
    regime = name.split("-")[1]
    seed = int(name.rsplit("-s", 1)[1])
    for ax, (k, label) in zip(axes, keys):
        ax.plot(steps, [c[str(s)][k] for s in steps], styles[regime], color=f"C{seed}", label=f"{regime}, seed {seed}")
        ax.set_title(label, fontsize=10); ax.set_xlabel("step (64 images)")
axes[1].axhline(0.5, color="grey", lw=0.8, ls=":"); axes[0].axhline(45, color="grey", lw=0.8, ls=":")
axes[2].axhline(3, color="grey", lw=0.8, ls=":"); axes[3].axhline(20, color="grey", lw=0.8, ls=":")
axes[-1].legend(fontsize=7)
fig.tight_layout(); fig.savefig(sys.argv[1], dpi=110)
