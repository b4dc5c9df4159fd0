"""Segment photographs into label words: `PhotoSegmenter` / `segment_image` (arrays),
`segment_images` (a folder or glob, with a progress bar) and the writers behind ``cocu segment``.

Memory stays bounded for any photo size: the photo is decoded reduced where the format allows
(`cocu.data.images.open_photo`), resized to the protocol's short side (antialiased bilinear), run
through the sliding window at that size, and only the label ids (uint8) are produced at full
resolution, strip by strip (`upsample_argmax`): the class scores never exist as K × H × W floats.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cocu.data.images import PhotoSource, list_images, open_photo, photo_size
from cocu.errors import CocuError
from cocu.utils.io import write_json
from cocu.utils.progress import progress
from cocu.viz.masks import overlay as draw_overlay
from cocu.viz.masks import save_image, save_mask_png

BACKGROUND = "background"
STRIP_BUDGET = 1 << 22  # floats per upsampled strip (16 MiB)


@dataclass
class SegmentationResult:
    """mask uint8 [H, W] at the photo's full upright resolution: 0 = background (only with a
    threshold), k ≥ 1 = ``labels[k]``; labels = ``["background", *your labels]``; scores[label] =
    cosine similarity of the whole image's embedding and the label's text embedding;
    overlay uint8 [h, w + legend, 3]: the photo (at most ``overlay_max_side`` px) with the mask
    colours and a legend of the labels present; info: sizes, windows, protocol, seconds."""

    mask: np.ndarray
    labels: list[str]
    scores: dict[str, float]
    overlay: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def fractions(self) -> dict[str, float]:
        """Share of the image's pixels per label (background included)."""
        flat = self.mask.reshape(-1)
        counts = np.zeros(max(len(self.labels), int(flat.max(initial=0)) + 1), dtype=np.int64)
        for i in range(0, flat.size, 1 << 22):  # bincount casts to int64: in chunks, not 8 bytes a pixel
            counts += np.bincount(flat[i:i + (1 << 22)], minlength=len(counts))
        return {name: float(c) / self.mask.size for name, c in zip(self.labels, counts)}

    def present(self) -> list[str]:
        """Labels that cover at least one pixel, in label order."""
        return [name for name, share in self.fractions().items() if share > 0]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "scores": self.scores, "fractions": self.fractions(),
                "present": self.present(), "mask_ids": {name: k for k, name in enumerate(self.labels)},
                **self.info}


def parse_labels(text: str | Sequence[str]) -> list[str]:
    """``"cat, sofa, floor"`` (or a list) → ``["cat", "sofa", "floor"]``; empty or repeated
    labels are an error."""
    items = text.split(",") if isinstance(text, str) else list(text)
    labels = [str(s).strip() for s in items if str(s).strip()]
    if not labels:
        raise CocuError(f"empty label list: {text!r} (give words like \"cat, sofa, floor\")")
    if len(labels) > 254:
        raise CocuError(f"{len(labels)} labels: at most 254 fit an 8-bit mask beside background")
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


def protocol_for(model: Any, short_side: int | None, window: int | None, gate: str | None = None) -> Any:
    """:func:`default_protocol` with another short side, window and/or top-k gate (None keeps the defaults)."""
    base = default_protocol(model).with_(gate=gate)
    if not short_side and not window:
        return base
    short = short_side or base.img_scale[1]
    crop = window or (short if short_side else base.crop)
    if short < 1 or crop < 1:
        raise CocuError("--short-side and --window must be positive")
    return base.with_(img_scale=(max(2048, 4 * short), short), crop=crop, stride=max(1, crop // 2))


# ----------------------------------------------------------------------------------- upsampling
def _interp_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """[n_out, n_in] weights of 1-D bilinear resizing (half-pixel centres), the weights
    ``F.interpolate(mode="bilinear", align_corners=False)`` uses along one axis."""
    eye = torch.eye(n_in)[None, None]
    return F.interpolate(eye, size=(n_in, n_out), mode="bilinear", align_corners=False)[0, 0].T.contiguous()


def _taps(n_in: int, n_out: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Bilinear resizing needs at most two source positions per output: ``(i0, w0, i1, w1)`` [n_out]."""
    m = _interp_matrix(n_in, n_out)
    if n_in == 1:
        zero = torch.zeros(n_out, dtype=torch.long)
        return zero.to(device), m[:, 0].to(device), zero.to(device), torch.zeros(n_out, device=device)
    w, i = m.topk(2, dim=1)
    return i[:, 0].to(device), w[:, 0].to(device), i[:, 1].to(device), w[:, 1].to(device)


def bilinear_strips(scores: torch.Tensor, size: tuple[int, int], budget: int = STRIP_BUDGET
                    ) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Bilinear resizing of ``scores [K, h, w]`` to ``size = (H, W)`` in row strips:
    yields ``(y0, y1, strip [K, y1 - y0, W])``, each at most ``budget`` floats; together they equal
    ``F.interpolate(scores[None], size, mode="bilinear", align_corners=False)[0]`` (to rounding).
    Two taps per axis (the same weights F.interpolate uses): O(K·H·W) work, no dense matrices."""
    k, h, w = scores.shape
    big_h, big_w = size
    scores = scores.float()
    r0, a0, r1, a1 = _taps(h, big_h, scores.device)
    c0, b0, c1, b1 = _taps(w, big_w, scores.device)
    rows = max(1, budget // max(1, 2 * k * big_w))  # the strip plus the source rows it reads
    for y0 in range(0, big_h, rows):
        y1 = min(big_h, y0 + rows)
        lo = int(torch.minimum(r0[y0:y1], r1[y0:y1]).min())
        hi = int(torch.maximum(r0[y0:y1], r1[y0:y1]).max()) + 1
        src = scores[:, lo:hi]  # [K, s', w]
        wide = src[:, :, c0] * b0 + src[:, :, c1] * b1  # [K, s', W]
        yield y0, y1, wide[:, r0[y0:y1] - lo] * a0[y0:y1, None] + wide[:, r1[y0:y1] - lo] * a1[y0:y1, None]


def upsample_argmax(scores: torch.Tensor, size: tuple[int, int], offset: int = 0,
                    budget: int = STRIP_BUDGET) -> np.ndarray:
    """``argmax_k`` of the bilinearly resized ``scores [K, h, w]`` at ``size`` → uint8 [H, W]
    (+ ``offset``), never holding more than ``budget`` floats of resized scores."""
    out = np.empty(size, dtype=np.uint8)
    for y0, y1, strip in bilinear_strips(scores, size, budget):
        best, idx = strip[0].clone(), torch.zeros(strip.shape[1:], dtype=torch.uint8, device=strip.device)
        for k in range(1, strip.shape[0]):  # a running max: argmax over the outer dim is slow on CPU
            better = strip[k] > best  # strict: ties keep the first class, as argmax does
            best = torch.where(better, strip[k], best)
            idx[better] = k
        out[y0:y1] = (idx + offset).cpu().numpy()
    return out


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    h, w = size
    f = min(1.0, max_side / max(h, w))
    return max(1, int(h * f + 0.5)), max(1, int(w * f + 0.5))


# ----------------------------------------------------------------------------------- segmenting
class PhotoSegmenter:
    """One model and one label set, for any number of photos (text embeddings computed once).

    ``bg_thresh`` (0..1): pixels whose best class score is under it become background (id 0);
    ``background_words``: names segmented like the labels whose pixels become background too.
    ``protocol``: an ``eval.protocol.Protocol`` (default `default_protocol`); ``pamr`` adds PAMR
    refinement of every window's scores (TCL's test-time setting).
    """

    def __init__(self, model: torch.nn.Module, labels: str | Sequence[str], bg_thresh: float | None = None, *,
                 protocol: Any | None = None, templates: Sequence[str] | None = None, pamr: bool = False,
                 window_batch: int = 8, background_words: Sequence[str] = ()) -> None:
        from cocu.eval.segmenter import ZeroShotSegmenter

        self.names = parse_labels(labels)
        if bg_thresh is not None and not 0.0 <= float(bg_thresh) <= 1.0:
            raise CocuError(f"background threshold must be in [0, 1], got {bg_thresh}")
        protocol = protocol or default_protocol(model)
        if pamr:
            protocol = protocol.with_(pamr=True)
        if protocol.img_scale is None:
            raise CocuError("cocu segment needs a protocol with a resize (img_scale) to bound memory")
        self.protocol = protocol
        self.bg_thresh = bg_thresh
        self.seg = ZeroShotSegmenter(model, self.names, templates or protocol.templates, bg_thresh,
                                     protocol=protocol, window_batch=window_batch,
                                     background_words=background_words)

    @property
    def labels(self) -> list[str]:
        return [BACKGROUND, *self.names]

    @torch.no_grad()
    def segment(self, image: PhotoSource, *, overlay_max_side: int = 2048, alpha: float = 0.5
                ) -> SegmentationResult:
        """Segment one photo (path, bytes, file, PIL image or array; any format and size)."""
        from cocu.eval.segmenter import windows_per_image
        from cocu.eval.transforms import normalize, rescale_size

        start = time.perf_counter()
        full = photo_size(image)
        proc = rescale_size(*full, self.protocol.img_scale)
        view = _fit(full, overlay_max_side) if overlay_max_side else full
        photo = open_photo(image, min_side=max(min(proc), min(view)))
        full = photo.size  # the same, unless the file changed in between
        small = np.asarray(photo.image.resize(proc[::-1], Image.BILINEAR)) if photo.image.size != proc[::-1] \
            else photo.array()
        x = normalize(torch.from_numpy(np.array(small, dtype=np.uint8)).permute(2, 0, 1).float().to(self.seg.device),
                      self.protocol.mean, self.protocol.std)
        scores = self.seg.inference_logits(x)  # [K, h, w] at the processing size
        offset = 0 if self.seg.has_background else 1
        mask = upsample_argmax(scores, full, offset)
        image_x = self.seg.model.encode_image(x[None]).image_x.float()
        labels_text = self.seg.text[:len(self.names)]  # the labels' rows; the background words' follow
        cos = (F.normalize(image_x, dim=-1) @ labels_text.T)[0].cpu().tolist()
        preview = None
        if overlay_max_side:
            view_img = np.asarray(photo.image.resize(view[::-1], Image.BILINEAR)) \
                if photo.image.size != view[::-1] else photo.array()
            preview = draw_overlay(view_img, upsample_argmax(scores, view, offset), alpha=alpha,
                                   labels=self.labels)
        info = {"image_size": list(full), "processed_size": list(proc),
                "windows": windows_per_image(*proc, self.protocol), "background_threshold": self.bg_thresh,
                "background_words": list(self.seg.background_words),
                "pamr": self.protocol.pamr, "protocol": self.protocol.describe(),
                "seconds": round(time.perf_counter() - start, 4), "source": photo.name}
        return SegmentationResult(mask, self.labels, dict(zip(self.names, map(float, cos), strict=True)), preview,
                                  info)


def segment_image(model: torch.nn.Module, image: PhotoSource, labels: str | Sequence[str],
                  bg_thresh: float | None = None, *, protocol: Any | None = None,
                  templates: Sequence[str] | None = None, pamr: bool = False,
                  overlay_max_side: int = 2048, alpha: float = 0.5,
                  background_words: Sequence[str] = ()) -> SegmentationResult:
    """Zero-shot segmentation of one photo into ``labels`` (see `PhotoSegmenter`)."""
    seg = PhotoSegmenter(model, labels, bg_thresh, protocol=protocol, templates=templates, pamr=pamr,
                         background_words=background_words)
    return seg.segment(image, overlay_max_side=overlay_max_side, alpha=alpha)


def output_paths(out_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    out = Path(out_dir)
    return {"mask": out / f"{stem}_mask.png", "overlay": out / f"{stem}_overlay.png",
            "json": out / f"{stem}_segment.json"}


def write_segmentation(result: SegmentationResult, out_dir: str | os.PathLike, stem: str = "image"
                       ) -> dict[str, Path]:
    """``OUT/<stem>_mask.png`` (palette PNG of the ids, full resolution), ``OUT/<stem>_overlay.png``
    (with a legend of the labels present) and ``OUT/<stem>_segment.json``; returns the paths."""
    paths = output_paths(out_dir, stem)
    save_mask_png(result.mask, paths["mask"])
    if result.overlay is not None:
        save_image(result.overlay, paths["overlay"])
    else:
        paths.pop("overlay")
    write_json(paths["json"], result.to_dict())
    return paths


def _stems(files: Sequence[Path]) -> list[str]:
    """Output stems: the file stem, with the suffix added where two inputs share a stem."""
    stems = [f.stem for f in files]
    return [f"{s}_{f.suffix.lstrip('.').lower()}" if stems.count(s) > 1 else s for s, f in zip(stems, files)]


@dataclass
class BatchItem:
    source: Path
    paths: dict[str, Path] | None = None
    result: SegmentationResult | None = None
    error: str | None = None
    skipped: bool = False


def segment_images(segmenter: PhotoSegmenter, sources: str | os.PathLike | Sequence[str | os.PathLike],
                   out_dir: str | os.PathLike, *, skip_existing: bool = False, overlay_max_side: int = 2048,
                   alpha: float = 0.5, keep_results: bool = False) -> list[BatchItem]:
    """Segment every image named by ``sources`` (files, folders, globs) into ``out_dir``.

    An unreadable image is recorded (``BatchItem.error``) and the others go on; with
    ``skip_existing`` images whose JSON is already there are skipped (resuming a long run).
    """
    files = list_images(sources)
    items: list[BatchItem] = []
    for path, stem in progress(list(zip(files, _stems(files))), desc="segment", unit="img"):
        item = BatchItem(path)
        items.append(item)
        if skip_existing and output_paths(out_dir, stem)["json"].is_file():
            item.skipped, item.paths = True, output_paths(out_dir, stem)
            continue
        try:
            result = segmenter.segment(path, overlay_max_side=overlay_max_side, alpha=alpha)
        except CocuError as exc:
            item.error = str(exc)
            continue
        item.paths = write_segmentation(result, out_dir, stem)
        item.result = result if keep_results else None
    return items
