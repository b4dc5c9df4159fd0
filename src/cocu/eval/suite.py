"""Benchmark suites: the eight-benchmark table of the GroupViT/CoCu papers (``cocu eval --benchmark all``).

``evaluate_suite`` runs every benchmark of a suite with its protocol defaults, caches one JSON per
benchmark (``OUT/<benchmark>.json``, the same record ``cocu eval --out`` writes, plus
``OUT/<benchmark>_per_class.csv``) and skips benchmarks whose cache matches the checkpoint and
settings, so an interrupted suite resumes per benchmark. The table has the paper's column order
(VOC, Context, Object, IN-50, IN-300, City, ADE, Stuff) and the average; the same writer shows
the experiments' rows of mean ± std over seeds (``<Column> std`` keys).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cocu.errors import CocuError, DataLayoutError
from cocu.eval.datasets import PAPER_BENCHMARKS, SegBenchmark, canonical_name, get_benchmark
from cocu.eval.protocol import Protocol, get_protocol, tcl_style
from cocu.utils.io import atomic_open, write_json

#: Named suites; ``all`` is the paper's eight in the paper's order.
SUITES: dict[str, tuple[str, ...]] = {
    "all": PAPER_BENCHMARKS,
    "paper": PAPER_BENCHMARKS,
    "object": ("voc", "context", "coco_object", "imagenet_s50", "imagenet_s300"),
    "stuff": ("cityscapes", "ade20k", "coco_stuff"),
}

#: Column headers of the paper's Table 1 / appendix Tab. 3.
COLUMNS: dict[str, str] = {
    "voc": "VOC", "context": "Context", "coco_object": "Object", "imagenet_s50": "IN-50",
    "imagenet_s300": "IN-300", "cityscapes": "City", "ade20k": "ADE", "coco_stuff": "Stuff",
}
AVERAGE = "Avg."


def is_suite(spec: str) -> bool:
    """True for a suite name or a comma list (more than one benchmark per run)."""
    return spec.strip().lower() in SUITES or "," in spec


def resolve_suite(spec: str) -> list[str]:
    """Canonical benchmark names of a suite name (``all``, ``object``, ``stuff``) or a comma list."""
    key = spec.strip().lower()
    if key in SUITES:
        return list(SUITES[key])
    names: list[str] = []
    for part in spec.split(","):
        if part.strip():
            name = canonical_name(part)
            if name not in names:
                names.append(name)
    if not names:
        raise CocuError(f"no benchmark named in {spec!r}; suites: {', '.join(SUITES)}")
    return names


def column(name: str) -> str:
    """Table header of a benchmark."""
    return COLUMNS.get(name, name)


def locate(names: Sequence[str], data_root: str | Path) -> tuple[dict[str, SegBenchmark], dict[str, str]]:
    """Load every benchmark's file list under ``data_root``: ``(found, missing)`` where
    ``missing`` maps a name to the layout problem (nothing is read beyond the file names)."""
    found: dict[str, SegBenchmark] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            found[name] = get_benchmark(name, data_root)
        except DataLayoutError as exc:
            missing[name] = str(exc)
    return found, missing


def missing_message(missing: Mapping[str, str], data_root: str | Path) -> str:
    """One message naming every benchmark that is not laid out under ``data_root``."""
    lines = [f"{len(missing)} benchmark(s) not found under {data_root}: "
             + ", ".join(column(n) for n in missing)]
    lines += [f"  {column(n)}: {msg}" for n, msg in missing.items()]
    lines.append("  (docs/DATASETS.md shows each layout; --skip-missing runs the others)")
    return "\n".join(lines)


@dataclass(frozen=True)
class SuiteSettings:
    """Protocol changes applied to every benchmark of a suite (``None``: the benchmark's default)."""

    templates: str = "groupvit"          # groupvit | tcl
    pamr: bool = False
    threshold: float | None = None       # background threshold (benchmarks with a background)
    mode: str | None = None              # slide | whole
    crop: int | None = None
    stride: int | None = None
    short_side: int | None = None
    gate: str | None = None              # image | groups (top-k gate)
    subset: int | None = None
    window_batch: int = 16

    def protocol(self, bench: SegBenchmark) -> Protocol:
        """The benchmark's preset with these changes (as ``cocu eval`` applies its flags)."""
        protocol = get_protocol(bench.protocol)
        if self.templates == "tcl":
            protocol = tcl_style(protocol, pamr=self.pamr)
        protocol = protocol.with_(bg_thresh=self.threshold, pamr=True if self.pamr else None,
                                  mode=self.mode, crop=self.crop, stride=self.stride, gate=self.gate)
        if self.short_side is not None:
            protocol = protocol.with_(img_scale=(max(2048, self.short_side), self.short_side))
        return protocol

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> SuiteSettings:
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(d or {}) - names)
        if unknown:
            raise CocuError(f"unknown evaluation settings {unknown}; known: {sorted(names)}")
        return cls(**dict(d or {}))


def json_safe(obj: Any) -> Any:
    """NaN → None so the JSON is standard."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def checkpoint_identity(checkpoint: str | Path) -> dict[str, Any]:
    """What a cached result is tied to: the file's resolved path, size and mtime (or a preset name)."""
    p = Path(checkpoint)
    if p.is_file():
        st = p.stat()
        return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"name": str(checkpoint)}


def write_per_class(path: Path, result: Mapping[str, Any]) -> None:
    """``class, IoU, Acc`` (percent) of one benchmark result."""
    pc = result["per_class"]
    names = pc.get("names") or result.get("classes") or [str(i) for i in range(len(pc["IoU"]))]
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["class", "IoU", "Acc"])
        for name, iou, acc in zip(names, pc["IoU"], pc["Acc"]):
            w.writerow([name, _pct_cell(iou), _pct_cell(acc)])


def _pct_cell(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


@dataclass
class SuiteResult:
    """Per-benchmark results (``cocu eval`` records) of one checkpoint, and what was skipped."""

    names: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)

    def miou(self) -> dict[str, float]:
        """mIoU (%) per evaluated benchmark."""
        return {n: float(r["mIoU"]) if r["mIoU"] is not None else math.nan
                for n, r in self.results.items()}


def evaluate_suite(checkpoint: str | Path, names: Sequence[str], data_root: str | Path,
                   out_dir: str | Path, *, settings: SuiteSettings | None = None,
                   skip_missing: bool = False, device: str = "auto", model: Any = None,
                   label: str | None = None) -> SuiteResult:
    """Evaluate ``checkpoint`` on every benchmark in ``names`` found under ``data_root``.

    Missing benchmarks raise one CocuError naming all of them before anything runs, unless
    ``skip_missing``. Results are cached per benchmark in ``out_dir`` (valid while the checkpoint
    file, the settings and the benchmark's image count are unchanged). Writes
    ``out_dir/table.{md,csv,json}`` (one row, ``label`` or the checkpoint's name).
    """
    import json

    settings = settings or SuiteSettings()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CocuError(f"--out {out} exists and is not a folder")
    found, missing = locate(names, data_root)
    if missing and not skip_missing:
        raise CocuError(missing_message(missing, data_root))
    result = SuiteResult(list(names), missing=missing)
    ident = checkpoint_identity(checkpoint)
    for name in names:
        if name not in found:
            continue
        bench = found[name]
        key = {"checkpoint": ident, "settings": asdict(settings), "root": str(bench.root),
               "images": len(bench)}
        path = out / f"{name}.json"
        if path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                old = {}
            if old.get("cache_key") == key:
                result.results[name] = old
                result.cached.append(name)
                continue
        if model is None:
            from cocu.models.checkpoint import load_model
            from cocu.utils.device import resolve_device

            device = resolve_device(device)
            model = load_model(checkpoint, map_location=device)
        from cocu.eval.evaluate import evaluate

        r = evaluate(model, bench, protocol=settings.protocol(bench), subset=settings.subset,
                     device=device, window_batch=settings.window_batch)
        r["checkpoint"] = str(checkpoint)
        r["cache_key"] = key
        r = json_safe(r)
        write_per_class(out / f"{name}_per_class.csv", r)
        write_json(path, r)
        result.results[name] = r
    write_suite_tables([result_row(label or Path(str(checkpoint)).stem, result, names)], names,
                       out, "table")
    return result


# ------------------------------------------------------------------ tables

def average(values: Mapping[str, float], names: Sequence[str]) -> tuple[float, int]:
    """Mean mIoU over the benchmarks of ``names`` that have a number, and how many those are."""
    vals = [values[n] for n in names if n in values and not math.isnan(values[n])]
    return (sum(vals) / len(vals) if vals else math.nan), len(vals)


def result_row(label: str, result: SuiteResult, names: Sequence[str]) -> dict[str, Any]:
    """One checkpoint's row: ``model``, ``seeds`` (1), ``<Column>`` mIoU per benchmark (NaN for a
    gap), ``Avg.`` and ``averaged`` (how many benchmarks the average covers)."""
    miou = result.miou()
    row: dict[str, Any] = {"model": label, "seeds": 1}
    for name in names:
        row[column(name)] = miou.get(name, math.nan)
    row[AVERAGE], row["averaged"] = average(miou, names)
    return row


def format_cell(mean: float, std: float | None, seeds: int) -> str:
    """``12.3`` or ``12.3 ± 0.4`` (std shown from two seeds on); ``—`` for a gap."""
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:.1f}" + (f" ± {std:.1f}" if seeds > 1 and std is not None and not math.isnan(std) else "")


def markdown(rows: Sequence[Mapping[str, Any]], names: Sequence[str],
             lead: Sequence[str] = ("model",)) -> str:
    """The paper-style table: ``lead`` columns, one column per benchmark, then the average."""
    heads = list(lead) + [column(n) for n in names] + [AVERAGE]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    notes = []
    for r in rows:
        cells = ["—" if r.get(c) is None else str(r.get(c)) for c in lead]
        cells += [format_cell(r[column(n)], r.get(column(n) + " std"), r["seeds"]) for n in names]
        avg = format_cell(r[AVERAGE], r.get(AVERAGE + " std"), r["seeds"])
        if r["averaged"] < len(names) and avg != "—":
            avg += "*"
            notes.append(f"\\* {r['model']}: average over {r['averaged']} of {len(names)} benchmarks")
        lines.append("| " + " | ".join(cells + [avg]) + " |")
    text = "\n".join(lines)
    if any(r["seeds"] > 1 for r in rows):
        text += "\n\nmIoU in %, mean ± sample std over seeds."
    if notes:
        text += "\n\n" + "\n".join(dict.fromkeys(notes))
    return text


def write_suite_tables(rows: Sequence[Mapping[str, Any]], names: Sequence[str], out_dir: str | Path,
                       name: str, lead: Sequence[str] = ("model",)) -> dict[str, Path]:
    """``name``.md (the table), ``name``.csv (numbers, one line per model), ``name``.json."""
    out = Path(out_dir)
    paths = {"markdown": out / f"{name}.md", "csv": out / f"{name}.csv", "json": out / f"{name}.json"}
    with atomic_open(paths["markdown"], "w", encoding="utf-8") as fh:
        fh.write(markdown(rows, names, lead) + "\n")
    fields = list(rows[0]) if rows else ["model"]
    with atomic_open(paths["csv"], "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows([{k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                     for r in rows])
    write_json(paths["json"], {"benchmarks": list(names), "columns": [column(n) for n in names],
                               "rows": json_safe([dict(r) for r in rows])})
    return paths
