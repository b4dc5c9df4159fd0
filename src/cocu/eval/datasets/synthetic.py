"""Loaders for the benchmark folders ``cocu synth`` writes (docs/ARCHITECTURE.md, "Benchmark
folders"): a VOC-like split (objects + background, threshold protocol) and an ADE-like split
(objects + stuff, label 0 = ignore → ``reduce_zero_label``), each with ``classes.json``."""

from __future__ import annotations

import json
from pathlib import Path

from cocu.errors import DataLayoutError
from cocu.eval.datasets.base import (SegBenchmark, pairs_from_scan, pairs_from_split, read_split,
                                     require_dir, require_file)


def read_classes_json(root: Path, what: str) -> tuple[list[str], bool]:
    """``classes.json`` → (class names, background flag)."""
    path = require_file(root / "classes.json", what)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataLayoutError(f"{what}: {path} is not valid JSON ({exc})") from exc
    names = meta.get("classes") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DataLayoutError(f"{what}: {path} needs a non-empty \"classes\" list of names")
    return names, bool(meta.get("background", False))


def _inside(base: Path, name: str) -> Path:
    """Accept the ``cocu synth`` output folder too: use its ``name`` subfolder."""
    if not (base / "classes.json").exists() and (base / name / "classes.json").exists():
        return base / name
    return base


def load_voc_like(root: str | Path) -> SegBenchmark:
    """Synthetic VOC-like split: ``JPEGImages/KEY.jpg``, ``SegmentationClass/KEY.png`` (0 =
    background, 1..C objects, 255 ignore), ``ImageSets/Segmentation/val.txt``, ``classes.json``."""
    what = "synthetic VOC-like benchmark"
    base = _inside(Path(root).expanduser(), "voc_like")
    require_dir(base, what)
    names, _bg = read_classes_json(base, what)
    if names[0] == "background":
        names = names[1:]
    img_dir = require_dir(base / "JPEGImages", what)
    ann_dir = require_dir(base / "SegmentationClass", what)
    keys = read_split(base / "ImageSets/Segmentation/val.txt", what)
    samples = pairs_from_split(base, img_dir, ann_dir, keys, ".jpg", ".png", what)
    return SegBenchmark("voc_like", base, ("background", *names), samples, protocol="synthetic_voc")


def load_ade_like(root: str | Path) -> SegBenchmark:
    """Synthetic ADE-like split: ``images/validation/KEY.jpg``, ``annotations/validation/KEY.png``
    (0 = ignore, 1..C classes), ``classes.json``."""
    what = "synthetic ADE-like benchmark"
    base = _inside(Path(root).expanduser(), "ade_like")
    require_dir(base, what)
    names, _bg = read_classes_json(base, what)
    img_dir = require_dir(base / "images/validation", what)
    ann_dir = require_dir(base / "annotations/validation", what)
    samples = pairs_from_scan(img_dir, ann_dir, ".jpg", ".png", what)
    return SegBenchmark("ade_like", base, tuple(names), samples, reduce_zero_label=True,
                        protocol="synthetic_ade")


def load_synthetic(root: str | Path) -> SegBenchmark:
    """Detect the synthetic layout in ``root`` (VOC-like or ADE-like) and load it."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataLayoutError(f"benchmark folder not found: {base}")
    subs = [n for n in ("voc_like", "ade_like") if (base / n / "classes.json").exists()]
    if subs and not (base / "classes.json").exists():
        raise DataLayoutError(f"{base} holds several synthetic benchmarks; pass one of: "
                              + ", ".join(str(base / n) for n in subs))
    if (base / "SegmentationClass").exists() or (base / "JPEGImages").exists():
        return load_voc_like(base)
    if (base / "annotations").exists() or (base / "images").exists():
        return load_ade_like(base)
    raise DataLayoutError(
        f"{base} is neither a VOC-like benchmark (JPEGImages/, SegmentationClass/, "
        "ImageSets/Segmentation/val.txt, classes.json) nor an ADE-like one (images/validation/, "
        "annotations/validation/, classes.json)")
