"""Reading user images and masks into numpy arrays (errors name the bad path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from cocu.errors import CocuError

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]


def load_image(image: ImageLike) -> np.ndarray:
    """An RGB image as uint8 [H, W, 3] from a path, a PIL image or an array.

    Arrays may be [H, W] (grey), [H, W, 3] or [H, W, 4] (alpha dropped), uint8 or float in [0, 1].
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise CocuError(f"image not found: {path}")
        try:
            with Image.open(path) as im:
                im.load()
                return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise CocuError(f"cannot read image {path}: {exc}") from exc
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise CocuError(f"image array must be [H, W], [H, W, 3] or [H, W, 4], got shape {image.shape}")
        arr = arr[:, :, :3]
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise CocuError(f"image array is empty: shape {image.shape}")
        if arr.dtype == np.uint8:
            return np.ascontiguousarray(arr)
        if np.issubdtype(arr.dtype, np.floating):
            return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        raise CocuError(f"image array must be uint8 or float in [0, 1], got {arr.dtype}")
    raise CocuError(f"expected an image path, PIL image or array, got {type(image).__name__}")


def load_mask(mask: str | os.PathLike | np.ndarray) -> np.ndarray:
    """A label mask as int64 [H, W] from a (palette or greyscale) PNG path or an array.

    Palette PNGs give their indices, not colours, as VOC annotations are stored.
    """
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise CocuError(f"mask must be [H, W], got shape {mask.shape}")
        return mask.astype(np.int64)
    path = Path(mask)
    if not path.is_file():
        raise CocuError(f"mask not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("P", "L", "I", "I;16"):
                raise CocuError(f"mask {path} must be a palette or greyscale PNG, got mode {im.mode}")
            return np.asarray(im, dtype=np.int64).copy()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CocuError(f"cannot read mask {path}: {exc}") from exc
