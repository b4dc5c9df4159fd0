"""Zero-shot segmentation speed on VOC-sized inputs: batched sliding windows vs a naive loop.

    python benchmarks/eval_speed.py [--model groupvit_gcc_yfcc_30e|groupvit_tiny] [--images 4]
                                    [--device auto] [--threads N]

Images are random 500x375 RGB (VOC's typical size), evaluated with the VOC protocol (short side
448 → 448x597, windows 448 / stride 224, 20 classes + background at 0.95). "batched" is
`ZeroShotSegmenter` (all windows of an image in one forward pass, gather instead of one-hot
matmul). "naive" follows the official `GroupViTSegInference` inside mmseg `slide_inference`:
one window per forward, the encoder run twice per window (`get_attn_maps` and `encode_image`),
one-hot matmul per pixel, `F.pad` accumulation. Both give the same label maps (checked).
Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter
from cocu.utils.device import resolve_device

VOC_FG = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
          "table", "dog", "horse", "motorbike", "person", "plant", "sheep", "sofa", "train", "monitor"]


@torch.no_grad()
def naive_window(model, img, text, bg_thresh):
    """Official encode_decode for one window [1, 3, h, w] → [1, 1 + N, h, w]."""
    h, w = img.shape[-2:]
    attn = model.encode_image(img, return_attn=True)  # get_attn_maps: its own encoder pass
    prev = None
    for soft in attn.attn_soft:
        a = soft.transpose(1, 2)
        prev = a if prev is None else prev @ a
    gh, gw = attn.grid
    m = prev.reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
    m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
    out = model.encode_image(img, return_feat=True)  # encode_image: a second encoder pass
    feat = F.normalize(out.image_feat[0], dim=-1)
    avg = F.normalize(out.image_x, dim=-1)
    onehot = F.one_hot(m.argmax(-1), num_classes=m.shape[-1]).to(m.dtype)
    scale = torch.clamp(model.logit_scale.exp(), max=100)
    aff = feat @ text.T * scale
    pre = F.softmax(aff, -1)
    avg_aff = F.softmax(avg @ text.T * scale, -1)
    mask = torch.zeros_like(avg_aff).scatter_(1, avg_aff.topk(5, -1).indices, 1.0)
    aff = F.softmax(aff.masked_fill(~mask.bool(), float("-inf")), -1) * pre
    logits = torch.zeros(1 + text.shape[0], h, w, device=img.device)
    fg = onehot @ aff
    logits[1:] = fg.permute(2, 0, 1)
    logits[0, fg.max(-1).values < min(bg_thresh, aff.max().item())] = 1
    return logits[None]


@torch.no_grad()
def naive_predict(seg, image, crop=448, stride=224):
    x = seg.preprocess(image)[None]
    _, _, hi, wi = x.shape
    preds = x.new_zeros((1, seg.num_outputs, hi, wi))
    count = x.new_zeros((1, 1, hi, wi))
    for yi in range(max(hi - crop + stride - 1, 0) // stride + 1):
        for xi in range(max(wi - crop + stride - 1, 0) // stride + 1):
            y1, x1 = yi * stride, xi * stride
            y2, x2 = min(y1 + crop, hi), min(x1 + crop, wi)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            lg = naive_window(seg.model, x[:, :, y1:y2, x1:x2], seg.text, seg.bg_thresh)
            preds += F.pad(lg, (x1, wi - x2, y1, hi - y2))
            count[:, :, y1:y2, x1:x2] += 1
    preds = F.interpolate(preds / count, size=image.shape[:2], mode="bilinear", align_corners=False)
    return F.softmax(preds, 1).argmax(1)[0].cpu()


def _time(fn, images, device):
    fn(images[0])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    outs = [fn(im) for im in images]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - start), outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="groupvit_gcc_yfcc_30e")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from cocu.models import create_model

    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = create_model(args.model).eval().to(device)
    protocol = get_protocol("voc")
    seg = ZeroShotSegmenter(model, VOC_FG, protocol.templates, protocol.bg_thresh,
                            protocol=protocol, window_batch=None)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (375, 500, 3), dtype=np.uint8) for _ in range(args.images + 1)]
    fast, a = _time(seg.predict, images, device)
    slow, b = _time(lambda im: naive_predict(seg, im), images, device)
    agree = float(np.mean([(x == y).float().mean().item() for x, y in zip(a, b)]))
    print(f"model {args.model} on {device} ({torch.get_num_threads()} threads), "
          f"{args.images} images 500x375 → 448x597, 2 windows 448/224 each")
    print(f"batched : {fast:8.3f} img/s")
    print(f"naive   : {slow:8.3f} img/s")
    print(f"speed-up: {fast / slow:8.2f}x   (label maps agree on {100 * agree:.3f}% of pixels)")


if __name__ == "__main__":
    main()
