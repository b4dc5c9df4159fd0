"""python hub.py RUN...: which classes the groups are named (histogram) vs their true majority class, 96 ADE-like images."""
import sys, collections, torch, torch.nn.functional as F, numpy as np
from cocu.eval.datasets import get_benchmark
from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter, group_maps
from cocu.eval.transforms import normalize, resize_uint8
from cocu.eval.metrics import prepare_label
from cocu.models.checkpoint import load_model
b = get_benchmark("ade_like", "final/world"); pr = get_protocol("synthetic_ade")
S = b.samples[:96]
ims = [b.load_image(s) for s in S]
labels = [prepare_label(b.load_label(s), reduce_zero_label=b.reduce_zero_label).numpy() for s in S]
x = torch.stack([normalize(resize_uint8(im, ims[0].shape[:2]), pr.mean, pr.std) for im in ims])
for run in sys.argv[1:]:
    m = load_model(f"{run}/checkpoints/last.pt").eval()
    seg = ZeroShotSegmenter(m, b.prompt_classes, pr.templates, None, protocol=pr, device="cpu")
    with torch.no_grad():
        out = m.encode_image(x, return_feat=True, return_attn=True)
        maps = group_maps(out.attn_soft, out.grid, ims[0].shape[:2])
    feat = F.normalize(out.image_feat.float(), dim=-1)
    sim = feat @ seg.text.T                        # [B, G, C]
    named = sim.argmax(-1).numpy(); groups = maps.argmax(1).numpy()
    hist = collections.Counter(); right = tot = 0; rank = []
    for i in range(len(S)):
        for g in np.unique(groups[i]):
            lab = labels[i][groups[i] == g]; lab = lab[lab != 255]
            if not len(lab): continue
            maj = np.bincount(lab).argmax()
            hist[b.classes[named[i, g]]] += 1
            r = (sim[i, g] > sim[i, g, maj]).sum().item(); rank.append(r)
    gsim = F.cosine_similarity(feat[:, :, None], feat[:, None, :], dim=-1)
    off = gsim[:, ~torch.eye(feat.shape[1], dtype=bool)].mean().item()
    print(run, "named:", hist.most_common(5), f"true class rank mean {np.mean(rank):.1f}, median {np.median(rank)}; group-group cos {off:.3f}; text-text cos {(seg.text @ seg.text.T)[~torch.eye(len(seg.text), dtype=bool)].mean():.3f}")
