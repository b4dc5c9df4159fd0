"""Benchmark loaders: the eight real benchmarks and the synthetic layouts, by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cocu.errors import CocuError
from cocu.eval.datasets.base import SegBenchmark, SegSample
from cocu.eval.datasets.real import (load_ade20k, load_cityscapes, load_coco_object, load_coco_stuff,
                                     load_context, load_context59, load_imagenet_s50,
                                     load_imagenet_s300, load_voc)
from cocu.eval.datasets.synthetic import load_ade_like, load_synthetic, load_voc_like

BENCHMARKS: dict[str, Callable[[str | Path], SegBenchmark]] = {
    "voc": load_voc,
    "context": load_context,
    "coco_object": load_coco_object,
    "imagenet_s50": load_imagenet_s50,
    "imagenet_s300": load_imagenet_s300,
    "cityscapes": load_cityscapes,
    "ade20k": load_ade20k,
    "coco_stuff": load_coco_stuff,
    "context59": load_context59,
    "voc_like": load_voc_like,
    "ade_like": load_ade_like,
    "synthetic": load_synthetic,
}

#: The eight benchmarks of the GroupViT/CoCu tables, in the paper's order.
PAPER_BENCHMARKS = ("voc", "context", "coco_object", "imagenet_s50", "imagenet_s300",
                    "cityscapes", "ade20k", "coco_stuff")

ALIASES = {
    "pascal_voc": "voc", "voc12": "voc", "voc2012": "voc", "pascal_context": "context",
    "pcontext": "context", "coco": "coco_object", "cocoobject": "coco_object",
    "in50": "imagenet_s50", "imagenets50": "imagenet_s50", "imagenet-s-50": "imagenet_s50",
    "in300": "imagenet_s300", "imagenets300": "imagenet_s300", "imagenet-s-300": "imagenet_s300",
    "city": "cityscapes", "ade": "ade20k", "cocostuff": "coco_stuff", "stuff": "coco_stuff",
}


def canonical_name(name: str) -> str:
    """Normalise a benchmark name or alias (case, '-' vs '_'); raises CocuError if unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    key = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
    if key not in BENCHMARKS:
        raise CocuError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return key


def get_benchmark(name: str, root: str | Path) -> SegBenchmark:
    """Load benchmark ``name`` (see ``BENCHMARKS``) from ``root``."""
    return BENCHMARKS[canonical_name(name)](root)


__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "SegBenchmark", "SegSample", "canonical_name",
           "get_benchmark"]
