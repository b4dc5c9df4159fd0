"""Evaluate a model on a benchmark: segment every image, accumulate mmseg-identical metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cocu.errors import CocuError
from cocu.eval.datasets.base import SegBenchmark
from cocu.eval.metrics import IoUAccumulator
from cocu.eval.protocol import Protocol, get_protocol
from cocu.eval.segmenter import Tokenizer, ZeroShotSegmenter
from cocu.utils.checks import require
from cocu.utils.progress import progress


def match_label_size(pred: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of a label map ``[h, w]`` to ``shape`` (cv2 INTER_NEAREST rule:
    source index = floor(dst * src / dst)); used for ImageNet-S's downsampled large images."""
    if tuple(pred.shape) == tuple(shape):
        return pred
    out = F.interpolate(pred[None, None].float(), size=shape, mode="nearest")
    return out[0, 0].to(pred.dtype)


def evaluate(model: Any, benchmark: SegBenchmark, *, protocol: Protocol | None = None,
             subset: int | None = None, device: str | torch.device | None = None,
             threshold: float | None = None, window_batch: int | None = 16,
             tokenizer: Tokenizer | None = None, show_progress: bool | None = None,
             background_words: Sequence[str] = ()) -> dict:
    """Zero-shot segmentation metrics of ``model`` on ``benchmark``.

    ``protocol`` defaults to the benchmark's preset; ``threshold`` overrides its background
    threshold; ``subset`` keeps the first N images. ``background_words`` (benchmarks with a
    background class; not official): names whose pixels count as background, beside the threshold
    (``threshold=0`` leaves the words alone to decide). Returns ``IoUAccumulator.compute()``'s dict
    plus ``benchmark``, ``classes``, ``protocol``, ``background_words`` and timing (``images_per_s``).
    """
    protocol = protocol or get_protocol(benchmark.protocol)
    if threshold is not None:
        protocol = protocol.with_(bg_thresh=threshold)
    require("window_batch", window_batch, at_least=1)
    bench = benchmark.subset(subset)
    bench.check_files()  # unreadable files and wrong label sizes fail now, not after the compute
    if bench.background and protocol.bg_thresh is None:
        raise CocuError(f"benchmark {bench.name!r} has a background class: give a threshold")
    if background_words and not bench.background:
        raise CocuError(f"benchmark {bench.name!r} has no background class for background words")
    segmenter = ZeroShotSegmenter(
        model, bench.prompt_classes, protocol.templates,
        bg_thresh=protocol.bg_thresh if bench.background else None, protocol=protocol,
        window_batch=window_batch, device=device, tokenizer=tokenizer,
        background_words=background_words)
    acc = IoUAccumulator(bench.num_classes, bench.ignore_index, bench.reduce_zero_label,
                         class_names=bench.classes)

    def load(i: int) -> tuple[np.ndarray, np.ndarray]:
        s = bench.samples[i]
        return bench.load_image(s), bench.load_label(s)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:  # read the next image while the model runs
        pending = pool.submit(load, 0) if len(bench) else None
        for i in progress(range(len(bench)), desc=f"eval {bench.name}", unit="img"):
            image, label = pending.result()
            if i + 1 < len(bench):
                pending = pool.submit(load, i + 1)
            pred = segmenter.predict(image)
            if bench.resize_prediction:
                pred = match_label_size(pred, label.shape)
            elif tuple(pred.shape) != tuple(label.shape):
                s = bench.samples[i]
                raise CocuError(f"prediction for {s.image} is {tuple(pred.shape)} but label {s.label} is "
                                f"{tuple(label.shape)} (height, width)")
            acc.update(pred, label)
    elapsed = time.perf_counter() - start

    result = acc.compute()
    result.update({
        "benchmark": bench.name,
        "root": str(bench.root),
        "classes": list(bench.classes),
        "ignore_index": bench.ignore_index,
        "reduce_zero_label": bench.reduce_zero_label,
        "protocol": protocol.describe(),
        "background_words": list(segmenter.background_words),
        "subset": subset,
        "seconds": round(elapsed, 3),
        "images_per_s": round(len(bench) / elapsed, 3) if elapsed > 0 else None,
        "device": str(segmenter.device),
    })
    return result
