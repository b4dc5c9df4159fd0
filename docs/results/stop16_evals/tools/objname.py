"""python objname.py OUT.json RUN...: naming accuracy split by object / all groups for RUNs' last checkpoints."""
import json, sys, os
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.models.checkpoint import load_model
bench = get_benchmark("ade_like", "final/world")
out = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
for run in sys.argv[2:]:
    d = synthetic_diagnostics(load_model(f"{run}/checkpoints/last.pt"), bench, "final/world/world.json")
    out[os.path.basename(run)] = {k: d[k] for k in ("naming_accuracy", "object_naming_accuracy", "grouping_miou", "object_grouping_miou", "miou", "object_miou")}
    print(run, out[os.path.basename(run)], flush=True)
    json.dump(out, open(sys.argv[1], "w"), indent=1)
