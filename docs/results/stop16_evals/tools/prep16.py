"""python prep16.py (in the folder where prep.py wrote final/): curations and grounded run configs of the ablation
(#1-#3) and the N sweep (16, 32), as `cocu experiment ablation/nsweep --objective grounded` makes them."""
import json
from cocu.experiments.pipeline import SyntheticPipeline, get_budget
from cocu.experiments.regimes import REGIMES
p = SyntheticPipeline("final", get_budget("demo"))
p.world(); p.clip(); p.embeddings()
todo = {"a1": REGIMES["#1"], "a2": REGIMES["#2"], "a3": REGIMES["#3"],
        "n16": REGIMES["cocu"].with_neighbours(16), "n32": REGIMES["cocu"].with_neighbours(32)}
for name, regime in todo.items():  # run_var.sh sets out, seed and the model overrides of each run
    json.dump(p.train_config(regime, 0).to_dict(), open(f"base-{name}.json", "w"), indent=1)
print(p.timings)
