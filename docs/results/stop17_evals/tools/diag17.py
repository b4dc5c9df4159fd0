"""python diag17.py RUN OUT.json: ADE-like diagnostics (the synthetic protocol's top-k gate, "groups", and the
official image gate beside it) + VOC-like mIoU with both gates, of RUN's last checkpoint."""
import json, sys
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.eval.evaluate import evaluate
from cocu.eval.protocol import get_protocol
from cocu.models.checkpoint import load_model
run, out = sys.argv[1], sys.argv[2]
model = load_model(f"{run}/checkpoints/last.pt")
d = synthetic_diagnostics(model, get_benchmark("ade_like", "final/world"), "final/world/world.json")
voc_bench = get_benchmark("voc_like", "final/world")
d["voc_miou"] = evaluate(model, voc_bench, show_progress=False)["mIoU"]
d["voc_image_miou"] = evaluate(model, voc_bench, show_progress=False,
                               protocol=get_protocol("synthetic_voc").with_(gate="image"))["mIoU"]
d["image_miou"], d["image_object_miou"] = d["image_gate"]["miou"], d["image_gate"]["object_miou"]
json.dump(d, open(out, "w"), indent=1)
print(out, {k: round(v, 3) for k, v in d.items() if isinstance(v, float)}, flush=True)
