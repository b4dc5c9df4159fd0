"""Reading user images and masks into numpy arrays (errors name the bad path)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from cocu.data.images import array_to_rgb, open_photo
from cocu.errors import CocuError

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]


def load_image(image: ImageLike) -> np.ndarray:
    """An upright RGB image as uint8 [H, W, 3] from a path, a PIL image or an array.

    Files and PIL images: `cocu.data.images.open_photo` (EXIF orientation, alpha over white,
    16-bit, CMYK, first GIF frame). Arrays: [H, W] (grey), [H, W, 3] or [H, W, 4] (alpha
    dropped), uint8, uint16 or float in [0, 1].
    """
    if isinstance(image, (str, os.PathLike, Image.Image)):
        return open_photo(image).array().copy()
    if isinstance(image, np.ndarray):
        return array_to_rgb(image)
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
