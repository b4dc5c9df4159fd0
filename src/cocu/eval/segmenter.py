"""Zero-shot semantic segmentation with GroupViT, as the official ``GroupViTSegInference`` does.

Official steps (NVlabs/GroupViT ``segmentation/evaluation/group_vit_seg.py``, run inside mmseg
0.18's ``EncoderDecoder.slide_inference``), reproduced for a whole batch of windows at once:

1. Class embeddings: every class name in every template, text-encoded and projected, averaged
   over templates (un-normalised, like ``build_text_embedding``), then L2-normalised.
2. Group → pixel: the soft assignment matrices of the grouping stages multiplied
   (``[L0,G0] @ [G0,G1] …``), reshaped to the patch grid, bilinearly upsampled to the window
   (align_corners=False), one-hot argmax group per pixel.
3. Group → class: cosine(group, class) × clamp(exp(logit_scale), max=100), softmax over classes
   (``pre``); the image embedding's softmax picks the top-k (5) classes; the other classes are
   masked to −inf, softmax again, multiplied by ``pre``. Each pixel takes its group's row.
   (``gate="groups"``, ours, not official: the top-k ranks each class by its best group's
   ``pre`` instead of by the image embedding; see ``Protocol.gate``.)
4. Background (object-only benchmarks): channel 0 is 1 where the pixel's best class score is
   below ``min(bg_thresh, max affinity in the window)``, else 0.
5. mmseg ``slide_inference``: windows of ``crop`` every ``stride`` (the last one flush with the
   border), logits summed and divided by the overlap count, resized (bilinear) to the original
   image, softmax, argmax.

The windows of one image go through the model as one batch; there is no per-pixel Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cocu.errors import CocuError
from cocu.eval.pamr import pamr as pamr_refine
from cocu.data.templates import GROUPVIT_EVAL_TEMPLATES
from cocu.eval.protocol import GATES, Protocol
from cocu.eval.transforms import normalize, rescale_size, resize_uint8

Tokenizer = Callable[[list[str]], torch.Tensor]


def _default_tokenizer() -> Tokenizer:
    from cocu.models.tokenizer import tokenize  # lazy: eval works with any model + tokenizer
    return tokenize


def _model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def build_class_embeddings(model: Any, class_names: Sequence[str],
                           templates: Sequence[str] = GROUPVIT_EVAL_TEMPLATES, *,
                           tokenizer: Tokenizer | None = None, chunk: int = 256,
                           normalize_templates: bool = False) -> torch.Tensor:
    """Class text embeddings ``[N, D]`` (L2-normalised) from ``len(templates)`` prompts per class.

    Official GroupViT averages the *unnormalised* projected template embeddings, then
    normalises; ``normalize_templates=True`` normalises each template first (CLIP style).
    """
    if not class_names:
        raise CocuError("no class names to embed")
    tokenizer = tokenizer or _default_tokenizer()
    device = _model_device(model)
    prompts = [t.format(name) for name in class_names for t in templates]
    ids = tokenizer(prompts)
    embs = torch.cat([model.encode_text(ids[i:i + chunk].to(device))
                      for i in range(0, len(prompts), chunk)])
    embs = embs.view(len(class_names), len(templates), -1).float()
    if normalize_templates:
        embs = F.normalize(embs, dim=-1)
    return F.normalize(embs.mean(dim=1), dim=-1)


def infer_grid(num_tokens: int, height: int, width: int) -> tuple[int, int]:
    """The patch grid of a ``height × width`` window with ``num_tokens`` patches (official
    ``resize_attn_map`` formula, used when the model does not report its grid)."""
    scale = (height * width // num_tokens) ** 0.5
    if height > width:
        w = width // int(np.round(scale))
        h = num_tokens // w
    else:
        h = height // int(np.round(scale))
        w = num_tokens // h
    if h * w != num_tokens:
        raise CocuError(f"cannot lay {num_tokens} tokens on a grid for a {height}x{width} window")
    return h, w


def group_maps(attn_soft: Sequence[torch.Tensor], grid: tuple[int, int] | None,
               size: tuple[int, int]) -> torch.Tensor:
    """Soft group maps ``[B, G, H, W]`` of the final groups, upsampled to ``size``.

    ``attn_soft[s]``: ``[B, G_s, L_s]`` (stage 0: L_0 = h*w patches; stage s: L_s = G_{s-1}).
    """
    if not attn_soft:
        raise CocuError("the model returned no grouping attention (attn_soft is empty)")
    m = attn_soft[0].transpose(1, 2)  # [B, L0, G0]
    for a in attn_soft[1:]:
        m = m @ a.transpose(1, 2)  # [B, L0, G_s]
    b, num_tokens, g = m.shape
    h, w = grid if grid is not None else infer_grid(num_tokens, *size)
    m = m.transpose(1, 2).reshape(b, g, h, w)
    return F.interpolate(m, size=size, mode="bilinear", align_corners=False)


def window_logits(image_x: torch.Tensor, image_feat: torch.Tensor, maps: torch.Tensor,
                  text: torch.Tensor, logit_scale: torch.Tensor, *, bg_thresh: float | None,
                  topk: int = 5, gate: str = "image") -> torch.Tensor:
    """Per-window class scores ``[B, K, H, W]`` (K = N + 1 with background channel 0).

    ``image_x [B, D]`` pooled embedding, ``image_feat [B, G, D]`` group embeddings,
    ``maps [B, G, H, W]`` soft group maps, ``text [N, D]`` normalised class embeddings.
    ``gate``: what ranks the classes for the top-k: ``"image"`` (official: the image embedding's
    softmax) or ``"groups"`` (each class's best group score, ``pre.amax`` over groups).
    """
    feat = F.normalize(image_feat.float(), dim=-1)
    text = text.to(feat)
    scale = torch.clamp(logit_scale.detach().float().exp(), max=100)
    n = text.shape[0]
    affinity = (feat @ text.T) * scale  # [B, G, N]
    pre = F.softmax(affinity, dim=-1)
    if gate == "image":
        rank = F.softmax((F.normalize(image_x.float(), dim=-1) @ text.T) * scale, dim=-1)  # [B, N]
    elif gate == "groups":
        rank = pre.amax(dim=1)  # [B, N]: each class's best group
    else:
        raise CocuError(f"gate must be one of {GATES}, got {gate!r}")
    top = rank.topk(k=min(topk, n), dim=-1).indices
    keep = torch.zeros_like(rank, dtype=torch.bool).scatter_(1, top, True)
    affinity = affinity.masked_fill(~keep[:, None, :], float("-inf"))
    affinity = F.softmax(affinity, dim=-1) * pre  # [B, G, N]

    b, g, h, w = maps.shape
    group = maps.argmax(dim=1).view(b, h * w, 1).expand(-1, -1, n)  # one-hot argmax group
    fg = affinity.gather(1, group).transpose(1, 2).reshape(b, n, h, w)  # [B, N, H, W]
    if bg_thresh is None:
        return fg
    thresh = torch.clamp(affinity.amax(dim=(1, 2)), max=bg_thresh)  # min(bg_thresh, max)
    bg = (fg.amax(dim=1) < thresh[:, None, None]).to(fg.dtype)
    return torch.cat([bg[:, None], fg], dim=1)


def fold_background_words(logits: torch.Tensor, num_words: int, has_bg: bool) -> torch.Tensor:
    """``[B, (1) + N + W, H, W]`` → ``[B, 1 + N, H, W]``: the last ``num_words`` channels (background
    words) fold into one background channel 0 by their maximum (and the threshold's channel, if
    ``has_bg``), so the argmax labels a pixel background exactly when a word or the threshold wins."""
    words = logits[:, logits.shape[1] - num_words:]
    classes = logits[:, int(has_bg):logits.shape[1] - num_words]
    bg = words.amax(dim=1, keepdim=True)
    if has_bg:
        bg = torch.maximum(bg, logits[:, :1])
    return torch.cat([bg, classes], dim=1)


def check_background_words(words: Sequence[str], class_names: Sequence[str]) -> list[str]:
    """The background words as a list; an empty word, a repeated one or one that is also a class
    name is an error (compared without case, as the labels of `cocu segment` are)."""
    words = [str(w).strip() for w in words]
    if any(not w for w in words):
        raise CocuError("a background word is empty")
    if len({w.lower() for w in words}) != len(words):
        raise CocuError("a background word is given twice")
    classes = {str(c).strip().lower() for c in class_names}
    both = sorted(w for w in words if w.lower() in classes)
    if both:
        raise CocuError(f"background words that are also classes: {', '.join(both)}")
    return words


def slide_windows(height: int, width: int, crop: int, stride: int) -> list[tuple[int, int, int, int]]:
    """mmseg ``slide_inference`` window boxes ``(y1, y2, x1, x2)`` in its order (row-major)."""
    h_grids = max(height - crop + stride - 1, 0) // stride + 1
    w_grids = max(width - crop + stride - 1, 0) // stride + 1
    boxes = []
    for hi in range(h_grids):
        for wi in range(w_grids):
            y1, x1 = hi * stride, wi * stride
            y2, x2 = min(y1 + crop, height), min(x1 + crop, width)
            boxes.append((max(y2 - crop, 0), y2, max(x2 - crop, 0), x2))
    return boxes


def _as_uint8_hwc(image: Any) -> np.ndarray | torch.Tensor:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if isinstance(image, (np.ndarray, torch.Tensor)) and image.ndim == 3 and image.shape[-1] == 3:
        return image
    raise CocuError("expected an RGB image: PIL.Image or uint8 array/tensor [H, W, 3]")


class ZeroShotSegmenter:
    """Segments images into ``class_names`` with a GroupViT-like model.

    ``bg_thresh``: ``None`` → no background (labels 0..N-1 = ``class_names``); a float → label 0
    is background and class i is label i + 1. ``protocol`` gives resize, window, top-k gate, PAMR and
    normalisation (its ``bg_thresh`` is *not* used here; pass it explicitly). ``window_batch``
    windows go through the model together (all windows of an image when ``None``).
    ``background_words`` (not official): more names segmented like the classes, whose pixels become
    background (label 0, as with a threshold; with both, a pixel is background if either says so).
    ``text_embeddings``: ``[N + W, D]``, the classes' then the background words'.
    """

    def __init__(self, model: Any, class_names: Sequence[str], templates: Sequence[str] | None = None,
                 bg_thresh: float | None = None, *, protocol: Protocol | None = None,
                 topk: int | None = None, window_batch: int | None = 16,
                 device: str | torch.device | None = None, tokenizer: Tokenizer | None = None,
                 text_embeddings: torch.Tensor | None = None,
                 background_words: Sequence[str] = ()) -> None:
        self.protocol = protocol or Protocol("custom", img_scale=None, mode="whole")
        self.model = model
        if device is not None:
            self.model = model.to(device)
        self.model.eval()
        self.device = _model_device(self.model)
        self.class_names = list(class_names)
        self.background_words = check_background_words(background_words, self.class_names)
        self.templates = tuple(templates) if templates is not None else self.protocol.templates
        self.bg_thresh = bg_thresh
        self.topk = topk if topk is not None else self.protocol.topk
        self.gate = self.protocol.gate
        self.window_batch = window_batch
        names = self.class_names + self.background_words
        if text_embeddings is None:
            text_embeddings = build_class_embeddings(self.model, names, self.templates, tokenizer=tokenizer)
        if text_embeddings.shape[0] != len(names):
            raise CocuError(f"{text_embeddings.shape[0]} text embeddings for {len(self.class_names)} "
                            f"classes and {len(self.background_words)} background words")
        self.text = text_embeddings.to(self.device).float()

    @property
    def has_background(self) -> bool:
        """Whether label 0 is background (a threshold or background words)."""
        return self.bg_thresh is not None or bool(self.background_words)

    @property
    def num_outputs(self) -> int:
        """Number of output labels (classes + background when thresholding or given words)."""
        return len(self.class_names) + self.has_background

    # ------------------------------------------------------------------ steps

    def preprocess(self, image: Any) -> torch.Tensor:
        """RGB uint8 ``[H,W,3]`` → resized (protocol) and normalised float ``[3,h,w]`` on device."""
        image = _as_uint8_hwc(image)
        h, w = image.shape[:2]
        size = rescale_size(h, w, self.protocol.img_scale) if self.protocol.img_scale else (h, w)
        x = resize_uint8(image, size).to(self.device)
        return normalize(x, self.protocol.mean, self.protocol.std)

    @torch.no_grad()
    def encode_decode(self, windows: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, K, h, w]`` for a batch of same-size windows ``[B, 3, h, w]``."""
        out = self.model.encode_image(windows, return_feat=True, return_attn=True)
        size = tuple(windows.shape[-2:])
        maps = group_maps(out.attn_soft, getattr(out, "grid", None), size)
        logits = window_logits(out.image_x, out.image_feat, maps, self.text, self.model.logit_scale,
                               bg_thresh=self.bg_thresh, topk=self.topk, gate=self.gate)
        if self.background_words:
            logits = fold_background_words(logits, len(self.background_words), self.bg_thresh is not None)
        if self.protocol.pamr:
            logits = pamr_refine(windows.float(), logits)
        return logits

    @torch.no_grad()
    def inference_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[K, h, w]`` for a preprocessed image ``[3, h, w]`` (slide or whole)."""
        if self.protocol.mode == "whole":
            return self.encode_decode(x[None])[0]
        _, h, w = x.shape
        boxes = slide_windows(h, w, self.protocol.crop, self.protocol.stride)
        preds = torch.zeros(self.num_outputs, h, w, device=x.device, dtype=torch.float32)
        count = torch.zeros(1, h, w, device=x.device, dtype=torch.float32)
        step = self.window_batch or len(boxes)
        for i in range(0, len(boxes), step):
            chunk = boxes[i:i + step]
            crops = torch.stack([x[:, y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])
            logits = self.encode_decode(crops)
            for (y1, y2, x1, x2), lg in zip(chunk, logits):
                preds[:, y1:y2, x1:x2] += lg
                count[:, y1:y2, x1:x2] += 1
        return preds / count

    @torch.no_grad()
    def logits(self, image: Any) -> torch.Tensor:
        """Class scores ``[K, H, W]`` at the original image size (before softmax)."""
        img = _as_uint8_hwc(image)
        h, w = img.shape[:2]
        scores = self.inference_logits(self.preprocess(img))
        if tuple(scores.shape[-2:]) != (h, w):
            scores = F.interpolate(scores[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        return scores

    @torch.no_grad()
    def predict(self, image: Any) -> torch.Tensor:
        """Label map ``[H, W]`` (int64, on CPU) for an RGB image ``[H, W, 3]``."""
        # mmseg: softmax over classes, then argmax (kept for tie-for-tie parity)
        return F.softmax(self.logits(image), dim=0).argmax(dim=0).cpu()


def windows_per_image(height: int, width: int, protocol: Protocol) -> int:
    """How many windows ``protocol`` runs on an image of this (original) size."""
    if protocol.mode == "whole":
        return 1
    h, w = rescale_size(height, width, protocol.img_scale) if protocol.img_scale else (height, width)
    return math.prod((max(n - protocol.crop + protocol.stride - 1, 0) // protocol.stride + 1)
                     for n in (h, w))
