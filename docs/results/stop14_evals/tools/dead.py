"""python dead.py RUN...: first-stage groups winning per image and normalised soft entropy (96 ADE-like images)."""
import sys, math, torch
from cocu.eval.datasets import get_benchmark
from cocu.eval.protocol import get_protocol
from cocu.eval.transforms import normalize, resize_uint8
from cocu.models.checkpoint import load_model
b = get_benchmark("ade_like", "final/world"); pr = get_protocol("synthetic_ade")
ims = [b.load_image(s) for s in b.samples[:96]]
x = torch.stack([normalize(resize_uint8(im, ims[0].shape[:2]), pr.mean, pr.std) for im in ims])
for run in sys.argv[1:]:
    m = load_model(f"{run}/checkpoints/last.pt").eval()
    with torch.no_grad():
        a = m.encode_image(x, return_attn=True).attn_soft[0].float()  # [B, G0, N]
    used = torch.tensor([len(set(r.tolist())) for r in a.argmax(1)]).float().mean().item()
    ent = (-(a * a.clamp(min=1e-12).log()).sum(1).mean() / math.log(a.shape[1])).item()
    print(f"{run}: first-stage groups used {used:.2f} / {a.shape[1]}, entropy {ent:.3f}")
