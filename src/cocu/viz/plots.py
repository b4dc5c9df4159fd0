"""Matplotlib figures written as PNG (Agg canvas, no pyplot state): bar charts, line plots
and concept heatmap grids."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cocu.errors import CocuError
from cocu.utils.io import atomic_path
from cocu.viz.images import ImageLike, load_image


def _save(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    FigureCanvasAgg(fig)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


def bar_chart(path: str | os.PathLike, labels: Sequence[str], values: Mapping[str, Sequence[float]],
              errors: Mapping[str, Sequence[float]] | None = None, *, title: str = "",
              ylabel: str = "", hlines: Mapping[str, float] | None = None,
              annotate: bool = True) -> Path:
    """Grouped bars: one group per label, one bar per series (``values[series][i]`` for
    ``labels[i]``), optional ± ``errors`` and horizontal reference lines (e.g. an oracle).
    Returns the PNG path."""
    labels = list(labels)
    if not labels or not values:
        raise CocuError("bar chart needs at least one label and one series")
    for name, vals in values.items():
        if len(vals) != len(labels):
            raise CocuError(f"series {name!r} has {len(vals)} values for {len(labels)} labels")
    fig = Figure(figsize=(max(4.0, 1.0 + 0.9 * len(labels) * max(1, len(values)) ** 0.5), 3.6))
    ax = fig.add_subplot()
    n = len(values)
    width = 0.8 / n
    x = np.arange(len(labels))
    for k, (name, vals) in enumerate(values.items()):
        err = None if errors is None or name not in errors else np.asarray(errors[name], float)
        pos = x - 0.4 + width * (k + 0.5)
        bars = ax.bar(pos, np.asarray(vals, float), width, yerr=err, capsize=3, label=name)
        if annotate:
            ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
    for k, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, linestyle="--", linewidth=1, color=f"C{n + k}", label=name)
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if n > 1 or hlines:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def line_plot(path: str | os.PathLike, x: Sequence[float], series: Mapping[str, Sequence[float]],
              errors: Mapping[str, Sequence[float]] | None = None, *, title: str = "",
              xlabel: str = "", ylabel: str = "", hlines: Mapping[str, float] | None = None,
              logx: bool = False) -> Path:
    """Lines with markers (``series[name][i]`` at ``x[i]``), optional ± ``errors`` bands and
    horizontal reference lines (e.g. the baseline). Returns the PNG path."""
    x = np.asarray(x, dtype=float)
    if x.size == 0 or not series:
        raise CocuError("line plot needs x values and at least one series")
    fig = Figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot()
    for k, (name, ys) in enumerate(series.items()):
        ys = np.asarray(ys, dtype=float)
        if ys.shape != x.shape:
            raise CocuError(f"series {name!r} has {ys.size} values for {x.size} x values")
        ax.plot(x, ys, marker="o", color=f"C{k}", label=name)
        if errors is not None and name in errors:
            err = np.asarray(errors[name], dtype=float)
            ax.fill_between(x, ys - err, ys + err, color=f"C{k}", alpha=0.2)
    for k, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(y, linestyle="--", linewidth=1, color=f"C{len(series) + k}", label=name)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _limits(rows: list[np.ndarray], scale: str) -> list[list[tuple[float, float]]]:
    """(vmin, vmax) per row and concept under the colour ``scale`` rule."""
    if scale == "map":
        return [[(float(m.min()), float(m.max())) for m in r] for r in rows]
    if scale == "row":
        return [[(float(r.min()), float(r.max()))] * len(r) for r in rows]
    if scale == "global":
        lo = min(float(r.min()) for r in rows)
        hi = max(float(r.max()) for r in rows)
        return [[(lo, hi)] * len(r) for r in rows]
    raise CocuError(f"scale must be 'map', 'row' or 'global', got {scale!r}")


def render_heatmaps(image: ImageLike, maps: np.ndarray | Mapping[str, np.ndarray],
                    concepts: Sequence[str], path: str | os.PathLike,
                    compare: np.ndarray | None = None, *, names: Sequence[str] = ("A", "B"),
                    scale: str = "map", alpha: float = 0.5, title: str | None = None) -> Path:
    """A grid of jet heatmaps over the image: rows = checkpoints, columns = the image + concepts.

    maps: float [C, H, W] (one checkpoint, with ``compare`` [C, H, W] as a second row) or a
    mapping checkpoint name → [C, H, W]; ``names`` label the rows in the array form.
    scale: colour limits per ``"map"`` (each map's min..max, the paper's style), per checkpoint
    ``"row"``, or ``"global"`` (one scale for all); each cell shows its [min, max].
    """
    img = load_image(image)
    if isinstance(maps, Mapping):
        rows = {str(k): np.asarray(v, dtype=np.float32) for k, v in maps.items()}
    else:
        rows = {names[0] if names else "A": np.asarray(maps, dtype=np.float32)}
        if compare is not None:
            rows[names[1] if len(names) > 1 else "B"] = np.asarray(compare, dtype=np.float32)
    concepts = list(concepts)
    if not rows:
        raise CocuError("no heatmaps to render")
    for name, arr in rows.items():
        if arr.ndim != 3 or arr.shape[0] != len(concepts) or arr.shape[1:] != img.shape[:2]:
            raise CocuError(f"maps of {name!r} have shape {arr.shape}; expected "
                            f"[{len(concepts)}, {img.shape[0]}, {img.shape[1]}] (concepts × image size)")
    limits = _limits(list(rows.values()), scale)
    n_rows, n_cols = len(rows), len(concepts) + 1
    cell = 2.2
    aspect = img.shape[0] / img.shape[1]
    fig = Figure(figsize=(cell * n_cols, cell * aspect * n_rows + 0.6 + (0.3 if title else 0)))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, (name, arr) in enumerate(rows.items()):
        axes[r][0].imshow(img)
        axes[r][0].set_ylabel(name, fontsize=10)
        if r == 0:
            axes[r][0].set_title("image", fontsize=10)
        for c, concept in enumerate(concepts):
            ax = axes[r][c + 1]
            lo, hi = limits[r][c]
            ax.imshow(img)
            ax.imshow(arr[c], cmap="jet", alpha=alpha, vmin=lo, vmax=hi if hi > lo else lo + 1e-6)
            head = f"{concept}\n" if r == 0 else ""
            ax.set_title(f"{head}[{arr[c].min():.3g}, {arr[c].max():.3g}]", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if scale == "global":  # one colour bar states the shared range, so a flat map reads as flat
        import matplotlib.cm as cm
        import matplotlib.colors as mcolors

        lo, hi = limits[0][0]
        mappable = cm.ScalarMappable(norm=mcolors.Normalize(lo, hi if hi > lo else lo + 1e-6), cmap="jet")
        bar = fig.colorbar(mappable, ax=[ax for row in axes for ax in row], fraction=0.02, pad=0.01)
        bar.set_label(f"shared scale [{lo:.3g}, {hi:.3g}]", fontsize=8)
    return _save(fig, path)
