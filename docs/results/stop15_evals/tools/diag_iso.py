"""python diag_iso.py RUN MODE OUT.json: diag.py with the model rebuilt with isolated_groups=MODE at evaluation only."""
import json, sys
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.eval.evaluate import evaluate
from cocu.models.checkpoint import load_model
from cocu.models.groupvit import GroupViT
run, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
m = load_model(f"{run}/checkpoints/last.pt")
model = GroupViT(m.config.replace(isolated_groups=mode))
model.load_state_dict(m.state_dict())
model.eval()
d = synthetic_diagnostics(model, get_benchmark("ade_like", "final/world"), "final/world/world.json")
d["voc_miou"] = evaluate(model, get_benchmark("voc_like", "final/world"), show_progress=False)["mIoU"]
json.dump(d, open(out, "w"), indent=1)
print(out, {k: round(v, 3) for k, v in d.items() if isinstance(v, float)})
