"""Segment one image into label words: ``segment_image`` (arrays) and the PNG writers behind
``cocu segment``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cocu.errors import CocuError
from cocu.utils.io import write_json
from cocu.viz.images import ImageLike, load_image
from cocu.viz.masks import save_mask_png, save_overlay

BACKGROUND = "background"


@dataclass
class SegmentationResult:
    """mask int64 [H, W]: 0 = background (only with a threshold), k ≥ 1 = ``labels[k]``;
    labels = ``["background", *your labels]``; scores[label] = cosine similarity between the
    whole image's embedding and the label's text embedding (how present the model finds it)."""

    mask: np.ndarray
    labels: list[str]
    scores: dict[str, float]

    def fractions(self) -> dict[str, float]:
        """Share of the image's pixels per label (background included)."""
        counts = np.bincount(self.mask.reshape(-1), minlength=len(self.labels))
        return {name: float(c) / self.mask.size for name, c in zip(self.labels, counts)}

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "scores": self.scores, "fractions": self.fractions(),
                "mask_ids": {name: k for k, name in enumerate(self.labels)}}


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """``"cat, sofa, floor"`` (or a list) → ``["cat", "sofa", "floor"]``; empty or repeated
    labels are an error."""
    items = text.split(",") if isinstance(text, str) else list(text)
    labels = [str(s).strip() for s in items if str(s).strip()]
    if not labels:
        raise CocuError(f"empty label list: {text!r} (give words like \"cat, sofa, floor\")")
    seen: set[str] = set()
    dup = [n for n in labels if n.lower() in seen or seen.add(n.lower())]
    if dup:
        raise CocuError(f"label {dup[0]!r} is given twice")
    if BACKGROUND in (n.lower() for n in labels):
        raise CocuError("'background' is not a label word: use --background-threshold for it")
    return labels


def default_protocol(model: torch.nn.Module) -> Any:
    """GroupViT's test-time geometry scaled to the model: a model trained at ≥ 224 px gets the
    VOC protocol (short side 448, 448 windows every 224); smaller models (the CPU presets) get
    short side = their training size, windows of that size every half size."""
    from cocu.eval.protocol import Protocol

    cfg = getattr(model, "config", None)
    size = int(getattr(cfg, "image_size", 224) or 224)
    short = 448 if size >= 224 else size
    return Protocol("segment", img_scale=(max(2048, 4 * short), short), mode="slide",
                    crop=short, stride=max(1, short // 2),
                    source="cocu segment: short side and window from the model's input size")


@torch.no_grad()
def segment_image(model: torch.nn.Module, image: ImageLike, labels: str | Sequence[str],
                  bg_thresh: float | None = None, *, protocol: Any | None = None,
                  templates: Sequence[str] | None = None) -> SegmentationResult:
    """Zero-shot segmentation of one image (path, PIL image or uint8 [H, W, 3], any size) into
    ``labels`` with ``cocu.eval.ZeroShotSegmenter``.

    ``bg_thresh`` (0..1): pixels whose best class score is under it become background (id 0).
    ``protocol``: an ``eval.protocol.Protocol`` (default ``default_protocol(model)``).
    """
    from cocu.eval.segmenter import ZeroShotSegmenter

    names = parse_labels(labels)
    if bg_thresh is not None and not 0.0 <= float(bg_thresh) <= 1.0:
        raise CocuError(f"background threshold must be in [0, 1], got {bg_thresh}")
    img = load_image(image)
    protocol = protocol or default_protocol(model)
    seg = ZeroShotSegmenter(model, names, templates or protocol.templates, bg_thresh,
                            protocol=protocol)
    pred = seg.predict(img).numpy().astype(np.int64)
    mask = pred if bg_thresh is not None else pred + 1
    x = seg.preprocess(img)[None]
    image_x = seg.model.encode_image(x).image_x.float()
    cos = (F.normalize(image_x, dim=-1) @ seg.text.T)[0].cpu().tolist()
    return SegmentationResult(mask, [BACKGROUND, *names], dict(zip(names, map(float, cos))))


def write_segmentation(result: SegmentationResult, image: ImageLike, out_dir: str | os.PathLike,
                       stem: str = "image", alpha: float = 0.5) -> dict[str, Path]:
    """``OUT/<stem>_mask.png`` (palette PNG of the ids), ``OUT/<stem>_overlay.png`` (with a
    legend of the labels present) and ``OUT/<stem>_segment.json``; returns the paths."""
    out = Path(out_dir)
    paths = {"mask": out / f"{stem}_mask.png", "overlay": out / f"{stem}_overlay.png",
             "json": out / f"{stem}_segment.json"}
    save_mask_png(result.mask, paths["mask"])
    save_overlay(load_image(image), result.mask, paths["overlay"], alpha=alpha, labels=result.labels)
    write_json(paths["json"], result.to_dict())
    return paths
