"""Evaluation: zero-shot segmentation, benchmark loaders and mmseg-identical metrics."""

from cocu.eval.datasets import BENCHMARKS, PAPER_BENCHMARKS, SegBenchmark, get_benchmark
from cocu.eval.evaluate import evaluate
from cocu.eval.metrics import IoUAccumulator, intersect_and_union
from cocu.eval.protocol import PRESETS, Protocol, get_protocol, tcl_style
from cocu.eval.segmenter import ZeroShotSegmenter, build_class_embeddings

__all__ = [
    "BENCHMARKS", "PAPER_BENCHMARKS", "PRESETS", "IoUAccumulator", "Protocol", "SegBenchmark",
    "ZeroShotSegmenter", "build_class_embeddings", "evaluate", "get_benchmark", "get_protocol",
    "intersect_and_union", "tcl_style",
]
