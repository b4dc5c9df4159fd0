"""python diagscale.py RUN OUT.json SCALE: diagnostics with the model fed SCALE x the image size
(pos embeddings interpolated), masks resized back to the label size."""
import json, sys
import cocu.eval.diagnostics as D
from cocu.eval.datasets import get_benchmark
from cocu.eval.evaluate import evaluate
from cocu.eval.protocol import get_protocol
from cocu.models.checkpoint import load_model
run, out, s = sys.argv[1], sys.argv[2], float(sys.argv[3])
orig = D.resize_uint8
D.resize_uint8 = lambda im, size: orig(im, (int(size[0] * s), int(size[1] * s)))
model = load_model(f"{run}/checkpoints/last.pt")
d = D.synthetic_diagnostics(model, get_benchmark("ade_like", "final/world"), "final/world/world.json")
side = int(64 * s)
voc = evaluate(model, get_benchmark("voc_like", "final/world"), show_progress=False,
               protocol=get_protocol("synthetic_voc").with_(img_scale=(side, side)))
d["voc_miou"] = voc["mIoU"]
json.dump(d, open(out, "w"), indent=1)
print(out, {k: round(v, 3) for k, v in d.items() if isinstance(v, float)})
