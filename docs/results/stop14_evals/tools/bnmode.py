"""python bnmode.py RUN...: ADE-like diagnostics with the image projector's BatchNorm on running stats (as trained-eval)
vs on the eval batch's own statistics (as the training step normalises pooled and group features)."""
import sys, torch, torch.nn.functional as F
from torch import nn
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.models.checkpoint import load_model
class BatchStatsBN(nn.Module):
    def __init__(self, bn): super().__init__(); self.bn = bn
    def forward(self, x): return F.batch_norm(x, None, None, self.bn.weight, self.bn.bias, True, 0.0, self.bn.eps)
b = get_benchmark("ade_like", "final/world")
K = ("miou", "grouping_miou", "naming_accuracy", "object_miou", "image_recall")
for run in sys.argv[1:]:
    m = load_model(f"{run}/checkpoints/last.pt")
    d0 = synthetic_diagnostics(m, b, "final/world/world.json")
    seq = m.img_projector.linear_hidden
    for i, mod in enumerate(seq):
        if isinstance(mod, nn.BatchNorm1d): seq[i] = BatchStatsBN(mod)
    d1 = synthetic_diagnostics(m, b, "final/world/world.json")
    print(run, "running:", {k: round(d0[k], 3) for k in K}, "batch:", {k: round(d1[k], 3) for k in K}, flush=True)
