"""Test-time image transforms matching mmseg 0.18's pipeline (no OpenCV needed).

``Resize(img_scale=(2048, S), keep_ratio=True)`` → :func:`rescale_size` + :func:`resize_uint8`;
``Normalize(mean, std, to_rgb=True)`` → :func:`normalize`. OpenCV's bilinear resize of uint8
images uses 11-bit fixed-point weights, ours float weights rounded half up, so single pixels
can differ by one grey level from mmcv's output (the geometry is identical).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cocu.data.transforms import IMAGENET_MEAN_255, IMAGENET_STD_255


def rescale_size(height: int, width: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv ``rescale_size`` for keep-ratio resizing into ``scale`` = (long edge, short edge) max.

    Returns the new ``(height, width)``: factor = min(long/max(h,w), short/min(h,w)),
    each side ``int(side * factor + 0.5)``.
    """
    long_max, short_max = max(scale), min(scale)
    factor = min(long_max / max(height, width), short_max / min(height, width))
    return int(height * float(factor) + 0.5), int(width * float(factor) + 0.5)


def resize_uint8(image: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (half-pixel centres, no antialias, like cv2.INTER_LINEAR) resize of an RGB uint8
    image ``[H,W,3]`` to ``size=(h, w)``; returns float32 ``[3,h,w]`` holding whole numbers 0..255."""
    if isinstance(image, np.ndarray):
        image = np.ascontiguousarray(image) if image.flags.writeable else image.copy()
    x = torch.as_tensor(image)
    x = x.permute(2, 0, 1).to(torch.float32)
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    y = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]
    return torch.floor(y + 0.5).clamp_(0, 255)


def normalize(image: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN_255,
              std: tuple[float, ...] = IMAGENET_STD_255) -> torch.Tensor:
    """``(image - mean) / std`` per channel for a float ``[3,H,W]`` image in 0..255."""
    m = torch.tensor(mean, dtype=image.dtype, device=image.device)[:, None, None]
    s = torch.tensor(std, dtype=image.dtype, device=image.device)[:, None, None]
    return (image - m) / s


def downsample_large(image: np.ndarray, max_side: int = 1000) -> np.ndarray:
    """ImageNet-S's ``LoadImageNetSImageFromFile``: images with H*W > max_side² are resized
    (bilinear) so the longer side is ``max_side``, the other ``int(max_side * other / longer)``."""
    h, w = image.shape[:2]
    if h * w <= max_side ** 2:
        return image
    if h > w:
        new_h, new_w = max_side, int(max_side * w / h)
    else:
        new_h, new_w = int(max_side * h / w), max_side
    out = resize_uint8(image, (new_h, new_w))
    return out.permute(1, 2, 0).to(torch.uint8).numpy()
