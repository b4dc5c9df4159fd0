"""python ana21.py RUN OUT.json: where the VOC-like mIoU is lost (stop 21).

For RUN's last checkpoint, on the VOC-like split (whole image, groups gate):
- the official rule (background where the best class score < min(0.95, image max)): per-class IoU,
  how often the threshold is clamped to the image max (then only the top group is foreground),
  foreground groups per image vs objects per image;
- the same with thresholds 0.5 / 0.8 / 0.9 (diagnostic only: the protocol's threshold is 0.95);
- stuff words as background: segment into objects + stuff (the ADE-like class list, no threshold)
  and map every stuff label to background.
"""
import json, sys
import numpy as np, torch, torch.nn.functional as F
from cocu.eval.datasets import get_benchmark
from cocu.eval.metrics import IoUAccumulator
from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter, group_maps, window_logits
from cocu.eval.transforms import normalize, resize_uint8
from cocu.models.checkpoint import load_model

run, out_path = sys.argv[1], sys.argv[2]
model = load_model(f"{run}/checkpoints/last.pt").eval()
voc = get_benchmark("voc_like", "final/world")
ade = get_benchmark("ade_like", "final/world")
objects = list(voc.prompt_classes)
allc = list(ade.prompt_classes)
p = get_protocol("synthetic_voc")
seg_obj = ZeroShotSegmenter(model, objects, p.templates, None, protocol=p, device="cpu")
seg_all = ZeroShotSegmenter(model, allc, p.templates, None, protocol=p, device="cpu")
to_voc = torch.tensor([objects.index(c) + 1 if c in objects else 0 for c in allc])
threshs = (0.95, 0.9, 0.8, 0.5)
scales = (30.0, 100.0)
accs = {t: IoUAccumulator(voc.num_classes, voc.ignore_index, False, class_names=voc.classes) for t in threshs}
accs_scale = {c: IoUAccumulator(voc.num_classes, voc.ignore_index, False, class_names=voc.classes) for c in scales}
acc_stuff = IoUAccumulator(voc.num_classes, voc.ignore_index, False, class_names=voc.classes)
clamped, fg_groups, n_objects, max_pre = [], [], [], []
with torch.no_grad():
    for s in voc.samples:
        im = voc.load_image(s)
        lab = voc.load_label(s)
        x = normalize(resize_uint8(im, im.shape[:2]), p.mean, p.std)[None]
        o = model.encode_image(x, return_feat=True, return_attn=True)
        maps = group_maps(o.attn_soft, getattr(o, "grid", None), im.shape[:2])
        for t in threshs:
            lg = window_logits(o.image_x, o.image_feat, maps, seg_obj.text, model.logit_scale,
                               bg_thresh=t, topk=seg_obj.topk, gate="groups")
            pred = F.softmax(lg, dim=1).argmax(1)[0]
            accs[t].update(pred.numpy(), lab)
            if t == 0.95:
                fg = (pred > 0)
                fg_groups.append(len(torch.unique(maps.argmax(1)[0][fg])))
        for c in scales:
            lg = window_logits(o.image_x, o.image_feat, maps, seg_obj.text, torch.tensor(c).log(),
                               bg_thresh=0.95, topk=seg_obj.topk, gate="groups")
            accs_scale[c].update(F.softmax(lg, dim=1).argmax(1)[0].numpy(), lab)
        feat = F.normalize(o.image_feat.float(), dim=-1)
        scale = torch.clamp(model.logit_scale.exp(), max=100)
        pre = F.softmax(feat @ seg_obj.text.T * scale, dim=-1)[0]  # [G, N]
        max_pre.append(float(pre.amax()))
        clamped.append(float(pre.amax()) < 0.95)
        labv = np.asarray(lab)
        n_objects.append(len([c for c in np.unique(labv) if 0 < c < 255]))
        lg = window_logits(o.image_x, o.image_feat, maps, seg_all.text, model.logit_scale,
                           bg_thresh=None, topk=seg_all.topk, gate="groups")
        pred = to_voc[F.softmax(lg, dim=1).argmax(1)[0]]
        acc_stuff.update(pred.numpy(), lab)


def summary(acc):
    r = acc.compute()
    return {"miou": float(r["mIoU"]),
            "per_class": {c: round(100 * v, 2) for c, v in zip(voc.classes, r["per_class"]["IoU"])}}


res = {f"thresh_{t}": summary(a) for t, a in accs.items()}
res["stuff_as_background"] = summary(acc_stuff)
for c, a in accs_scale.items():
    res[f"scale_{c:g}"] = summary(a)
res["clamped_fraction"] = float(np.mean(clamped))
res["max_pre_median"] = float(np.median(max_pre))
res["fg_groups_mean"] = float(np.mean(fg_groups))
res["objects_mean"] = float(np.mean(n_objects))
res["logit_scale"] = float(model.logit_scale.detach().exp())
json.dump(res, open(out_path, "w"), indent=1)
print(out_path, {k: (v["miou"] if isinstance(v, dict) else round(v, 3)) for k, v in res.items()})
