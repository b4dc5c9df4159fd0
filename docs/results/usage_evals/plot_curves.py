"""python docs/results/usage_evals/plot_curves.py: learning curves of the usage recipe's CoCu seeds 0 and 1
(checkpoints every 50 steps, records in curves/) → docs/results/usage_curves.png."""
import glob, json, os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = os.path.dirname(os.path.abspath(__file__))
METRICS = [("miou", "ADE-like mIoU"), ("grouping_miou", "grouping IoU"), ("naming_accuracy", "naming accuracy"),
           ("groups_in_use", "groups in use")]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
for seed in (0, 1):
    recs = sorted((json.load(open(p)) for p in glob.glob(f"{HERE}/curves/curve-cocu-s{seed}-step*.json")),
                  key=lambda r: r["step"])
    for ax, (key, label) in zip(axes, METRICS):
        ax.plot([r["step"] for r in recs], [r[key] for r in recs], marker="o", label=f"CoCu seed {seed}")
        ax.set_title(label); ax.set_xlabel("step")
axes[0].legend()
fig.tight_layout()
fig.savefig(os.path.join(HERE, "..", "usage_curves.png"), dpi=100)
