"""python prep.py (in a scratch folder): prepare the demo-budget world, curation, and the three grounded run configs (as the pipeline makes them)."""
import json, sys
from cocu.experiments.pipeline import SyntheticPipeline, get_budget
from cocu.experiments.regimes import REGIMES
from cocu.train.config import make_config
p = SyntheticPipeline("final", get_budget("demo"))
p.world(); p.clip(); p.embeddings()
b = p.budget
for name in ("baseline", "cocu", "oracle"):
    r = REGIMES[name]
    cur = str(p.curation(r)) if r.curated else None
    cfg = make_config("tiny", shards=p.shards, out="RUN", prompts=r.prompts, curation=cur,
        sampling=r.sampling, vocab=str(p.vocab_path), multi_label=b.multi_label, batch_size=b.batch_size,
        samples=b.train_samples, epoch_samples=b.num_train,
        warmup_epochs=b.warmup_fraction * b.train_samples / b.num_train, seed=0, workers=b.workers,
        objective="grounded", device=p.device, amp=p.amp, resume="auto")
    json.dump(cfg.to_dict(), open(f"base-{name}.json", "w"), indent=1)
print(p.timings)
