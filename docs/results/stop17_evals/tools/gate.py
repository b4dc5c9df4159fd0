"""python gate.py RUN...: ADE-like diagnostics with the top-5 gate from the image embedding (official)
vs from the groups (per class, the max over groups of the group-class softmax), vs no gate."""
import sys, json, numpy as np, torch, torch.nn.functional as F
import cocu.eval.diagnostics as D
import cocu.eval.segmenter as S
from cocu.eval.datasets import get_benchmark
from cocu.eval.evaluate import evaluate
from cocu.models.checkpoint import load_model
orig = S.window_logits
def group_gate(image_x, image_feat, maps, text, logit_scale, *, bg_thresh, topk=5):
    feat = F.normalize(image_feat.float(), dim=-1)
    scale = torch.clamp(logit_scale.detach().float().exp(), max=100)
    pre = F.softmax((feat @ text.to(feat).T) * scale, dim=-1)  # [B,G,N]
    # a pseudo image embedding whose softmax ranks classes as the groups' max does
    score = pre.amax(1)  # [B, N]
    fake_x = torch.log(score.clamp_min(1e-12)) / scale  # ranks = score ranks after softmax
    return orig_core(fake_x, image_feat, maps, text, logit_scale, bg_thresh=bg_thresh, topk=topk)
def orig_core(fake_x, image_feat, maps, text, logit_scale, *, bg_thresh, topk):
    # same as window_logits but the gate uses fake_x directly (not normalised)
    feat = F.normalize(image_feat.float(), dim=-1); text = text.to(feat)
    scale = torch.clamp(logit_scale.detach().float().exp(), max=100); n = text.shape[0]
    affinity = (feat @ text.T) * scale; pre = F.softmax(affinity, dim=-1)
    top = fake_x.topk(k=min(topk, n), dim=-1).indices
    keep = torch.zeros_like(fake_x, dtype=torch.bool).scatter_(1, top, True)
    affinity = F.softmax(affinity.masked_fill(~keep[:, None, :], float("-inf")), dim=-1) * pre
    b, g, h, w = maps.shape
    group = maps.argmax(dim=1).view(b, h * w, 1).expand(-1, -1, n)
    fg = affinity.gather(1, group).transpose(1, 2).reshape(b, n, h, w)
    if bg_thresh is None: return fg
    thresh = torch.clamp(affinity.amax(dim=(1, 2)), max=bg_thresh)
    bg = (fg.amax(dim=1) < thresh[:, None, None]).to(fg.dtype)
    return torch.cat([bg[:, None], fg], dim=1)
ade = get_benchmark("ade_like", "final/world"); voc = get_benchmark("voc_like", "final/world")
for run in sys.argv[1:]:
    m = load_model(f"{run}/checkpoints/last.pt")
    res = {}
    for name, fn in (("image", orig), ("groups", group_gate), ("none", lambda *a, topk=5, **k: orig(*a, topk=99, **k))):
        D.window_logits = fn; S.window_logits = fn
        with torch.no_grad():
            d = D.synthetic_diagnostics(m, ade, "final/world/world.json")
            v = evaluate(m, voc, show_progress=False)["mIoU"]
        res[name] = {x: round(d[x], 2) for x in ("miou", "object_miou", "stuff_miou")} | {"voc": round(v, 2)}
    print(run, json.dumps(res), flush=True)
