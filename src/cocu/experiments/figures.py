"""Pictures for experiment reports: example segmentations and concept heatmaps per model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from cocu.eval.datasets.base import SegBenchmark
from cocu.eval.metrics import prepare_label
from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter
from cocu.utils.io import atomic_path
from cocu.viz.heatmap import ConceptSpec, compare_heatmaps
from cocu.viz.masks import LEGEND_BG, LEGEND_FG, draw_legend, legend_font, overlay
from cocu.viz.palette import IGNORE_INDEX, palette
from cocu.viz.plots import render_heatmaps


def _cell(image: np.ndarray, mask: np.ndarray, scale: int, alpha: float = 0.55) -> np.ndarray:
    """Mask overlay without legend, enlarged ``scale`` × with nearest-neighbour pixels."""
    over = overlay(image, mask, alpha=alpha, legend=False)
    h, w = over.shape[:2]
    return np.asarray(Image.fromarray(over).resize((w * scale, h * scale), Image.NEAREST))


def _header(titles: list[str], widths: list[int], pad: int, legend_width: int) -> np.ndarray:
    """A white strip with each column's title centred above it."""
    font = legend_font(13)
    total = sum(widths) + pad * (len(widths) - 1) + pad + legend_width
    strip = Image.new("RGB", (total, 22), LEGEND_BG)
    draw = ImageDraw.Draw(strip)
    x = 0
    for title, w in zip(titles, widths, strict=True):
        draw.text((x + w / 2, 11), title, fill=LEGEND_FG, font=font, anchor="mm")
        x += w + pad
    return np.asarray(strip, dtype=np.uint8)


def segmentation_grid(models: Mapping[str, torch.nn.Module], bench: SegBenchmark, indices: list[int],
                      path: str | Path, scale: int = 3) -> Path:
    """One row per image: the image, the ground truth, then every model's prediction; a header
    names the columns and each row ends in a legend of the classes shown in that row.

    ``bench`` must be a split without background whose labels use ``reduce_zero_label``
    (the ADE-like split); colours follow the class ids (palette of ``cocu.viz.palette``). The
    ground truth is drawn nearly opaque so that its regions read at a glance.
    """
    protocol = get_protocol("synthetic_ade")
    segmenters = {name: ZeroShotSegmenter(m, bench.prompt_classes, protocol.templates, None,
                                          protocol=protocol) for name, m in models.items()}
    pal = palette()
    pad = 4
    rows = []
    for i in indices:
        sample = bench.samples[i]
        image = bench.load_image(sample)
        label = prepare_label(bench.load_label(sample), reduce_zero_label=True).numpy()  # 0 → ignore
        preds = [seg.predict(image).numpy() for seg in segmenters.values()]
        h, w = image.shape[:2]
        cell_w = w * scale
        big = np.asarray(Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST))
        cells = [big, _cell(image, label, scale, alpha=0.85)] + [_cell(image, p, scale) for p in preds]
        shown = sorted(set().union(*(np.unique(m).tolist() for m in [label, *preds])) - {IGNORE_INDEX})
        legend = draw_legend([(c, bench.classes[c]) for c in shown], pal, h * scale)
        gap = np.full((h * scale, pad, 3), 255, np.uint8)
        row = np.concatenate([c for cell in cells for c in (cell, gap)], axis=1)
        canvas = np.full((max(row.shape[0], legend.shape[0]), row.shape[1] + legend.shape[1], 3), 255, np.uint8)
        canvas[: row.shape[0], : row.shape[1]] = row
        canvas[: legend.shape[0], row.shape[1]:] = legend
        rows.append(canvas)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, pad), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    titles = ["image", "ground truth", *models]
    header = _header(titles, [cell_w] * len(titles), pad, 0)
    header = np.pad(header, ((0, 0), (0, max(0, width - header.shape[1])), (0, 0)), constant_values=255)
    grid = np.concatenate([header[:, :width], *rows], axis=0)[:-pad]
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path


def pick_examples(bench: SegBenchmark, world_json: str | Path, n: int = 4) -> list[int]:
    """Indices of validation images showing a rarely captioned object (the semantic gap)."""
    stats = json.loads(Path(world_json).read_text())["caption_stats"]["per_class"]
    rare = {i for i, c in enumerate(bench.classes)
            if stats.get(c, {}).get("kind") == "object" and stats[c].get("named_rate", 1) < 0.6}
    picked = []
    for i, sample in enumerate(bench.samples):
        present = set(np.unique(bench.load_label(sample)).tolist())
        if any(c + 1 in present for c in rare):
            picked.append(i)
        if len(picked) == n:
            break
    return picked or list(range(min(n, len(bench))))


def uncaptioned_heatmaps(models: Mapping[str, torch.nn.Module], bench: SegBenchmark,
                         world_json: str | Path, vocab: Any, path: str | Path,
                         index: int | None = None) -> dict[str, Any]:
    """Heatmaps of the rarely captioned classes in one validation image, one row per model.

    Concepts are the image's rarely named classes (object or stuff) with all their synonyms;
    returns the figure path and the per-concept scores (region contrast, synonym consistency).
    """
    stats = json.loads(Path(world_json).read_text())["caption_stats"]["per_class"]
    if index is None:
        index = pick_examples(bench, world_json, 1)[0]
    sample = bench.samples[index]
    image = bench.load_image(sample)
    raw = bench.load_label(sample)
    present = [c for c in range(len(bench.classes)) if (raw == c + 1).any()]
    present.sort(key=lambda c: stats.get(bench.classes[c], {}).get("named_rate", 1.0))
    specs = []
    for c in present[:3]:
        name = bench.classes[c]
        synonyms = [s for s in vocab.synonyms(vocab.index(name)) if s != name]
        specs.append(ConceptSpec(name, synonyms, mask_class=c + 1))
    result = compare_heatmaps(dict(models), image, specs, mask=raw)
    figure = render_heatmaps(result.image, result.maps, result.concepts, path, scale="global",
                             title="activation of rarely captioned concepts (cosine, one scale for all maps)")
    return {"path": str(figure), "index": index, "concepts": result.concepts,
            "scores": [s.as_row() for s in result.scores]}
