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
    plan = Plan()
    plan.lines += [f"plan for {exp.root}  (recipe {exp.recipe.name}; nothing has been run)", "", "inputs"]
    shards = _check_shards(plan, exp)
    dim = _check_clip(plan, exp)
    _check_vocab(plan, exp)
    found, eval_images = _check_benchmarks(plan, exp)
    cfg = _check_recipe(plan, exp, regimes, seeds)
    runs_todo = _list_steps(plan, exp, kind, regimes, seeds, shards, found, eval_images)
    _estimate_disk(plan, exp, regimes, seeds, cfg, dim)
    _estimate_compute(plan, exp, cfg, runs_todo, throughput)
    _conclude(plan, exp)
    return plan


def _check_shards(plan: Plan, exp: RealExperiment) -> list[Path]:
    """The shard list ([] when it cannot be made) and its sample count (``plan.samples``)."""
    from cocu.train.data import count_samples

    shards: list[Path] = []
    try:
        shards = exp.shard_list()
        plan.samples = count_samples(shards)
        how = ("img2dataset _stats.json" if all(s.with_name(f"{s.stem}_stats.json").is_file() for s in shards)
               else "tar headers")
        plan.lines.append(f"  ✓ shards      {len(shards)} shards, {plan.samples:,} samples ({how}): {exp.shards}")
    except CocuError as exc:
        _fail(plan, "shards", exc)
    return shards


def _fail(plan: Plan, what: str, exc: CocuError) -> None:
    """Record an input check that failed: an error for the summary, a ✗ line for the listing."""
    plan.errors.append(f"{what}: {exc}")
    plan.lines.append(f"  ✗ {what:<12}{exc}")


def _check_clip(plan: Plan, exp: RealExperiment) -> int:
    """That the CLIP weights load; their embedding width (512 when they do not)."""
    dim = 512
    try:
        enc = exp.encoder()
        dim = int(enc.dim)
        model, pretrained = exp.clip_source()
        src = model + (f" + {pretrained}" if pretrained else "")
        plan.lines.append(f"  ✓ CLIP        {src}: loaded, {dim}-d embeddings")
    except CocuError as exc:
        _fail(plan, "CLIP", exc)
    return dim


def _check_vocab(plan: Plan, exp: RealExperiment) -> None:
    try:
        vocab = exp.vocab()
        where = exp.vocab_file or f"the shipped one, saved as {exp.vocab_path} when run"
        plan.lines.append(f"  ✓ vocabulary  {len(vocab)} concepts ({where})")
    except CocuError as exc:
        _fail(plan, "vocabulary", exc)


def _check_benchmarks(plan: Plan, exp: RealExperiment) -> tuple[dict[str, Any], int]:
    """Each benchmark's layout: the ones found (name → dataset) and their image count in total."""
    from cocu.eval.suite import column, locate

    found, missing = locate(exp.benchmarks, exp.data_root)
    eval_images = 0
    for name in exp.benchmarks:
        if name in found:
            n = len(found[name].subset(exp.eval_settings.subset))
            eval_images += n
            plan.lines.append(f"  ✓ {column(name):<11} {n:,} images  {found[name].root}")
        else:
            mark = "–" if exp.skip_missing else "✗"
            plan.lines.append(f"  {mark} {column(name):<11} {missing[name]}")
    if missing:
        msg = "benchmarks not found: " + ", ".join(column(n) for n in missing)
        (plan.warnings if exp.skip_missing else plan.errors).append(
            msg + (" (skipped: --skip-missing)" if exp.skip_missing else " (--skip-missing runs the rest)"))
    return found, eval_images


def _check_recipe(plan: Plan, exp: RealExperiment, regimes: list[Regime], seeds: list[int]) -> Any:
    """The training settings of the first run (a TrainConfig; None when it cannot be made)."""
    cfg = None
    try:
        cfg = exp.train_config(regimes[0], seeds[0])
        cfg.validate()
        from cocu.train.optim import scaled_lr

        lr = scaled_lr(cfg.lr, exp.recipe.global_batch, cfg.lr_batch)
        plan.lines.append(f"  ✓ recipe      {cfg.model}, {cfg.epochs:g} epochs (warm-up {cfg.warmup_epochs:g}), "
                          f"{exp.recipe.describe_batch(exp.gpus)}, lr {cfg.lr:g} at {cfg.lr_batch} → {lr:.3g}, "
                          f"K = {cfg.multi_label}, amp {cfg.amp}")
    except CocuError as exc:
        _fail(plan, "recipe", exc)
    return cfg


def _modalities(regimes: list[Regime]) -> list[str]:
    """The index modalities the curated regimes retrieve from (``img`` for vision expansion)."""
    return sorted({"img" if r.expansion == "vision" else "text" for r in regimes if r.curated})


def _curations(regimes: list[Regime]) -> dict[str, Regime]:
    """One curated regime per distinct curation (regimes that differ only in training share one)."""
    return {r.curation_key: r for r in regimes if r.curated}


def _list_steps(plan: Plan, exp: RealExperiment, kind: str, regimes: list[Regime], seeds: list[int],
                shards: list[Path], found: dict[str, Any], eval_images: int) -> int:
    """The steps and how far each is done (``plan.steps_*``); returns the runs still to train."""
    steps = _prepare_steps(exp, regimes, shards)
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
            steps.append(_eval_step(exp, r, seed, found, eval_images))
    tables = exp.root / f"{kind}.md"
    steps.append(("✓" if tables.is_file() and not runs_todo else "·", "tables",
                  f"{exp.root / kind}.md, .csv, .json"))
    plan.steps_total = len(steps)
    plan.steps_done = sum(1 for s in steps if s[0] == "✓")
    width = max(len(s[1]) for s in steps)
    plan.lines += ["", "steps  (✓ done, ~ partly done, · to do)"]
    plan.lines += [f"  {st} {name:<{width}}  {what}" for st, name, what in steps]
    return runs_todo


def _prepare_steps(exp: RealExperiment, regimes: list[Regime], shards: list[Path]) -> list[tuple[str, str, str]]:
    """(state, step, what) of the shared steps before training: embed, index, curate."""
    steps: list[tuple[str, str, str]] = []
    stems = {shard_stem(s) for s in shards}
    done_emb = len([p for p in (exp.emb_dir / "metadata").glob("*.parquet") if p.stem in stems]) \
        if (exp.emb_dir / "metadata").is_dir() else 0
    steps.append(("✓" if shards and exp.embeddings_done() else ("~" if done_emb else "·"), "embed",
                  f"{done_emb}/{len(shards)} shards → {exp.emb_dir}"))
    for m in _modalities(regimes):
        steps.append(("✓" if exp.index_path(m).is_file() else "·", f"index {m}", str(exp.index_path(m))))
    for key, r in _curations(regimes).items():
        cdir = exp.curation_dir(r)
        part = len(list(cdir.glob("*.parquet"))) if cdir.is_dir() else 0
        steps.append(("✓" if exp.curation_done(r) else ("~" if part else "·"), f"curate {key}",
                      f"{part}/{len(shards)} shards, shared by "
                      + ", ".join(row_label(x) for x in regimes if x.curated and x.curation_key == key)))
    return steps


def _eval_step(exp: RealExperiment, regime: Regime, seed: int, found: dict[str, Any],
               eval_images: int) -> tuple[str, str, str]:
    """(state, step, what) of one run's evaluation: done when every benchmark found is cached."""
    edir = exp.eval_dir(regime, seed)
    cached = [n for n in exp.benchmarks if (edir / f"{n}.json").is_file()]
    wanted = [n for n in exp.benchmarks if n in found]
    st = "✓" if wanted and all(n in cached for n in wanted) else ("~" if cached else "·")
    return (st, f"eval {edir.name}", f"{len([n for n in cached if n in wanted])}/{len(wanted)} "
                                     f"benchmarks, {eval_images:,} images")


def _estimate_disk(plan: Plan, exp: RealExperiment, regimes: list[Regime], seeds: list[int], cfg: Any,
                   dim: int) -> None:
    """Bytes of embeddings, indexes, curations and checkpoints (``plan.disk_bytes``)."""
    n = plan.samples
    curations = _curations(regimes)
    plan.lines += ["", "disk needed (estimates)"]
    disk = {
        "embeddings (img + text, float16)": n * dim * 2 * 2 + n * 120,
        "indexes": sum(_index_bytes(n, dim, exp.recipe.curation.get("index", "auto")) for _ in _modalities(regimes)),
        f"curations ({len(curations)}, rough)": sum(n * CURATION_BYTES_PER_ANCHOR_PER_N * r.neighbours
                                                    for r in curations.values()),
    }
    if cfg is not None:
        params = _model_params(cfg.model, cfg.model_overrides)
        epochs = cfg.samples / n if cfg.samples and n else cfg.epochs
        kept = math.ceil(epochs)  # epoch_XXXX.pt per epoch (the newest keep_checkpoints, when set)
        n_ckpt = (min(kept, cfg.keep_checkpoints) if cfg.keep_checkpoints else kept) + 1  # + last.pt
        per_run = params * 4 * 3 * n_ckpt  # weights + AdamW moments, per epoch + last.pt
        disk[f"checkpoints ({len(seeds) * len(regimes)} runs × {n_ckpt} × "
             f"{_gb(params * 12)}, {params / 1e6:.1f} M parameters)"] = per_run * len(seeds) * len(regimes)
    for what, b in disk.items():
        plan.lines.append(f"  {_gb(b):>10}  {what}")
    plan.disk_bytes = sum(disk.values())
    plan.lines.append(f"  {_gb(plan.disk_bytes):>10}  total")


def _throughput_source(exp: RealExperiment, cfg: Any, throughput: float | None) -> tuple[float, str] | None:
    """(images/s per device, where the number comes from): yours, measured here, the project's; else None."""
    if throughput:
        return (throughput, "given with --throughput (yours)")
    source = _measured_throughput(exp)
    if source is None and cfg.model in PROJECT_THROUGHPUT:
        fp32, bf16, how = PROJECT_THROUGHPUT[cfg.model]
        rate = bf16 if cfg.amp == "bf16" else fp32
        source = (rate, f"the project's benchmark number ({how}, "
                        f"{'bf16' if cfg.amp == 'bf16' else 'fp32'}); NOT a GPU "
                        "measurement: pass --throughput with yours")
    return source


def _estimate_compute(plan: Plan, exp: RealExperiment, cfg: Any, runs_todo: int,
                      throughput: float | None) -> None:
    """Device-hours of the runs still to train (``plan.device_hours``)."""
    out = plan.lines
    out += ["", "compute estimate (training only; embedding, curation and evaluation not included)"]
    n = plan.samples
    if cfg is None or not n:
        return
    images = (cfg.samples or cfg.epochs * n)
    source = _throughput_source(exp, cfg, throughput)
    if source is None:
        out.append(f"  no throughput known for {cfg.model}: pass --throughput IMG_PER_S_PER_DEVICE "
                   "(e.g. images_per_s of `cocu train ... --max-steps 50`)")
        return
    rate, how = source
    hours = runs_todo * images / rate / 3600
    plan.device_hours = hours
    out.append(f"  {runs_todo} run(s) to train × {images:,.0f} images at {rate:g} img/s per device")
    out.append(f"  throughput: {how}")
    out.append(f"  ≈ {hours:,.1f} device-hours; ≈ {hours / exp.gpus:,.1f} h wall on {exp.gpus} "
               "device(s) if scaling is linear")


def _conclude(plan: Plan, exp: RealExperiment) -> None:
    """The GPU count warning, then every warning and problem at the end of the report."""
    import torch

    if exp.gpus > 1 and torch.cuda.device_count() < exp.gpus:
        plan.warnings.append(f"this machine sees {torch.cuda.device_count()} GPU(s); --gpus {exp.gpus} "
                             "launches that many torchrun processes where the experiment runs")
    plan.ok = not plan.errors
    out = plan.lines
    if plan.warnings:
        out.append("")
        out += [f"warning: {w}" for w in plan.warnings]
    if plan.errors:
        out.append("")
        out.append(f"{len(plan.errors)} problem(s) must be fixed before running:")
        out += [f"  - {e}" for e in plan.errors]
