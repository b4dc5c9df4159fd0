"""Tiny fixtures written in each benchmark's real on-disk layout (a few random images each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def _jpg(path: Path, h: int, w: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, quality=95)


def _png(path: Path, label: np.ndarray, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.ascontiguousarray(label.astype(np.uint8))
    im = Image.frombytes(mode, (arr.shape[1], arr.shape[0]), arr.tobytes())
    if mode == "P":
        im.putpalette([v for i in range(256) for v in (i, (i * 7) % 256, (i * 13) % 256)])
    im.save(path)


def _label(h: int, w: int, values: list[int], seed: int) -> np.ndarray:
    """Blocky label map (a 4 x 4 grid of regions) drawing from ``values``."""
    rng = np.random.default_rng(seed + 1000)
    grid = rng.choice(values, size=(4, 4))
    ys = np.minimum(np.arange(h) * 4 // h, 3)
    xs = np.minimum(np.arange(w) * 4 // w, 3)
    return grid[ys][:, xs]


SIZES = [(40, 56), (48, 40), (36, 36)]


def write_voc(root: Path) -> Path:
    base = root / "VOCdevkit" / "VOC2012"
    names = ["2007_000033", "2007_000042", "2007_000061"]
    for i, (n, (h, w)) in enumerate(zip(names, SIZES)):
        _jpg(base / "JPEGImages" / f"{n}.jpg", h, w, i)
        _png(base / "SegmentationClass" / f"{n}.png", _label(h, w, [0, 0, 1, 15, 20, 255], i), "P")
    _jpg(base / "JPEGImages" / "2007_999999.jpg", 20, 20, 9)  # not in val.txt: must be skipped
    split = base / "ImageSets" / "Segmentation" / "val.txt"
    split.parent.mkdir(parents=True)
    split.write_text("\n".join(names) + "\n")
    return base


def write_context(root: Path) -> Path:
    base = root / "VOCdevkit" / "VOC2010"
    names = ["2008_000002", "2008_000007"]
    for i, (n, (h, w)) in enumerate(zip(names, SIZES)):
        _jpg(base / "JPEGImages" / f"{n}.jpg", h, w, 10 + i)
        _png(base / "SegmentationClassContext" / f"{n}.png", _label(h, w, [0, 1, 11, 47, 59], i))
    split = base / "ImageSets" / "SegmentationContext" / "val.txt"
    split.parent.mkdir(parents=True)
    split.write_text("\n".join(names) + "\n")
    return base


def write_coco_object(root: Path) -> Path:
    base = root / "coco"
    for i, (n, (h, w)) in enumerate(zip(["000000000285", "000000000139"], SIZES)):
        _jpg(base / "images" / "val2017" / f"{n}.jpg", h, w, 20 + i)
        _png(base / "annotations" / "val2017" / f"{n}_instanceTrainIds.png",
             _label(h, w, [0, 1, 3, 80], i))
    return base


def write_coco_stuff(root: Path) -> Path:
    base = root / "coco_stuff164k"
    for i, (n, (h, w)) in enumerate(zip(["000000000139", "000000000285"], SIZES)):
        _jpg(base / "images" / "val2017" / f"{n}.jpg", h, w, 30 + i)
        _png(base / "annotations" / "val2017" / f"{n}_labelTrainIds.png",
             _label(h, w, [0, 5, 100, 170, 255], i))
        _png(base / "annotations" / "val2017" / f"{n}.png", _label(h, w, [0], i))  # raw: unused
    return base


def encode_imagenet_s(label: np.ndarray) -> np.ndarray:
    """class id -> RGB with R = id % 256, G = id // 256 (the ImageNet-S PNG encoding)."""
    rgb = np.zeros(label.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = label % 256
    rgb[..., 1] = label // 256
    return rgb


def write_imagenet_s(root: Path, n: int) -> Path:
    base = root / "ImageNetS" / f"ImageNetS{n}"
    items = [("n01443537", "ILSVRC2012_val_00000236"), ("n01491361", "ILSVRC2012_val_00000102")]
    for i, ((wnid, name), (h, w)) in enumerate(zip(items, SIZES)):
        _jpg(base / "validation" / wnid / f"{name}.JPEG", h, w, 40 + i)
        lab = _label(h, w, [0, 1, 2, n, 1000], i)
        out = base / "validation-segmentation" / wnid / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(encode_imagenet_s(lab), mode="RGB").save(out)
    return base


def write_cityscapes(root: Path) -> Path:
    base = root / "cityscapes"
    items = [("frankfurt", "frankfurt_000000_000294"), ("lindau", "lindau_000000_000019")]
    for i, ((city, name), (h, w)) in enumerate(zip(items, SIZES)):
        img = base / "leftImg8bit" / "val" / city / f"{name}_leftImg8bit.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(50 + i).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(img)
        _png(base / "gtFine" / "val" / city / f"{name}_gtFine_labelTrainIds.png",
             _label(h, w, [0, 2, 10, 18, 255], i))
    return base


def write_ade20k(root: Path) -> Path:
    base = root / "ADEChallengeData2016"
    for i, (n, (h, w)) in enumerate(zip(["ADE_val_00000001", "ADE_val_00000002"], SIZES)):
        _jpg(base / "images" / "validation" / f"{n}.jpg", h, w, 60 + i)
        _png(base / "annotations" / "validation" / f"{n}.png", _label(h, w, [0, 1, 3, 150], i))
    return base


def write_voc_like(root: Path, classes=("circle", "square", "star")) -> Path:
    base = root / "voc_like"
    keys = ["000000000", "000000001", "000000002"]
    for i, k in enumerate(keys):
        _jpg(base / "JPEGImages" / f"{k}.jpg", 64, 64, 70 + i)
        _png(base / "SegmentationClass" / f"{k}.png", _label(64, 64, [0, 0, 1, 2, 3, 255], i), "P")
    (base / "ImageSets" / "Segmentation").mkdir(parents=True)
    (base / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(keys) + "\n")
    (base / "classes.json").write_text(json.dumps({"classes": list(classes), "background": True}))
    return base


def write_ade_like(root: Path, classes=("circle", "square", "sky", "grass")) -> Path:
    base = root / "ade_like"
    for i, k in enumerate(["000000000", "000000001"]):
        _jpg(base / "images" / "validation" / f"{k}.jpg", 64, 64, 80 + i)
        _png(base / "annotations" / "validation" / f"{k}.png", _label(64, 64, [0, 1, 2, 3, 4], i))
    (base / "classes.json").write_text(json.dumps({"classes": list(classes)}))
    return base


WRITERS = {
    "voc": write_voc, "context": write_context, "context59": write_context,
    "coco_object": write_coco_object, "coco_stuff": write_coco_stuff,
    "imagenet_s50": lambda r: write_imagenet_s(r, 50), "imagenet_s300": lambda r: write_imagenet_s(r, 300),
    "cityscapes": write_cityscapes, "ade20k": write_ade20k,
    "voc_like": write_voc_like, "ade_like": write_ade_like,
}
