"""python curq.py: precision / recall of the top-3 curated concepts of each curation in final/curation."""
import json
from cocu.curation.report import report_from_sidecars
from cocu.data.vocab import Vocabulary
rows = {}
for c in ("language-naive-n8", "vision-naive-n8", "vision-t2v-n8", "vision-t2v-n16", "vision-t2v-n32"):
    r = report_from_sidecars(f"final/curation/{c}", "final/world/train", Vocabulary.from_file("final/world/vocab.txt"), k=3)
    rows[c] = {k: v for k, v in r.items() if isinstance(v, (int, float))}
    print(c, rows[c], flush=True)
json.dump(rows, open("evals/curation_quality.json", "w"), indent=1)
