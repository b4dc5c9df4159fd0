"""python curve.py RUN OUT.json [EVERY]: ADE-like diagnostics of RUN's snapshots (every EVERY-th), a learning curve."""
import json, sys
from pathlib import Path
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import synthetic_diagnostics
from cocu.models.checkpoint import load_model
run, out = Path(sys.argv[1]), sys.argv[2]
every = int(sys.argv[3]) if len(sys.argv) > 3 else 1
bench = get_benchmark("ade_like", "final/world")
snaps = sorted((run / "checkpoints" / "snapshots").glob("step_*.safetensors"))[every - 1::every]
curve = {}
for snap in snaps:
    step = int(snap.stem.split("_")[1])
    d = synthetic_diagnostics(load_model(snap), bench, "final/world/world.json")
    curve[step] = {k: v for k, v in d.items() if isinstance(v, float)}
    print(step, {k: round(v, 3) for k, v in curve[step].items()}, flush=True)
json.dump(curve, open(out, "w"), indent=1)
