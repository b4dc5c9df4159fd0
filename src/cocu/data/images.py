"""Reading user photographs: one home for ``cocu segment``, ``cocu serve`` and ``cocu heatmap``.

Every common format Pillow opens comes out as an upright 8-bit RGB image:
- EXIF orientation applied (phones store portrait JPEGs sideways plus a rotate tag);
- alpha (RGBA, LA, palette transparency) composited over white;
- greyscale and bilevel → RGB; CMYK (also Adobe's inverted CMYK JPEGs) and YCbCr → RGB;
- 16-bit greyscale (``I;16*``) scaled to 8 bits (v / 257); 16-bit RGB PNG/TIFF Pillow already
  reduces to 8 bits; 32-bit ``I`` images holding 16-bit data (max > 255) are scaled likewise;
- animated GIF/WebP/PNG: the first frame.
Large photographs can be decoded reduced (`open_photo(min_side=...)`: JPEG DCT scaling, 1/2 to
1/8), never below the size the caller needs; the full-resolution size is kept in ``Photo.size``.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cocu.errors import CocuError

PhotoSource = Union[str, os.PathLike, bytes, BinaryIO, Image.Image, np.ndarray]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jfif", ".ppm", ".pgm")
WHITE = (255, 255, 255)


@dataclass
class Photo:
    """An upright RGB photo. ``image``: PIL RGB, possibly decoded reduced; ``size``: (H, W) of the
    full-resolution upright photo; ``name``: file stem (or ``"image"``)."""

    image: Image.Image
    size: tuple[int, int]
    name: str = "image"

    def array(self) -> np.ndarray:
        """uint8 [h, w, 3] of ``image`` (the decoded resolution)."""
        return np.asarray(self.image, dtype=np.uint8)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB (alpha over white, 16-bit scaled, CMYK converted)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im)
        if mode == "I" and arr.size and int(arr.max()) <= 255 and int(arr.min()) >= 0:
            grey = arr.astype(np.uint8)
        else:
            grey = (np.clip(arr.astype(np.float64), 0, 65535) / 257.0 + 0.5).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 255.0 if arr.size and arr.max() <= 1.0 else 1.0
        return Image.fromarray((np.clip(arr * scale, 0, 255) + 0.5).astype(np.uint8), mode="L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info) \
        or (mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if mode == "1":
        return im.convert("L").convert("RGB")
    return im.convert("RGB")


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] from an array [H, W] (grey), [H, W, 3] or [H, W, 4] (alpha dropped), of
    uint8, uint16 (÷ 257) or float in [0, 1]."""
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise CocuError(f"image array must be [H, W], [H, W, 3] or [H, W, 4], got shape {arr.shape}")
    arr = arr[:, :, :3]
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CocuError(f"image array is empty: shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint16:
        return (arr.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise CocuError(f"image array must be uint8, uint16 or float in [0, 1], got {arr.dtype}")


def _open(src: PhotoSource) -> tuple[Image.Image, str]:
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise CocuError(f"image not found: {path}")
        return Image.open(path), path.stem
    if isinstance(src, (bytes, bytearray)):
        return Image.open(io.BytesIO(bytes(src))), "image"
    if hasattr(src, "read"):
        return Image.open(src), Path(str(getattr(src, "name", "image"))).stem or "image"
    raise CocuError(f"expected an image path, bytes, file, PIL image or array, got {type(src).__name__}")


def open_photo(src: PhotoSource, *, min_side: int | None = None) -> Photo:
    """Decode ``src`` upright as RGB. With ``min_side``, JPEGs are decoded at the smallest DCT
    scale whose short side is still ≥ ``min_side`` (faster, less memory); others at full size."""
    if isinstance(src, np.ndarray):
        arr = array_to_rgb(src)
        return Photo(Image.fromarray(arr), arr.shape[:2])
    where = str(src) if isinstance(src, (str, os.PathLike)) else "upload"
    try:
        im, name = (src, "image") if isinstance(src, Image.Image) else _open(src)
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        orientation = im.getexif().get(0x0112, 1)
        w, h = im.size
        if orientation in (5, 6, 7, 8):
            w, h = h, w
        if min_side and im.format == "JPEG" and min(w, h) >= 2 * min_side:
            im.draft("RGB", (min_side, min_side))
        im.load()
        upright = ImageOps.exif_transpose(im) or im
        return Photo(to_rgb(upright), (h, w), name)
    except Image.DecompressionBombError as exc:
        raise CocuError(f"image {where} is too large to decode safely: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CocuError(f"cannot read image {where}: {exc}") from exc


def photo_size(src: PhotoSource) -> tuple[int, int]:
    """(H, W) of the upright photo, from the file's header (no pixels decoded)."""
    if isinstance(src, np.ndarray):
        return int(src.shape[0]), int(src.shape[1])
    where = str(src) if isinstance(src, (str, os.PathLike)) else "upload"
    try:
        im, _ = (src, "image") if isinstance(src, Image.Image) else _open(src)
        w, h = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
            w, h = h, w
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CocuError(f"cannot read image {where}: {exc}") from exc
    finally:
        if hasattr(src, "seek"):
            src.seek(0)
    return h, w


def load_rgb(src: PhotoSource) -> np.ndarray:
    """The full-resolution upright photo as uint8 [H, W, 3]."""
    return open_photo(src).array().copy()


def list_images(items: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Image files named by paths, folders (their image files, sorted, not recursive) and globs
    (``"photos/*.jpg"``, ``"**"`` recursive). CocuError when nothing is found or a path is missing."""
    items = [items] if isinstance(items, (str, os.PathLike)) else list(items)
    found: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            found += sorted(Path(p) for p in glob.glob(text, recursive=True)
                            if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES)
        else:
            raise CocuError(f"image not found: {path}")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise CocuError(f"no image files in {', '.join(map(str, items))} "
                        f"(looked for {', '.join(IMAGE_SUFFIXES)})")
    return unique
