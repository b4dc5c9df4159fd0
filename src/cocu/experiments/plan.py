"""``cocu experiment ... --plan``: check every input, list the steps and what is done, estimate disk
and compute — before anything runs.

Checks: the shard list and its sample count (img2dataset ``*_stats.json`` or tar headers), that
the CLIP weights load, each benchmark's layout, the recipe's batch plan and training settings,
the vocabulary. Every problem is collected and reported at once (CocuError, exit 2).

The compute estimate is training only (it dominates): images per run / throughput. The
throughput is, in order: ``--throughput`` (yours, images/s per device), the rate a training run
in this experiment folder measured, else the project's own benchmark number for the model,
which was measured on a 2-core CPU — each stated as such.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocu.data.shards import shard_stem
from cocu.errors import CocuError
from cocu.experiments.real import RealExperiment, row_label
from cocu.experiments.regimes import Regime

#: Training throughput measured by this project (README "Development"; benchmarks/train_throughput.py,
#: ours, 2-core AMD EPYC CPU, 2 threads). No GPU measurement exists in the project.
PROJECT_THROUGHPUT: dict[str, tuple[float, float, str]] = {
    # model: (fp32 img/s, bf16 img/s, how)
    "groupvit_gcc_yfcc_30e": (4.78, 7.39, "benchmarks/train_throughput.py, batch 8, 224 px, 2-core CPU"),
    "groupvit_tiny": (129.3, 223.4, "benchmarks/train_throughput.py, batch 64, 64 px, 2-core CPU"),
}

CURATION_BYTES_PER_ANCHOR_PER_N = 40.0  # rough: parquet sidecar with ~N concepts × 5 columns


@dataclass
class Plan:
    """What ``--plan`` found (``lines`` is the printed report)."""

    ok: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    samples: int = 0
    disk_bytes: float = 0.0
    device_hours: float | None = None
    steps_total: int = 0
    steps_done: int = 0

    def text(self) -> str:
        return "\n".join(self.lines)


def _gb(n: float) -> str:
    if n >= 1e8:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _index_bytes(n: int, d: int, factory: str) -> float:
    from cocu.curation.index import auto_factory

    if factory == "auto":
        factory, _ = auto_factory(n, d)
    if "PQ" in factory:
        m = int(factory.split("PQ")[1].split("x")[0])
        code = m / 2 if "x4" in factory else m
        return n * (code + 8)
    return n * d * 4.0


def _model_params(name: str, overrides: dict) -> int:
    import torch

    from cocu.models import create_model

    with torch.device("meta"):
        model = create_model(name, **overrides)
    return sum(p.numel() for p in model.parameters())


def _measured_throughput(exp: RealExperiment) -> tuple[float, str] | None:
    """images/s per process from the newest summary.json or log.jsonl under OUT/runs."""
    best = None
    for run in sorted((exp.root / "runs").glob("*")):
        summary = run / "summary.json"
        if summary.is_file():
            s = json.loads(summary.read_text(encoding="utf-8"))
            world = s.get("extra", {}).get("world_size", 1)
            if s.get("images_per_s"):
                best = (s["images_per_s"] / world, f"measured by {run.name} in this experiment "
                                                   f"({world} process(es), summary.json)")
    return best


def make_plan(exp: RealExperiment, kind: str, regimes: list[Regime], seeds: list[int], *,
              throughput: float | None = None) -> Plan:
    """Check inputs and describe the steps of ``regimes`` × ``seeds`` (nothing is computed)."""
    from cocu.eval.suite import column, locate
    from cocu.train.data import count_samples

    plan = Plan()
    out = plan.lines
    out.append(f"plan for {exp.root}  (recipe {exp.recipe.name}; nothing has been run)")
    out.append("")
    out.append("inputs")
    # shards
    shards: list[Path] = []
    try:
        shards = exp.shard_list()
        plan.samples = count_samples(shards)
        how = ("img2dataset _stats.json" if all(s.with_name(f"{s.stem}_stats.json").is_file() for s in shards)
               else "tar headers")
        out.append(f"  ✓ shards      {len(shards)} shards, {plan.samples:,} samples ({how}): {exp.shards}")
    except CocuError as exc:
        plan.errors.append(f"shards: {exc}")
        out.append(f"  ✗ shards      {exc}")
    # CLIP
    dim = 512
    try:
        enc = exp.encoder()
        dim = int(enc.dim)
        model, pretrained = exp.clip_source()
        src = model + (f" + {pretrained}" if pretrained else "")
        out.append(f"  ✓ CLIP        {src}: loaded, {dim}-d embeddings")
    except CocuError as exc:
        plan.errors.append(f"CLIP: {exc}")
        out.append(f"  ✗ CLIP        {exc}")
    # vocabulary
    try:
        vocab = exp.vocab()
        where = exp.vocab_file or f"the shipped one, saved as {exp.vocab_path} when run"
        out.append(f"  ✓ vocabulary  {len(vocab)} concepts ({where})")
    except CocuError as exc:
        plan.errors.append(f"vocabulary: {exc}")
        out.append(f"  ✗ vocabulary  {exc}")
    # benchmarks
    found, missing = locate(exp.benchmarks, exp.data_root)
    eval_images = 0
    for name in exp.benchmarks:
        if name in found:
            n = len(found[name].subset(exp.eval_settings.subset))
            eval_images += n
            out.append(f"  ✓ {column(name):<11} {n:,} images  {found[name].root}")
        else:
            mark = "–" if exp.skip_missing else "✗"
            out.append(f"  {mark} {column(name):<11} {missing[name]}")
    if missing:
        msg = "benchmarks not found: " + ", ".join(column(n) for n in missing)
        (plan.warnings if exp.skip_missing else plan.errors).append(
            msg + (" (skipped: --skip-missing)" if exp.skip_missing else " (--skip-missing runs the rest)"))
    # recipe
    cfg = None
    try:
        cfg = exp.train_config(regimes[0], seeds[0])
        cfg.validate()
        from cocu.train.optim import scaled_lr

        lr = scaled_lr(cfg.lr, exp.recipe.global_batch, cfg.lr_batch)
        out.append(f"  ✓ recipe      {cfg.model}, {cfg.epochs:g} epochs (warm-up {cfg.warmup_epochs:g}), "
                   f"{exp.recipe.describe_batch(exp.gpus)}, lr {cfg.lr:g} at {cfg.lr_batch} → {lr:.3g}, "
                   f"K = {cfg.multi_label}, amp {cfg.amp}")
    except CocuError as exc:
        plan.errors.append(f"recipe: {exc}")
        out.append(f"  ✗ recipe      {exc}")

    # ---- steps
    out.append("")
    out.append("steps  (✓ done, ~ partly done, · to do)")
    steps: list[tuple[str, str, str]] = []
    stems = {shard_stem(s) for s in shards}
    done_emb = len([p for p in (exp.emb_dir / "metadata").glob("*.parquet") if p.stem in stems]) \
        if (exp.emb_dir / "metadata").is_dir() else 0
    steps.append(("✓" if shards and exp.embeddings_done() else ("~" if done_emb else "·"), "embed",
                  f"{done_emb}/{len(shards)} shards → {exp.emb_dir}"))
    modalities = sorted({"img" if r.expansion == "vision" else "text" for r in regimes if r.curated})
    for m in modalities:
        steps.append(("✓" if exp.index_path(m).is_file() else "·", f"index {m}", str(exp.index_path(m))))
    curations = {r.curation_key: r for r in regimes if r.curated}
    for key, r in curations.items():
        cdir = exp.curation_dir(r)
        part = len(list(cdir.glob("*.parquet"))) if cdir.is_dir() else 0
        steps.append(("✓" if exp.curation_done(r) else ("~" if part else "·"), f"curate {key}",
                      f"{part}/{len(shards)} shards, shared by "
                      + ", ".join(row_label(x) for x in regimes if x.curated and x.curation_key == key)))
    runs_todo = 0
    for seed in seeds:
        for r in regimes:
            run = exp.run_dir(r, seed)
            if exp.train_done(r, seed):
                state = "✓"
            else:
                runs_todo += 1
                state = "~" if any((run / "checkpoints").glob("*.pt")) else "·"
            steps.append((state, f"train {run.name}", f"{row_label(r)}, seed {seed}"))
            edir = exp.eval_dir(r, seed)
            cached = [n for n in exp.benchmarks if (edir / f"{n}.json").is_file()]
            wanted = [n for n in exp.benchmarks if n in found]
            st = "✓" if wanted and all(n in cached for n in wanted) else ("~" if cached else "·")
            steps.append((st, f"eval {edir.name}", f"{len([n for n in cached if n in wanted])}/{len(wanted)} "
                                                   f"benchmarks, {eval_images:,} images"))
    tables = exp.root / f"{kind}.md"
    steps.append(("✓" if tables.is_file() and not runs_todo else "·", "tables",
                  f"{exp.root / kind}.md, .csv, .json"))
    plan.steps_total = len(steps)
    plan.steps_done = sum(1 for s in steps if s[0] == "✓")
    width = max(len(s[1]) for s in steps)
    out += [f"  {st} {name:<{width}}  {what}" for st, name, what in steps]

    # ---- disk
    n = plan.samples
    out.append("")
    out.append("disk needed (estimates)")
    disk = {
        "embeddings (img + text, float16)": n * dim * 2 * 2 + n * 120,
        "indexes": sum(_index_bytes(n, dim, exp.recipe.curation.get("index", "auto")) for _ in modalities),
        f"curations ({len(curations)}, rough)": sum(n * CURATION_BYTES_PER_ANCHOR_PER_N * r.neighbours
                                                    for r in curations.values()),
    }
    if cfg is not None:
        params = _model_params(cfg.model, cfg.model_overrides)
        epochs = cfg.samples / n if cfg.samples and n else cfg.epochs
        n_ckpt = math.ceil(epochs) + 1  # epoch_XXXX.pt per epoch + last.pt
        per_run = params * 4 * 3 * n_ckpt  # weights + AdamW moments, per epoch + last.pt
        disk[f"checkpoints ({len(seeds) * len(regimes)} runs × {n_ckpt} × "
             f"{_gb(params * 12)}, {params / 1e6:.1f} M parameters)"] = per_run * len(seeds) * len(regimes)
    for what, b in disk.items():
        out.append(f"  {_gb(b):>10}  {what}")
    plan.disk_bytes = sum(disk.values())
    out.append(f"  {_gb(plan.disk_bytes):>10}  total")

    # ---- compute
    out.append("")
    out.append("compute estimate (training only; embedding, curation and evaluation not included)")
    if cfg is not None and n:
        images = (cfg.samples or cfg.epochs * n)
        source = None
        if throughput:
            source = (throughput, "given with --throughput (yours)")
        else:
            source = _measured_throughput(exp)
            if source is None and cfg.model in PROJECT_THROUGHPUT:
                fp32, bf16, how = PROJECT_THROUGHPUT[cfg.model]
                rate = bf16 if cfg.amp == "bf16" else fp32
                source = (rate, f"the project's benchmark number ({how}, "
                                f"{'bf16' if cfg.amp == 'bf16' else 'fp32'}); NOT a GPU "
                                "measurement: pass --throughput with yours")
        if source is None:
            out.append(f"  no throughput known for {cfg.model}: pass --throughput IMG_PER_S_PER_DEVICE "
                       "(e.g. images_per_s of `cocu train ... --max-steps 50`)")
        else:
            rate, how = source
            hours = runs_todo * images / rate / 3600
            plan.device_hours = hours
            out.append(f"  {runs_todo} run(s) to train × {images:,.0f} images at {rate:g} img/s per device")
            out.append(f"  throughput: {how}")
            out.append(f"  ≈ {hours:,.1f} device-hours; ≈ {hours / exp.gpus:,.1f} h wall on {exp.gpus} "
                       "device(s) if scaling is linear")
    import torch

    if exp.gpus > 1 and torch.cuda.device_count() < exp.gpus:
        plan.warnings.append(f"this machine sees {torch.cuda.device_count()} GPU(s); --gpus {exp.gpus} "
                             "launches that many torchrun processes where the experiment runs")
    plan.ok = not plan.errors
    if plan.warnings:
        out.append("")
        out += [f"warning: {w}" for w in plan.warnings]
    if plan.errors:
        out.append("")
        out.append(f"{len(plan.errors)} problem(s) must be fixed before running:")
        out += [f"  - {e}" for e in plan.errors]
    return plan


def plan_summary(plan: Plan) -> dict[str, Any]:
    """JSON-ready numbers of a plan."""
    return {"ok": plan.ok, "errors": plan.errors, "warnings": plan.warnings, "samples": plan.samples,
            "disk_bytes": plan.disk_bytes, "device_hours": plan.device_hours,
            "steps_total": plan.steps_total, "steps_done": plan.steps_done}
