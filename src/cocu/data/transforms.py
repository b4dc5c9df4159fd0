"""Image transforms for training and evaluation (torchvision).

GroupViT normalises with the ImageNet mean/std (its `img_norm_cfg`), in training and in
evaluation alike, so ours do too; the CLIP constants are kept for CLIP encoders.
"""

from __future__ import annotations

import math

from torchvision import transforms as T

CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


TRAIN_CROP_SCALE: tuple[float, float] = (0.9, 1.0)


def decode_side(size: int, scale: tuple[float, float] = TRAIN_CROP_SCALE) -> int:
    """Shortest image side at which `train_transform`'s smallest crop still has ≥ ``size`` pixels.

    Decoding JPEGs down to this side (`cocu.data.shards.decode_image`) loses nothing the crop
    would keep: a crop of area fraction ≥ scale[0] of a square of this side is ≥ ``size`` wide.
    """
    return math.ceil(size / math.sqrt(scale[0]))


def train_transform(size: int, scale: tuple[float, float] = TRAIN_CROP_SCALE, hflip: bool = True) -> T.Compose:
    """PIL image -> float tensor [3, size, size]: mild RandomResizedCrop, flip, ImageNet normalisation.

    The crop is kept mild (default 90–100 % of the area) so that objects the caption names
    stay in the picture; the synthetic world's smallest objects are a quarter of the side.
    """
    ops: list = [T.RandomResizedCrop(size, scale=scale, ratio=(0.9, 1.1),
                                     interpolation=T.InterpolationMode.BICUBIC)]
    if hflip:
        ops.append(T.RandomHorizontalFlip())
    ops += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(ops)


def eval_transform(size: int) -> T.Compose:
    """PIL image -> float tensor [3, size, size]: resize short side, centre crop, ImageNet normalisation."""
    return T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
