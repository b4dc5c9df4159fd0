"""Tables from evaluation records: mean ± std over seeds and the share of the gap closed."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cocu.utils.io import atomic_open, write_json

# (column, path into an evaluation record, description)
METRICS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("voc mIoU", ("voc_like", "mIoU"), "VOC-like split: objects + background (threshold)"),
    ("ade mIoU", ("ade_like", "miou"), "ADE-like split: objects + stuff, all classes"),
    ("object IoU", ("ade_like", "object_miou"), "ADE-like, mean over object classes"),
    ("stuff IoU", ("ade_like", "stuff_miou"), "ADE-like, mean over stuff classes"),
    ("voc mIoU, image gate", ("voc_like", "image_gate_mIoU"), "… with the official top-k gate (image embedding)"),
    ("voc mIoU, stuff words", ("voc_like", "stuff_words_mIoU"),
     "VOC-like, background = pixels named by the world's stuff words (no threshold)"),
    ("ade mIoU, image gate", ("ade_like", "image_gate", "miou"), "… with the official top-k gate"),
    ("object IoU, image gate", ("ade_like", "image_gate", "object_miou"), "… with the official top-k gate"),
    ("voc chance", ("voc_like", "chance_mIoU"), "VOC-like mIoU of uniformly random labels"),
    ("ade chance", ("ade_like", "chance_miou"), "ADE-like mIoU of uniformly random labels"),
    ("grouping IoU", ("ade_like", "grouping_miou"), "groups labelled by their majority class"),
    ("object grouping IoU", ("ade_like", "object_grouping_miou"), "… mean over object classes"),
    ("naming acc", ("ade_like", "naming_accuracy"), "pixels whose group is named right"),
    ("object naming", ("ade_like", "object_naming_accuracy"), "… on groups whose majority is an object"),
    ("groups used", ("ade_like", "groups_in_use"), "final groups winning ≥ 1 pixel"),
    ("recall", ("ade_like", "image_recall"), "image level: present class in top-k"),
    ("recall often", ("ade_like", "image_recall_often"), "… classes captions usually name"),
    ("recall rare", ("ade_like", "image_recall_rare"), "… classes captions rarely name"),
)


def _get(record: dict[str, Any], path: Sequence[str]) -> float:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if value is not None else float("nan")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value), ignoring NaNs."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def gap_closed(value: float, baseline: float, oracle: float) -> float:
    """Share of the baseline → oracle gap that ``value`` closes (NaN when the oracle is not above)."""
    if any(math.isnan(v) for v in (value, baseline, oracle)) or oracle <= baseline:
        return float("nan")
    return (value - baseline) / (oracle - baseline)


def aggregate(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per regime × objective (run_key, first-seen order): mean/std of every metric over
    seeds, plus the share of the baseline → oracle gap closed on both splits' mIoU (baseline and
    oracle of the same objective). With several objectives the model names carry them."""
    order: list[str] = []
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["run_key"] not in by_key:
            order.append(r["run_key"])
            by_key[r["run_key"]] = []
        by_key[r["run_key"]].append(r)
    several = len({r.get("objective", "paper") for r in records}) > 1
    rows = []
    for key in order:
        recs = by_key[key]
        objective = recs[0].get("objective", "paper")
        model = recs[0]["regime"] + (f" ({objective})" if several else "")
        row: dict[str, Any] = {"model": model, "regime": recs[0]["regime"], "objective": objective,
                               "N": recs[0].get("neighbours"), "seeds": len(recs)}
        for col, path, _ in METRICS:
            row[col], row[col + " std"] = mean_std([_get(r, path) for r in recs])
        rows.append(row)
    for row in rows:
        base = next((r for r in rows if r["regime"] == "baseline" and r["objective"] == row["objective"]), None)
        oracle = next((r for r in rows if r["regime"] == "oracle" and r["objective"] == row["objective"]), None)
        for col in ("voc mIoU", "ade mIoU"):
            row[f"gap closed ({col.split()[0]})"] = (
                gap_closed(row[col], base[col], oracle[col]) if base and oracle else float("nan"))
    return rows


# two-sided 95 % Student t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df))
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def paired_difference(records: Sequence[dict[str, Any]], model: str, reference: str,
                      metric: str, objective: str | None = None, neighbours: int | None = None) -> dict[str, Any]:
    """``model − reference`` on ``metric`` (a METRICS column), paired by seed.

    Returns the seeds used, the per-seed differences, their mean and sample std, and the 95 %
    Student-t interval of the mean difference (NaN with fewer than 2 pairs). A run is picked by its
    regime name (``record["regime"]``) and, when given, its objective; ``neighbours`` picks the
    model's runs of one N (an N sweep trains the same regime at several); seeds present for only
    one of the two are left out.
    """
    path = next(p for col, p, _ in METRICS if col == metric)
    mine = [r for r in records if objective is None or r.get("objective", "paper") == objective]
    by_seed = {name: {r["seed"]: _get(r, path) for r in mine if r["regime"] == name
                      and (name != model or neighbours is None or r.get("neighbours") == neighbours)}
               for name in (model, reference)}
    seeds = sorted(set(by_seed[model]) & set(by_seed[reference]))
    diffs = [by_seed[model][s] - by_seed[reference][s] for s in seeds]
    mean, std = mean_std(diffs)
    n = len(diffs)
    half = T95.get(n - 1, 1.96) * std / math.sqrt(n) if n > 1 else float("nan")
    return {"model": model, "reference": reference, "metric": metric, "objective": objective,
            "seeds": seeds, "diffs": diffs,
            "mean": mean, "std": std, "ci95": [mean - half, mean + half],
            "excludes_zero": bool(n > 1 and (mean - half > 0 or mean + half < 0))}


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[dict[str, str]]:
    """Rows as display strings: ``mean ± std`` where a std exists, gap shares as percentages."""
    out = []
    for row in rows:
        disp: dict[str, str] = {}
        for col in columns:
            v = row.get(col)
            if col.startswith("gap closed"):
                disp[col] = "—" if v is None or math.isnan(v) else f"{100 * v:.0f} %"
            elif isinstance(v, float):
                std = row.get(col + " std")
                digits = 1 if ("IoU" in col or "groups" in col or "chance" in col) else 2
                disp[col] = ("—" if math.isnan(v) else
                             f"{v:.{digits}f}" + (f" ± {std:.{digits}f}" if std and row["seeds"] > 1 else ""))
            else:
                disp[col] = "—" if v is None else str(v)
        out.append(disp)
    return out


def markdown_table(rows: Sequence[dict[str, str]], columns: Sequence[str]) -> str:
    """A GitHub-markdown table of display rows."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r[c] for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_tables(rows: Sequence[dict[str, Any]], out_dir: str | Path, name: str) -> dict[str, Path]:
    """``name``.json (raw numbers) and ``name``.csv (one line per model) in ``out_dir``."""
    out = Path(out_dir)
    write_json(out / f"{name}.json", list(rows))
    with atomic_open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return {"json": out / f"{name}.json", "csv": out / f"{name}.csv"}
