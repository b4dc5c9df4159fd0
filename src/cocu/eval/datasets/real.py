"""Loaders for the eight real benchmarks in the layouts mmsegmentation's preparation scripts
(and GroupViT's COCO-Object conversion) produce. ``root`` may be the dataset folder itself or a
parent that contains it under its usual name (e.g. ``data/`` holding ``VOCdevkit/VOC2012``).

Folder names and suffixes follow the configs GroupViT/CoCu evaluate with:
NVlabs/GroupViT ``segmentation/configs/_base_/datasets/{pascal_voc12,pascal_context,coco}.py``
and ``segmentation/datasets/coco_object.py``; xing0047/rewrite (CoCu)
``segmentation/configs/_base_/datasets/{imagenet-s-50,imagenet-s-300,cityscapes,ade,coco_stuff}.py``
and ``segmentation/datasets/imagenets.py``; mmseg 0.18 dataset classes for the suffixes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cocu.errors import DataLayoutError
from cocu.eval.datasets import classes as C
from cocu.eval.datasets.base import (SegBenchmark, pairs_from_scan, pairs_from_split, read_image,
                                     read_split, require_dir)
from cocu.eval.transforms import downsample_large


def _find_root(root: str | Path, candidates: tuple[str, ...], marker: str, what: str) -> Path:
    """The first of ``root/<candidate>`` holding ``marker``; a DataLayoutError names what's missing."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DataLayoutError(f"{what}: data root not found: {root}")
    for cand in candidates:
        base = root / cand if cand else root
        if (base / marker).exists():
            return base
    tried = ", ".join(str((root / c) if c else root) for c in candidates)
    raise DataLayoutError(f"{what}: expected a '{marker}' folder in one of: {tried}")


# ------------------------------------------------------------------------------ PASCAL

def load_voc(root: str | Path) -> SegBenchmark:
    """PASCAL VOC 2012 val (1,449 images): ``VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,
    ImageSets/Segmentation/val.txt}``; 20 classes + background; ignore 255."""
    what = "PASCAL VOC 2012"
    base = _find_root(root, ("", "VOC2012", "VOCdevkit/VOC2012"), "SegmentationClass", what)
    img_dir = require_dir(base / "JPEGImages", what)
    ann_dir = require_dir(base / "SegmentationClass", what)
    names = read_split(base / "ImageSets/Segmentation/val.txt", what)
    samples = pairs_from_split(base, img_dir, ann_dir, names, ".jpg", ".png", what)
    return SegBenchmark("voc", base, C.VOC, samples, protocol="voc")


def _context(root: str | Path, fifty_nine: bool) -> SegBenchmark:
    what = "PASCAL Context" + (" 59" if fifty_nine else "")
    base = _find_root(root, ("", "VOC2010", "VOCdevkit/VOC2010"), "SegmentationClassContext", what)
    img_dir = require_dir(base / "JPEGImages", what)
    ann_dir = require_dir(base / "SegmentationClassContext", what)
    names = read_split(base / "ImageSets/SegmentationContext/val.txt", what)
    samples = pairs_from_split(base, img_dir, ann_dir, names, ".jpg", ".png", what)
    if fifty_nine:  # mmseg PascalContextDataset59: reduce_zero_label=True, no background class
        return SegBenchmark("context59", base, C.CONTEXT59, samples, reduce_zero_label=True,
                            protocol="context59")
    return SegBenchmark("context", base, C.CONTEXT, samples, protocol="context")


def load_context(root: str | Path) -> SegBenchmark:
    """PASCAL Context val (5,104 images) as GroupViT evaluates it: mmseg ``PascalContextDataset``
    (60 classes = background + 59, no zero reduction) on ``VOCdevkit/VOC2010/{JPEGImages,
    SegmentationClassContext, ImageSets/SegmentationContext/val.txt}`` (mmseg's converter output)."""
    return _context(root, fifty_nine=False)


def load_context59(root: str | Path) -> SegBenchmark:
    """PASCAL Context-59 (mmseg ``PascalContextDataset59``): same files, label 0 → ignore
    (``reduce_zero_label``), 59 classes, no background threshold (TCL's 'context59')."""
    return _context(root, fifty_nine=True)


# ------------------------------------------------------------------------------ COCO

def load_coco_object(root: str | Path) -> SegBenchmark:
    """COCO-Object val2017 (5,000 images) from GroupViT's ``convert_coco_object.py``:
    ``images/val2017/*.jpg`` + ``annotations/val2017/*_instanceTrainIds.png`` (0 = background,
    1..80 things); 80 classes + background."""
    what = "COCO-Object"
    base = _find_root(root, ("", "coco", "coco_stuff164k"), "annotations/val2017", what)
    img_dir = require_dir(base / "images/val2017", what)
    ann_dir = require_dir(base / "annotations/val2017", what)
    samples = pairs_from_scan(img_dir, ann_dir, ".jpg", "_instanceTrainIds.png", what)
    return SegBenchmark("coco_object", base, C.COCO_OBJECT, samples, protocol="coco_object")


def load_coco_stuff(root: str | Path) -> SegBenchmark:
    """COCO-Stuff-164k val2017 (5,000 images), mmseg's ``coco_stuff164k.py`` conversion:
    ``images/val2017/*.jpg`` + ``annotations/val2017/*_labelTrainIds.png``; 171 classes, ignore 255."""
    what = "COCO-Stuff-164k"
    base = _find_root(root, ("", "coco_stuff164k", "coco"), "annotations/val2017", what)
    img_dir = require_dir(base / "images/val2017", what)
    ann_dir = require_dir(base / "annotations/val2017", what)
    samples = pairs_from_scan(img_dir, ann_dir, ".jpg", "_labelTrainIds.png", what)
    return SegBenchmark("coco_stuff", base, C.COCO_STUFF, samples, protocol="coco_stuff")


# ------------------------------------------------------------------------------ ImageNet-S

def decode_imagenet_s_label(im: Image.Image) -> np.ndarray:
    """ImageNet-S stores class ids > 255 as RGB PNGs: id = R + G * 256 (mmseg
    ``LoadImageNetSAnnotations``: BGR channels 1 * 256 + 2). 0 = other/background, 1000 = ignore."""
    arr = np.array(im)
    if arr.ndim == 2:  # already single-channel ids
        return arr.astype(np.int32)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise DataLayoutError(f"ImageNet-S label has shape {arr.shape}; expected an RGB PNG")
    return arr[:, :, 0].astype(np.int32) + arr[:, :, 1].astype(np.int32) * 256


def _load_imagenet_s_image(path: Path) -> np.ndarray:
    return downsample_large(read_image(path), 1000)


def _imagenet_s(root: str | Path, n: int) -> SegBenchmark:
    what = f"ImageNet-S-{n}"
    base = _find_root(root, ("", f"ImageNetS{n}", f"ImageNetS/ImageNetS{n}"),
                      "validation-segmentation", what)
    img_dir = require_dir(base / "validation", what)
    ann_dir = require_dir(base / "validation-segmentation", what)
    samples = pairs_from_scan(img_dir, ann_dir, ".JPEG", ".png", what)
    names = C.IMAGENET_S50 if n == 50 else C.IMAGENET_S300
    return SegBenchmark(f"imagenet_s{n}", base, names, samples, ignore_index=1000,
                        protocol=f"imagenet_s{n}", label_decoder=decode_imagenet_s_label,
                        image_loader=_load_imagenet_s_image, resize_prediction=True)


def load_imagenet_s50(root: str | Path) -> SegBenchmark:
    """ImageNet-S-50 val (752 images): ``ImageNetS50/{validation/<wnid>/*.JPEG,
    validation-segmentation/<wnid>/*.png}``; 50 classes + background; ignore 1000. Images with
    H*W > 1000² are downsampled to a 1000 px long side and predictions scaled back (nearest)."""
    return _imagenet_s(root, 50)


def load_imagenet_s300(root: str | Path) -> SegBenchmark:
    """ImageNet-S-300 val (4,097 images), same layout under ``ImageNetS300``; 300 classes + bg."""
    return _imagenet_s(root, 300)


# ------------------------------------------------------------------------------ stuff datasets

def load_cityscapes(root: str | Path) -> SegBenchmark:
    """Cityscapes val (500 images): ``leftImg8bit/val/<city>/*_leftImg8bit.png`` +
    ``gtFine/val/<city>/*_gtFine_labelTrainIds.png`` (mmseg's ``cityscapes.py`` converter);
    19 classes, ignore 255."""
    what = "Cityscapes"
    base = _find_root(root, ("", "cityscapes", "city"), "gtFine/val", what)
    img_dir = require_dir(base / "leftImg8bit/val", what)
    ann_dir = require_dir(base / "gtFine/val", what)
    samples = pairs_from_scan(img_dir, ann_dir, "_leftImg8bit.png", "_gtFine_labelTrainIds.png", what)
    return SegBenchmark("cityscapes", base, C.CITYSCAPES, samples, protocol="cityscapes")


def load_ade20k(root: str | Path) -> SegBenchmark:
    """ADE20K val (2,000 images): ``ADEChallengeData2016/{images,annotations}/validation``;
    150 classes, label 0 → ignore (``reduce_zero_label``)."""
    what = "ADE20K"
    base = _find_root(root, ("", "ADEChallengeData2016", "ade/ADEChallengeData2016"),
                      "annotations/validation", what)
    img_dir = require_dir(base / "images/validation", what)
    ann_dir = require_dir(base / "annotations/validation", what)
    samples = pairs_from_scan(img_dir, ann_dir, ".jpg", ".png", what)
    return SegBenchmark("ade20k", base, C.ADE20K, samples, reduce_zero_label=True, protocol="ade20k")
