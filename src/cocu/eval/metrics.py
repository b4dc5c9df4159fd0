"""mIoU, mAcc and aAcc exactly as mmsegmentation 0.18.0 computes them.

mmseg 0.18 (``mmseg/core/evaluation/metrics.py`` and ``CustomDataset.evaluate``), the version
GroupViT pins, behaves as follows and this module reproduces every point:

- ``label_map`` is applied first (sequentially, old → new), then ``reduce_zero_label`` acts on
  the *label only*: 0 → 255, every other value − 1, 255 stays 255. Both act in the label's own
  dtype (``torch.from_numpy(label)``): on a uint8 mask a class mapped to −1 wraps to 255.
- Pixels whose label equals ``ignore_index`` are dropped. Label values in [C, 255) are *not*
  masked: they count in the predicted class's area (a false positive) but in no label area.
- Predicted values outside [0, C) are dropped from the predicted area while the label pixel
  still counts in its class's label area (a miss).
- Areas are per-class pixel counts, float32 per image (``torch.histc``), summed over the split in
  float32 in image order (the ``pre_eval`` path). IoU = intersect / union and
  Acc = intersect / label area in float32: a class absent from both prediction and label gives
  0/0 = NaN and is left out of the mean; a class only predicted gives IoU 0 and counts.
- The printed summary is ``round(100 · nanmean, 2)`` (NumPy float32 nanmean).

Counting is vectorised with ``torch.bincount`` and runs on whatever device the inputs are on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cocu.errors import CocuError


@dataclass(frozen=True)
class Areas:
    """Per-class pixel areas of one image (or a split), each a tensor ``[C]``."""

    intersect: torch.Tensor
    union: torch.Tensor
    pred: torch.Tensor
    label: torch.Tensor


def _as_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def prepare_label(label: torch.Tensor | np.ndarray, *, label_map: Mapping[int, int] | None = None,
                  reduce_zero_label: bool = False) -> torch.Tensor:
    """Apply mmseg's ``label_map`` then ``reduce_zero_label`` to a label map in its own dtype, as
    mmseg 0.18's ``intersect_and_union`` does (uint8 wraps: −1 → 255); returns int64 ``[H,W]``."""
    label = _as_tensor(label).clone()
    if label_map:
        for old_id, new_id in label_map.items():  # sequential, like mmseg (chains are possible)
            label[label == old_id] = new_id  # torch casts: uint8 −1 → 255
    if reduce_zero_label:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    return label.to(torch.int64)



def intersect_and_union(pred: torch.Tensor | np.ndarray, label: torch.Tensor | np.ndarray,
                        num_classes: int, ignore_index: int = 255, *,
                        label_map: Mapping[int, int] | None = None,
                        reduce_zero_label: bool = False) -> Areas:
    """Per-class areas of one prediction ``pred [H,W]`` against ``label [H,W]`` (int64 counts)."""
    pred = _as_tensor(pred)
    label = prepare_label(label, label_map=label_map, reduce_zero_label=reduce_zero_label)
    if pred.shape != label.shape:
        raise CocuError(f"prediction shape {tuple(pred.shape)} != label shape {tuple(label.shape)}")
    label = label.to(pred.device)
    keep = label != ignore_index
    p = pred[keep].to(torch.int64)
    lab = label[keep]
    p_valid = (p >= 0) & (p < num_classes)
    l_valid = (lab >= 0) & (lab < num_classes)
    c = num_classes
    area_pred = torch.bincount(p[p_valid], minlength=c)
    area_label = torch.bincount(lab[l_valid], minlength=c)
    area_inter = torch.bincount(p[p_valid & (p == lab)], minlength=c)
    return Areas(area_inter, area_pred + area_label - area_inter, area_pred, area_label)


class IoUAccumulator:
    """Accumulates per-class areas over a split and computes mmseg 0.18 metrics.

    ``update(pred [H,W], label [H,W])`` takes raw dataset labels (``reduce_zero_label`` and
    ``label_map`` are applied here, as mmseg does in ``intersect_and_union``).
    ``compute()`` returns ``{"mIoU", "mAcc", "aAcc"}`` in percent rounded to 2 decimals (what mmseg
    prints), the unrounded fractions under ``"raw"``, and per-class ``IoU``/``Acc`` lists
    (fractions, NaN for classes absent from prediction and label).

    ``float32=True`` (default) sums areas in float32 in update order like mmseg's pre-eval path;
    exact int64 counts are kept as well (``counts()``).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, reduce_zero_label: bool = False,
                 label_map: Mapping[int, int] | None = None, *, float32: bool = True,
                 class_names: Sequence[str] | None = None) -> None:
        if num_classes < 1:
            raise CocuError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise CocuError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.label_map = dict(label_map or {})
        self.float32 = float32
        self.class_names = list(class_names) if class_names is not None else None
        self.reset()

    def reset(self) -> None:
        """Forget every accumulated image."""
        z64 = torch.zeros(4, self.num_classes, dtype=torch.int64)
        self._exact = z64
        self._f32 = torch.zeros(4, self.num_classes, dtype=torch.float32)
        self.num_images = 0

    def update(self, pred: torch.Tensor | np.ndarray, label: torch.Tensor | np.ndarray) -> Areas:
        """Add one image; returns its areas (int64)."""
        areas = intersect_and_union(pred, label, self.num_classes, self.ignore_index,
                                    label_map=self.label_map, reduce_zero_label=self.reduce_zero_label)
        stacked = torch.stack([areas.intersect, areas.union, areas.pred, areas.label]).cpu()
        self._exact += stacked
        self._f32 += stacked.to(torch.float32)  # float32 per image, float32 running sum (mmseg)
        self.num_images += 1
        return areas

    def counts(self) -> Areas:
        """Exact accumulated areas (int64 ``[C]`` each)."""
        e = self._exact
        return Areas(e[0].clone(), e[1].clone(), e[2].clone(), e[3].clone())

    def compute(self) -> dict:
        """Metrics over everything accumulated so far (see class docstring for the keys)."""
        src = self._f32 if self.float32 else self._exact.to(torch.float64)
        inter, union, _pred, label = src
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = (inter / union).numpy()
            acc = (inter / label).numpy()
            a_acc = (inter.sum() / label.sum()).numpy()
        with np.errstate(invalid="ignore"), _quiet_nanmean():
            m_iou = np.nanmean(iou)
            m_acc = np.nanmean(acc)
        out = {
            "mIoU": _pct(m_iou),
            "mAcc": _pct(m_acc),
            "aAcc": _pct(a_acc),
            "raw": {"mIoU": float(m_iou), "mAcc": float(m_acc), "aAcc": float(a_acc)},
            "per_class": {
                "IoU": [float(v) for v in iou],
                "Acc": [float(v) for v in acc],
            },
            "num_images": self.num_images,
            "num_classes": self.num_classes,
        }
        if self.class_names is not None:
            out["per_class"]["names"] = list(self.class_names)
        return out


def _pct(x: np.ndarray | float) -> float:
    """mmseg's summary rounding ``np.round(x * 100, 2)`` (in x's float32), shown as the
    2-decimal number mmseg prints (NaN stays NaN)."""
    return round(float(np.round(x * 100, 2)), 2)


class _quiet_nanmean:
    """Silence NumPy's 'Mean of empty slice' warning (all-NaN gives NaN, as in mmseg)."""

    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def format_table(result: dict, class_names: Sequence[str] | None = None) -> str:
    """A plain-text per-class IoU/Acc table plus the summary line, like mmseg's log."""
    names = class_names or result["per_class"].get("names") or [
        str(i) for i in range(len(result["per_class"]["IoU"]))]
    width = max([5] + [len(n) for n in names])
    lines = [f"{'Class':<{width}}  {'IoU':>6}  {'Acc':>6}", "-" * (width + 16)]
    for name, iou, acc in zip(names, result["per_class"]["IoU"], result["per_class"]["Acc"]):
        lines.append(f"{name:<{width}}  {_cell(iou)}  {_cell(acc)}")
    lines.append("-" * (width + 16))
    lines.append(f"mIoU {result['mIoU']:.2f}  mAcc {result['mAcc']:.2f}  aAcc {result['aAcc']:.2f}"
                 f"  ({result['num_images']} images)")
    return "\n".join(lines)


def _cell(v: float) -> str:
    return f"{'nan':>6}" if np.isnan(v) else f"{np.round(v * 100, 2):6.2f}"
