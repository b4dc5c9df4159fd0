"""python diag.py RUN OUT.json: ADE-like diagnostics + VOC-like mIoU of RUN's last checkpoint."""
import json, sys, time
import torch
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.eval.evaluate import evaluate
from cocu.models.checkpoint import load_model
run, out = sys.argv[1], sys.argv[2]
ck = sys.argv[3] if len(sys.argv) > 3 else f"{run}/checkpoints/last.pt"
model = load_model(ck)
d = synthetic_diagnostics(model, get_benchmark("ade_like", "final/world"), "final/world/world.json")
voc = evaluate(model, get_benchmark("voc_like", "final/world"), show_progress=False)
d["voc_miou"] = voc["mIoU"]
json.dump(d, open(out, "w"), indent=1)
print(out, {k: round(v, 3) for k, v in d.items() if isinstance(v, float)})
