"""python conf.py RUN: per-class TP/FP/FN of zero-shot preds and of group majority on ADE-like."""
import sys, json, numpy as np, torch, torch.nn.functional as F
from cocu.eval.datasets import get_benchmark
from cocu.eval.diagnostics import class_kinds, majority_labels
from cocu.eval.segmenter import ZeroShotSegmenter, group_maps, window_logits
from cocu.eval.protocol import get_protocol
from cocu.eval.transforms import normalize, resize_uint8
from cocu.eval.metrics import prepare_label
from cocu.models.checkpoint import load_model
m = load_model(f"{sys.argv[1]}/checkpoints/last.pt").eval()
b = get_benchmark("ade_like", "final/world"); cls = list(b.classes); n = len(cls)
kinds = class_kinds("final/world/world.json")
p = get_protocol("synthetic_ade")
seg = ZeroShotSegmenter(m, b.prompt_classes, p.templates, None, protocol=p, device="cpu")
conf = np.zeros((n, n), np.int64); gconf = np.zeros((n, n), np.int64)
own = {c: [0, 0] for c in range(n)}  # object instances(images) where some group's majority is c
with torch.no_grad():
  for s in b.samples:
    im = b.load_image(s); lab = prepare_label(b.load_label(s), reduce_zero_label=b.reduce_zero_label).numpy()
    x = normalize(resize_uint8(im, im.shape[:2]), p.mean, p.std)[None]
    out = m.encode_image(x, return_feat=True, return_attn=True)
    maps = group_maps(out.attn_soft, getattr(out, "grid", None), im.shape[:2])
    lg = window_logits(out.image_x, out.image_feat, maps, seg.text, m.logit_scale, bg_thresh=None, topk=seg.topk, gate="groups")
    pred = lg.argmax(1)[0].numpy(); g = maps.argmax(1)[0].numpy()
    v = lab < n
    np.add.at(conf, (lab[v], pred[v]), 1)
    maj = majority_labels(g, lab, maps.shape[1], n)
    np.add.at(gconf, (lab[v], maj[g][v]), 1)
    for c in np.unique(lab[v]):
      own[c][1] += 1; own[c][0] += int(c in maj)
for c in range(n):
  tp = conf[c, c]; fn = conf[c].sum() - tp; fp = conf[:, c].sum() - tp
  gtp = gconf[c, c]; gfp = gconf[:, c].sum() - gtp; gfn = gconf[c].sum() - gtp
  print(f"{cls[c]:12s} {kinds.get(cls[c]):6s} area {conf[c].sum():6d} zs IoU {100*tp/max(tp+fn+fp,1):5.1f} pred {conf[:,c].sum():6d} | grp IoU {100*gtp/max(gtp+gfn+gfp,1):5.1f} own-group {own[c][0]}/{own[c][1]} | top confusions {[cls[j] for j in np.argsort(-conf[c])[:3]]}")
