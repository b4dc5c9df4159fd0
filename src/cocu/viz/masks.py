"""Label masks as palette PNGs and colour overlays with a legend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cocu.errors import CocuError
from cocu.utils.io import atomic_path
from cocu.viz.images import ImageLike, load_image
from cocu.viz.palette import IGNORE_INDEX, flat_palette, palette as default_palette

LEGEND_BG = (255, 255, 255)
LEGEND_FG = (20, 20, 20)


def _as_mask(mask: np.ndarray, max_id: int = 255) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise CocuError(f"mask must be [H, W], got shape {mask.shape}")
    if not np.issubdtype(mask.dtype, np.integer):
        if np.issubdtype(mask.dtype, np.floating) and np.all(np.equal(np.mod(mask, 1), 0)):
            mask = mask.astype(np.int64)
        else:
            raise CocuError(f"mask must hold integer class ids, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() > max_id):
        raise CocuError(f"mask ids must be in 0..{max_id}, got {int(mask.min())}..{int(mask.max())}")
    return mask


def _as_palette(pal: np.ndarray | None) -> np.ndarray:
    if pal is None:
        return default_palette()
    pal = np.asarray(pal)
    if pal.ndim != 2 or pal.shape[1] != 3 or not 1 <= len(pal) <= 256:
        raise CocuError(f"palette must be [N<=256, 3], got shape {pal.shape}")
    return pal.astype(np.uint8)


def save_mask_png(mask: np.ndarray, path: str | os.PathLike, palette: np.ndarray | None = None) -> Path:
    """Write ``mask`` (int [H, W], ids 0..255) as an 8-bit palette PNG, atomically.

    Reading the file back with Pillow gives the ids unchanged (``np.asarray(Image.open(path))``).
    """
    mask = _as_mask(mask)
    pal = _as_palette(palette)
    im = Image.fromarray(mask.astype(np.uint8), mode="P")
    im.putpalette(flat_palette(pal))
    path = Path(path)
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return path


def legend_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        return ImageFont.load_default()


def class_name(cid: int, labels: Sequence[str] | None) -> str:
    """``labels[cid]`` when given, else ``"class <cid>"``; id 255 is ``"ignore"``."""
    if labels is not None and 0 <= cid < len(labels):
        return str(labels[cid])
    return "ignore" if cid == IGNORE_INDEX else f"class {cid}"


def legend_entries(mask: np.ndarray, labels: Sequence[str] | None = None,
                   ignore_index: int | None = IGNORE_INDEX) -> list[tuple[int, str]]:
    """``(id, name)`` for every id present in ``mask`` (ascending), the ignore id left out."""
    ids = [int(i) for i in np.unique(np.asarray(mask))]
    return [(i, class_name(i, labels)) for i in ids if i != ignore_index]


def draw_legend(entries: Sequence[tuple[int, str]], pal: np.ndarray, height: int) -> np.ndarray:
    """A white legend panel uint8 [max(height, needed), W_legend, 3]: one swatch + name per entry."""
    size = int(min(max(11, round(height / 28)), 28))
    font = legend_font(size)
    pad, swatch, gap = max(4, size // 2), size, max(3, size // 3)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [probe.textlength(name, font=font) for _, name in entries]
    width = int(pad * 2 + swatch + gap + (max(widths) if widths else 0)) + 1
    row = swatch + gap
    need = pad * 2 + row * len(entries)
    panel = Image.new("RGB", (width, max(height, need)), LEGEND_BG)
    draw = ImageDraw.Draw(panel)
    for k, (cid, name) in enumerate(entries):
        y = pad + k * row
        colour = tuple(int(v) for v in pal[cid]) if cid < len(pal) else (0, 0, 0)
        draw.rectangle([pad, y, pad + swatch - 1, y + swatch - 1], fill=colour, outline=LEGEND_FG)
        draw.text((pad + swatch + gap, y + swatch / 2), name, fill=LEGEND_FG, font=font, anchor="lm")
    return np.asarray(panel, dtype=np.uint8)


def overlay(image: ImageLike, mask: np.ndarray, palette: np.ndarray | None = None, alpha: float = 0.5,
            labels: Sequence[str] | None = None, legend: bool = True,
            ignore_index: int | None = IGNORE_INDEX) -> np.ndarray:
    """Blend the mask colours over the image; optionally append a legend on the right.

    image: uint8 [H, W, 3] (or a path / PIL image); mask: int [H, W].
    Pixel (y, x) with id k != ignore_index becomes round((1 - alpha) * image + alpha * palette[k]);
    ignore pixels keep the image. With ``legend`` the result is [max(H, H_legend), W + W_legend, 3]:
    the overlay at the top left, a white panel naming only the ids present in the mask
    (``labels[id]``, or ``class <id>``), white padding below the image if the legend is taller.
    Without it the result is [H, W, 3].
    """
    img = load_image(image)
    pal = _as_palette(palette)
    mask = _as_mask(mask)
    if mask.shape != img.shape[:2]:
        raise CocuError(f"mask shape {mask.shape} does not match image shape {img.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise CocuError(f"alpha must be in [0, 1], got {alpha}")
    keep = mask == ignore_index if ignore_index is not None else np.zeros(mask.shape, bool)
    ids = np.where(keep, 0, mask)
    if ids.max() >= len(pal):
        raise CocuError(f"mask id {int(ids.max())} has no colour in a palette of {len(pal)}")
    colours = pal[ids].astype(np.float64)
    blended = np.rint((1.0 - alpha) * img.astype(np.float64) + alpha * colours).astype(np.uint8)
    out = np.where(keep[:, :, None], img, blended)
    if not legend:
        return out
    entries = legend_entries(mask, labels, ignore_index)
    if not entries:
        return out
    panel = draw_legend(entries, pal, img.shape[0])
    h = max(out.shape[0], panel.shape[0])
    canvas = np.full((h, out.shape[1] + panel.shape[1], 3), LEGEND_BG, dtype=np.uint8)
    canvas[: out.shape[0], : out.shape[1]] = out
    canvas[: panel.shape[0], out.shape[1]:] = panel
    return canvas


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 [H, W, 3] (or [H, W]) array as PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG")
    return path


def save_overlay(image: ImageLike, mask: np.ndarray, path: str | os.PathLike,
                 palette: np.ndarray | None = None, alpha: float = 0.5,
                 labels: Sequence[str] | None = None, legend: bool = True,
                 ignore_index: int | None = IGNORE_INDEX) -> Path:
    """``overlay(...)`` written to ``path`` as PNG (atomically); returns the path."""
    return save_image(overlay(image, mask, palette, alpha, labels, legend, ignore_index), path)
