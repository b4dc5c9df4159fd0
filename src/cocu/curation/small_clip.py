"""The small CLIP that stands in for web-scale CLIP on the synthetic world.

``train_clip`` fits a tiny open_clip ``CLIP`` (64 px ViT, patch 8; 128-wide text transformer
with open_clip's BPE tokenizer, context 77) with the standard contrastive loss on the synthetic
world's *complete* captions (``meta["caption_complete"]``) and saves it as a ``.pt`` file
holding ``{"config", "state_dict"}``; ``read_small_clip`` loads one back.
:func:`cocu.curation.encoder.load_clip` wraps it (or any open_clip model) for curation.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cocu.curation.encoder import encode_text_trimmed
from cocu.data.templates import CURATION_PROMPT
from cocu.errors import CocuError
from cocu.utils.io import atomic_path
from cocu.utils.progress import progress

log = logging.getLogger(__name__)


@dataclass
class SmallClipConfig:
    """Architecture of the small CLIP (defaults train in ~1–2 min on 2 CPU cores)."""

    embed_dim: int = 128
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 2
    vision_head_width: int = 32
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    context_length: int = 77
    vocab_size: int = 49408
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.25, 0.25, 0.25])


def build_small_clip(cfg: SmallClipConfig):
    """An open_clip ``CLIP`` with the given tiny configuration."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    vision = CLIPVisionCfg(layers=cfg.vision_layers, width=cfg.vision_width,
                           head_width=cfg.vision_head_width, patch_size=cfg.patch_size,
                           image_size=cfg.image_size)
    text = CLIPTextCfg(context_length=cfg.context_length, vocab_size=cfg.vocab_size,
                       width=cfg.text_width, heads=cfg.text_heads, layers=cfg.text_layers)
    return CLIP(cfg.embed_dim, vision, text)


def _transform(cfg: SmallClipConfig):
    from open_clip import image_transform

    return image_transform(cfg.image_size, is_train=False, mean=tuple(cfg.mean), std=tuple(cfg.std))


def save_small_clip(path: str | os.PathLike, model, cfg: SmallClipConfig, extra: dict | None = None) -> None:
    with atomic_path(path) as tmp:
        torch.save({"config": asdict(cfg), "state_dict": model.state_dict(), "cocu_small_clip": 1,
                    **(extra or {})}, tmp)


def read_small_clip(path: Path):
    """``(model, preprocess)`` from a small-CLIP checkpoint file; CocuError when it is not one."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise CocuError(f"cannot read CLIP checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise CocuError(f"{path} is not a cocu small-CLIP checkpoint (no config/state_dict)")
    cfg = SmallClipConfig(**ckpt["config"])
    model = build_small_clip(cfg)
    model.load_state_dict(ckpt["state_dict"])
    return model, _transform(cfg)


def load_complete_caption_pairs(shards, cfg: SmallClipConfig, limit: int | None = None,
                                stats=None) -> tuple[torch.Tensor, list[str], list[dict]]:
    """Images [n, 3, H, W] (preprocessed), complete captions and metas from shards."""
    from cocu.data.shards import iter_samples

    tf = _transform(cfg)
    images, captions, metas = [], [], []
    for s in iter_samples(shards, stats=stats):
        images.append(tf(s.image))
        captions.append(s.meta.get("caption_complete") or s.caption)
        metas.append(s.meta)
        if limit and len(images) >= limit:
            break
    if not images:
        raise CocuError("no samples to train the CLIP on")
    return torch.stack(images), captions, metas


@dataclass
class ClipTrainResult:
    steps: int
    seconds: float
    loss: float
    eval: dict


def train_clip(shards, out: str | os.PathLike, *, steps: int = 600, batch_size: int = 128,
               lr: float = 2e-3, val_fraction: float = 0.05, seed: int = 0,
               cfg: SmallClipConfig | None = None, limit: int | None = None) -> ClipTrainResult:
    """Train the small CLIP on complete captions and save it to ``out``; evaluates on held-out
    samples (image→text recall@1 among the held-out captions, and class recognition)."""
    import open_clip
    from open_clip.loss import ClipLoss

    cfg = cfg or SmallClipConfig()
    torch.manual_seed(seed)
    images, captions, metas = load_complete_caption_pairs(shards, cfg, limit)
    tok = open_clip.get_tokenizer("RN50")
    ids = tok(captions)
    n = len(captions)
    n_val = max(1, int(n * val_fraction)) if n > 20 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    model = build_small_clip(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    loss_fn = ClipLoss()
    g = torch.Generator().manual_seed(seed + 1)
    t0 = time.perf_counter()
    model.train()
    loss_val = float("nan")
    for step in progress(range(steps), desc="train-clip", unit="step"):
        b = tr_idx[torch.randint(len(tr_idx), (min(batch_size, len(tr_idx)),), generator=g)]
        img_f = F.normalize(model.encode_image(images[b]), dim=-1)
        txt_f = F.normalize(encode_text_trimmed(model, ids[b]), dim=-1)
        loss = loss_fn(img_f, txt_f, model.logit_scale.exp())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        loss_val = float(loss.detach())
        if step % 100 == 0:
            log.info("train-clip step %d loss %.3f", step, loss_val)
    seconds = time.perf_counter() - t0
    model.eval()
    ev = evaluate_clip(model, images[val_idx], [captions[i] for i in val_idx],
                       [metas[i] for i in val_idx], tok) if n_val else {}
    save_small_clip(out, model, cfg, {"train": {"steps": steps, "batch_size": batch_size, "lr": lr,
                                                "samples": n, "seconds": seconds, "eval": ev}})
    return ClipTrainResult(steps, seconds, loss_val, ev)


@torch.no_grad()
def evaluate_clip(model, images: torch.Tensor, captions: list[str], metas: list[dict], tok) -> dict:
    """Held-out image→text recall@1/@5 and class recognition (mean per-image recall of the
    true classes among the top-|classes| of the prompts "a photo of a {class}")."""
    v = F.normalize(model.encode_image(images), dim=-1)
    t = F.normalize(encode_text_trimmed(model, tok(captions)), dim=-1)
    sim = v @ t.T
    target = torch.arange(len(captions))
    # identical captions count as correct
    same = torch.tensor([[a == b for b in captions] for a in captions])
    top = sim.topk(min(5, len(captions)), dim=1).indices
    r1 = same[target, top[:, 0]].float().mean().item()
    r5 = same[target[:, None], top].any(dim=1).float().mean().item()
    classes = sorted({c for m in metas for c in m.get("classes", [])})
    out = {"i2t_recall@1": r1, "i2t_recall@5": r5, "n": len(captions)}
    if classes:
        tc = F.normalize(encode_text_trimmed(model, tok([CURATION_PROMPT.format(c) for c in classes])), dim=-1)
        cs = v @ tc.T
        rec = []
        for i, m in enumerate(metas):
            truth = set(m.get("classes", []))
            if truth:
                pred = {classes[j] for j in cs[i].topk(len(truth)).indices.tolist()}
                rec.append(len(pred & truth) / len(truth))
        out["class_recall@|true|"] = float(np.mean(rec)) if rec else None
    return out
