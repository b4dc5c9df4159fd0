"""Training image transforms (torchvision) and the one home of the normalisation constants.

GroupViT normalises with the ImageNet mean/std (its ``img_norm_cfg``), in training and in
evaluation alike. Training works on [0, 1] tensors (torchvision); evaluation follows mmseg on
[0, 255] pixels, whose config literals are kept as written so results match mmseg bit for bit.
"""

from __future__ import annotations

import math

from torchvision import transforms as T

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)      # on [0, 1]
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
IMAGENET_MEAN_255: tuple[float, float, float] = (123.675, 116.28, 103.53)  # on [0, 255] (mmseg)
IMAGENET_STD_255: tuple[float, float, float] = (58.395, 57.12, 57.375)


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
