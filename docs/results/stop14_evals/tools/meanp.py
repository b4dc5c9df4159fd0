"""python meanp.py RUN...: present-class recall@|present| from the pooled embedding vs from the mean of the projected groups."""
import sys, torch, torch.nn.functional as F, numpy as np
from cocu.eval.datasets import get_benchmark
from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter
from cocu.eval.transforms import normalize, resize_uint8
from cocu.eval.metrics import prepare_label
from cocu.models.checkpoint import load_model
b = get_benchmark("ade_like", "final/world"); pr = get_protocol("synthetic_ade")
S = b.samples[:96]
ims = [b.load_image(s) for s in S]
labels = [prepare_label(b.load_label(s), reduce_zero_label=b.reduce_zero_label).numpy() for s in S]
x = torch.stack([normalize(resize_uint8(im, ims[0].shape[:2]), pr.mean, pr.std) for im in ims])
def recall(emb, text):
    s = (F.normalize(emb, dim=-1) @ text.T).numpy(); hits = []
    for i, lab in enumerate(labels):
        pres = [c for c in np.unique(lab) if c != 255]; top = np.argsort(-s[i])[:len(pres)]
        hits.append(len(set(top) & set(pres)) / len(pres))
    return np.mean(hits)
for run in sys.argv[1:]:
    m = load_model(f"{run}/checkpoints/last.pt").eval()
    seg = ZeroShotSegmenter(m, b.prompt_classes, pr.templates, None, protocol=pr, device="cpu")
    with torch.no_grad():
        out = m.encode_image(x, return_feat=True, return_attn=True)
    gf = out.image_feat.float()
    print(run, f"pooled {recall(out.image_x.float(), seg.text):.3f}  mean of groups {recall(F.normalize(gf, dim=-1).mean(1), seg.text):.3f}  "
          f"best single group {np.mean([recall(gf[:, g], seg.text) for g in range(gf.shape[1])]):.3f}  cos(pooled, mean groups) {F.cosine_similarity(out.image_x.float(), gf.mean(1)).mean():.3f}")
