"""The GroupViT training loop, readable top to bottom (nanoGPT-style).

    cocu train --shards DIR --out RUN_DIR --preset tiny
    torchrun --nproc-per-node 8 -m cocu train --shards DIR --out RUN_DIR --preset gcc_yfcc_30e

One step: a batch of images and ``1 + K`` texts per image (caption + K concept prompts) →
GroupViT → caption contrastive loss + multi-label contrastive loss (the losses gather the
embeddings of all ranks with gradients, so they see the global batch) → AdamW step with
warm-up/cosine lr and gradient clipping at 5. With ``--grad-cache-chunk M`` the same
objective is computed in chunks of M images (see ``gradcache.py``).

No host synchronisation inside a step: losses are kept on the device and copied out every
``log_every`` steps, when ``log.jsonl``, TensorBoard and the progress bar are updated.

`_train` reads as the run: inputs checked → model → `Schedule` → `Optimisation` → `resume` →
`wrap_model` → `make_forward_backward` → data stream → `RunLog` (run_log.py) and `Checkpointer`
(checkpoint.py) → the ``for batch in batches:`` loop → `_summarise` (``summary.json``).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from cocu.data.transforms import decode_side, train_transform
from cocu.errors import CocuError
from cocu.models import create_model
from cocu.models.groupvit import Embeddings
from cocu.models.objective import Objective
from cocu.models.tokenizer import tokenize
from cocu.train import distributed as D
from cocu.train.checkpoint import Checkpointer, TrainCheckpoint, find_latest, load_checkpoint, set_rng_state
from cocu.train.config import TrainConfig
from cocu.train.data import COUNTERS, StreamState, TrainStream, count_samples, make_loader, usable_shards
from cocu.train.gradcache import grad_cache_backward
from cocu.train.optim import WarmupCosine, build_optimizer, scaled_lr
from cocu.train.prompts import SampleTexts, sample_texts
from cocu.train.run_dir import check_resume_config, prepare_run_dir, truncate_log
from cocu.train.run_log import RunLog
from cocu.utils.io import write_json
from cocu.utils.seed import seed_everything

log = logging.getLogger(__name__)
LOSS_NAMES = ("loss", "loss_caption", "loss_multi_label", "grad_norm")
GROUNDED_LOSS_NAMES = ("loss_grounding", "loss_affinity")


def loss_names(objective: Objective) -> tuple[str, ...]:
    """The per-step values written to log.jsonl (the paper objective's four, then the grounded terms)."""
    grounded = GROUNDED_LOSS_NAMES + (("loss_usage",) if objective.usage else ())
    return LOSS_NAMES + (grounded if objective.name == "grounded" else ())


@dataclass
class TrainResult:
    """What a finished (or stopped) run reports; also written to ``RUN_DIR/summary.json``."""

    run_dir: str
    steps: int
    total_steps: int
    samples_seen: int
    corrupt: int
    final: dict[str, float]
    wall_time_s: float
    images_per_s: float
    checkpoint: str | None
    resumed_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DDP / torch.compile wrappers."""
    while True:
        if isinstance(model, DDP):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _grad_cache_step(model: nn.Module, raw_model: nn.Module, images: torch.Tensor, text_ids: torch.Tensor,
                     objective: Objective, chunk: int, scale: Callable, autocast: Callable,
                     device: torch.device) -> Any:
    """One gradient-cached step of the model's own objective (`GroupViT.embed` / `GroupViT.loss`)."""
    m = unwrap(model)
    inputs = raw_model.loss_inputs(images.to(device), text_ids, objective)
    return grad_cache_backward(raw_model, images, text_ids, chunk=chunk,
                               embed=lambda im, ids: m.embed(im, ids, objective).tensors(),
                               loss_fn=lambda *e: raw_model.loss(Embeddings(*e), objective, **inputs),
                               scale=scale, autocast=autocast, device=device)


def _autocast(device: torch.device, amp: str) -> Callable[[], contextlib.AbstractContextManager]:
    if amp == "none":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def _all_reduce_grads(params: list[nn.Parameter], world: int) -> None:
    """Average gradients over ranks (the gradient-caching path, where DDP's hooks are not used)."""
    grads = [p.grad for p in params if p.grad is not None]
    if world == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads]) / world
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def _build_data(cfg: TrainConfig, model: nn.Module, info: D.DistInfo, start_step: int,
                state: StreamState | None, shards: list[Path], texts: SampleTexts) -> tuple[TrainStream, Any]:
    """The per-rank data stream over the (readable) ``shards``, with ``texts`` for the prompts."""
    size = cfg.image_size or unwrap(model).config.image_size
    context = getattr(getattr(unwrap(model), "config", None), "context_length", 77)
    stream = TrainStream(shards, batch_size=cfg.batch_size, transform=train_transform(size), texts=texts,
                         tokenize=partial(tokenize, context_length=context),
                         seed=cfg.seed, rank=info.rank, world_size=info.world_size, workers=cfg.workers,
                         shuffle_buffer=cfg.shuffle_buffer, start_step=start_step, state=state,
                         decode_side=decode_side(size))
    return stream, shards


def train(cfg: TrainConfig, *, on_step: Callable[[int, dict[str, Any]], None] | None = None) -> TrainResult:
    """Train GroupViT as configured; returns the run's summary (rank 0 also writes it).

    ``on_step(step, info)`` is called after every optimiser step (tests use it to stop a run
    as if it were killed).
    """
    cfg.validate()
    started_dist = not (dist.is_available() and dist.is_initialized())
    info = D.init_distributed(cfg.device)
    try:
        return _train(cfg, info, on_step)
    finally:
        if started_dist:
            D.cleanup()


def _check_inputs(cfg: TrainConfig, info: D.DistInfo) -> tuple[list[Path], list[str], SampleTexts]:
    """The run folder, the shards and the curation are checked before anything is computed or
    written; returns the readable shards, the names of the unreadable ones and the sample texts."""
    prepare_run_dir(Path(cfg.out), resume=cfg.resume, overwrite=cfg.overwrite, main=info.is_main)
    shards, unreadable = usable_shards(cfg.shards)
    texts = sample_texts(cfg, shards)  # prompt source + templates; checks a curation now
    if cfg.amp == "fp16" and info.device.type != "cuda":
        raise CocuError("--amp fp16 needs a GPU (it uses a loss scaler); use --amp bf16 on CPU")
    return shards, unreadable, texts


def _create_model(cfg: TrainConfig, info: D.DistInfo) -> nn.Module:
    """The model, initialised identically on every rank; then each rank's own random streams."""
    seed_everything(cfg.seed)
    model = create_model(cfg.model, **cfg.model_overrides).to(info.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if info.world_size > 1 and info.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # projector BN sees the global batch
    seed_everything(cfg.seed + info.rank)
    return model


@dataclass(frozen=True)
class Schedule:
    """The run's length in optimiser steps; epochs are sample counts."""

    global_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    def checkpoint_tag(self, step: int, save_every: int | None) -> str | None:
        """``epoch_XXXX.pt`` at the end of an epoch (and of the run), ``last.pt`` every
        ``save_every`` steps, else None."""
        if step % self.steps_per_epoch == 0 or step == self.total_steps:
            return f"epoch_{math.ceil(step / self.steps_per_epoch):04d}.pt"
        if save_every and step % save_every == 0:
            return "last.pt"
        return None


def make_schedule(cfg: TrainConfig, world: int, shards: list[Path]) -> Schedule:
    """Steps per epoch, total and warm-up steps of ``cfg`` on ``world`` processes."""
    global_batch = cfg.batch_size * world
    epoch_samples = cfg.epoch_samples or count_samples(shards)
    steps_per_epoch = max(1, epoch_samples // global_batch)
    total_steps = (cfg.samples // global_batch if cfg.samples else round(cfg.epochs * steps_per_epoch))
    total_steps = max(1, total_steps)
    warmup_steps = min(round(cfg.warmup_epochs * steps_per_epoch), total_steps - 1)
    return Schedule(global_batch, steps_per_epoch, total_steps, warmup_steps)


@dataclass
class Optimisation:
    """What updates the weights: AdamW, its warm-up/cosine learning rate, the fp16 loss scaler."""

    optimizer: torch.optim.Optimizer
    scheduler: WarmupCosine
    scaler: torch.amp.GradScaler


def build_optimisation(cfg: TrainConfig, model: nn.Module, sched: Schedule) -> Optimisation:
    """AdamW and the schedule at learning rates scaled to the global batch."""
    global_batch = sched.global_batch
    base_lr = scaled_lr(cfg.lr, global_batch, cfg.lr_batch)
    optimizer = build_optimizer(model, lr=base_lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas),
                                eps=cfg.eps, no_decay_extra=cfg.no_decay_extra, logit_scale_lr=cfg.logit_scale_lr)
    scheduler = WarmupCosine(optimizer, base_lr=base_lr,
                             warmup_lr=scaled_lr(cfg.warmup_lr, global_batch, cfg.lr_batch),
                             min_lr=scaled_lr(cfg.min_lr, global_batch, cfg.lr_batch),
                             warmup_steps=sched.warmup_steps, total_steps=sched.total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
    return Optimisation(optimizer, scheduler, scaler)


@dataclass
class Start:
    """Where this invocation starts: step 0, or what a checkpoint restored."""

    step: int = 0
    samples_seen: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))  # rank 0: global totals
    data_state: StreamState | None = None
    resumed_from: str | None = None


def resume(cfg: TrainConfig, info: D.DistInfo, model: nn.Module, opt: Optimisation) -> Start:
    """With ``cfg.resume`` (``auto`` or a path): load the checkpoint into ``model`` and ``opt``,
    restore this rank's RNG and stream positions, cut ``log.jsonl`` back to the checkpoint's step."""
    start, run_dir = Start(), Path(cfg.out)
    if not cfg.resume:
        return start
    found = find_latest(run_dir) if cfg.resume == "auto" else (Path(cfg.resume), load_checkpoint(cfg.resume))
    if found is None:
        log.info("no valid checkpoint in %s; starting from scratch", run_dir / "checkpoints")
        if info.is_main:
            truncate_log(run_dir / "log.jsonl", 0)  # steps of a run that left no checkpoint
        return start
    path, ckpt = found[0], TrainCheckpoint.from_dict(found[1])
    check_resume_config(ckpt.config, cfg.to_dict(), path, TrainConfig.saved_defaults())
    model.load_state_dict(ckpt.model)
    opt.optimizer.load_state_dict(ckpt.optimizer)
    opt.scheduler.load_state_dict(ckpt.scheduler)
    opt.scaler.load_state_dict(ckpt.scaler)
    start.step, start.samples_seen = ckpt.step, ckpt.samples_seen
    if info.is_main:  # global counts, carried by rank 0
        start.counts.update({k: int(v) for k, v in ckpt.counts.items()})
    if len(ckpt.rng) == info.world_size:
        set_rng_state(ckpt.rng[info.rank])
        start.data_state = StreamState.from_dict(ckpt.data[info.rank])
    else:
        log.warning("checkpoint was written by %d processes, this run has %d: "
                    "random streams restart", len(ckpt.rng), info.world_size)
    start.resumed_from = str(path)
    log.info("resumed from %s at step %d (%d samples)", path, start.step, start.samples_seen)
    if info.is_main:
        truncate_log(run_dir / "log.jsonl", start.step)
    return start


def _uses_grad_cache(cfg: TrainConfig) -> bool:
    return cfg.grad_cache_chunk is not None and cfg.grad_cache_chunk < cfg.batch_size


def wrap_model(cfg: TrainConfig, model: nn.Module, world: int) -> nn.Module:
    """The module the forward runs through: the vision tower compiled in place (state-dict keys
    unchanged; the text tower runs in length buckets whose shapes vary from step to step), then
    DDP over several processes (not with gradient caching, which averages gradients itself)."""
    if cfg.compile:
        model.img_encoder.compile()
    if world > 1 and not _uses_grad_cache(cfg):
        # the official run does not re-broadcast BN buffers every forward (mmcv broadcast_buffers=False)
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
                   else {"broadcast_buffers": False})
        # no device_ids: DDP would move the text ids to the GPU, the text tower plans on the host
        return DDP(model, device_ids=None, **no_sync)
    return model


def make_forward_backward(cfg: TrainConfig, model: nn.Module, raw_model: nn.Module, scaler: torch.amp.GradScaler,
                          info: D.DistInfo) -> Callable[[dict[str, Any], Objective], Any]:
    """``forward_backward(batch, objective)`` → the model's output on the batch, the (scaled)
    gradients of ``objective`` accumulated in ``.grad`` and averaged over ranks (by DDP, or after
    gradient caching). The objective is given per step (`Objective.at`: a term may stop)."""
    device, world = info.device, info.world_size
    grad_cache, autocast = _uses_grad_cache(cfg), _autocast(device, cfg.amp)
    params = [p for p in raw_model.parameters() if p.requires_grad]

    def forward_backward(batch: dict[str, Any], objective: Objective) -> Any:
        images, text_ids = batch["images"], batch["text_ids"]
        if cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if grad_cache:
            out = _grad_cache_step(model, raw_model, images, text_ids, objective, cfg.grad_cache_chunk,
                                   scaler.scale, autocast, device)
            _all_reduce_grads(params, world)
            return out
        images = images.to(device, non_blocking=True)  # text ids stay on the host (see TextTransformer)
        with autocast():
            out = model(images, text_ids, objective)
        scaler.scale(out.loss).backward()
        return out

    return forward_backward


def step_values(out: Any, grad_norm: torch.Tensor, objective: Objective) -> torch.Tensor:
    """The values of ``loss_names(objective)`` for one step, ``[n]`` float32 on the device
    (0 for a loss part the model did not compute); each name is a ``GroupViTOutput`` field."""
    parts = [grad_norm if name == "grad_norm" else getattr(out, name) for name in loss_names(objective)]
    return torch.stack([torch.zeros((), device=out.loss.device) if v is None else v.detach().float()
                        for v in parts])


def _train(cfg: TrainConfig, info: D.DistInfo, on_step: Callable | None) -> TrainResult:
    """This process's part of the run: set-up steps, the loop, the summary."""
    device, world = info.device, info.world_size
    cfg.check_global_batch(world)
    run_dir = Path(cfg.out)
    shards, unreadable, texts = _check_inputs(cfg, info)
    raw_model = _create_model(cfg, info)
    sched = make_schedule(cfg, world, shards)
    opt = build_optimisation(cfg, raw_model, sched)
    start = resume(cfg, info, raw_model, opt)
    if info.is_main:  # only now: a refused resume must not rewrite the run's settings
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", cfg.to_dict())
    model = wrap_model(cfg, raw_model, world)
    objective = cfg.objective_spec()
    forward_backward = make_forward_backward(cfg, model, raw_model, opt.scaler, info)
    params = [p for p in raw_model.parameters() if p.requires_grad]
    stream, _ = _build_data(cfg, raw_model, info, start.step, start.data_state, shards, texts)
    loader = make_loader(stream, workers=cfg.workers, pin_memory=device.type == "cuda")
    run_log = RunLog(run_dir, loss_names(objective), model=raw_model, global_batch=sched.global_batch, world=world,
                     main=info.is_main, step=start.step, total_steps=sched.total_steps)
    checkpointer = Checkpointer(run_dir / "checkpoints", model=raw_model, model_name=cfg.model, optimizer=opt.optimizer,
                                scheduler=opt.scheduler, scaler=opt.scaler, config=cfg.to_dict(),
                                steps_per_epoch=sched.steps_per_epoch, n_slots=stream.n_slots, main=info.is_main,
                                keep=cfg.keep_checkpoints)
    step, samples_seen, counts = start.step, start.samples_seen, start.counts  # counts: this rank's share
    positions: dict[int, tuple[int, int]] = dict(start.data_state.positions) if start.data_state else {}

    # ---- the loop ----
    model.train()
    stopped = False
    t_wait = time.perf_counter()
    batches = iter(loader) if step < sched.total_steps else iter(())
    for batch in batches:
        run_log.data_wait += time.perf_counter() - t_wait
        if "error" in batch:  # a data slot found nothing usable in its shards
            raise CocuError(batch["error"])
        if cfg.isolate_from:  # the model is built with its isolation on
            raw_model.img_encoder.set_isolation(step >= cfg.isolate_from * sched.total_steps)
        out = forward_backward(batch, objective.at(step / sched.total_steps))
        opt.scaler.unscale_(opt.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
        opt.optimizer.zero_grad(set_to_none=True)
        lr = opt.scheduler.get_last_lr()
        opt.scheduler.step()

        step += 1
        samples_seen += sched.global_batch
        positions[batch["slot"]] = tuple(batch["position"])
        for k, v in batch["counts"].items():
            counts[k] += int(v)
        run_log.record(step, lr, step_values(out, grad_norm, objective))

        if step % cfg.log_every == 0 or step == sched.total_steps:
            run_log.flush()
        tag = sched.checkpoint_tag(step, cfg.save_every)
        if tag is not None:
            run_log.flush()
            checkpointer.save(tag, step=step, samples_seen=samples_seen, positions=positions, counts=counts)
        if cfg.snapshot_every and step % cfg.snapshot_every == 0:
            checkpointer.snapshot(step)
        if on_step is not None:
            on_step(step, {"loss": out.loss.detach()})
        if step >= sched.total_steps:
            break
        if cfg.max_steps is not None and step - start.step >= cfg.max_steps:
            stopped = True
            break
        t_wait = time.perf_counter()
    wall = run_log.close()
    return _summarise(cfg, info, sched, start, step=step, samples_seen=samples_seen, counts=counts, wall=wall,
                      final=run_log.last_values, checkpoint=checkpointer.last, stopped=stopped,
                      unreadable=unreadable)


def _summarise(cfg: TrainConfig, info: D.DistInfo, sched: Schedule, start: Start, *, step: int, samples_seen: int,
               counts: dict[str, int], wall: float, final: dict[str, float], checkpoint: str | None,
               stopped: bool, unreadable: list[str]) -> TrainResult:
    """The run's `TrainResult` (counters summed over ranks); rank 0 writes it to ``summary.json``."""
    total = D.sum_over_ranks(counts, COUNTERS)
    _warn_counts(total, samples_seen - start.samples_seen, cfg)
    result = TrainResult(run_dir=str(Path(cfg.out)), steps=step, total_steps=sched.total_steps,
                         samples_seen=samples_seen, corrupt=total["corrupt"], final=final, wall_time_s=wall,
                         images_per_s=(step - start.step) * sched.global_batch / max(wall, 1e-9),
                         checkpoint=checkpoint, resumed_from=start.resumed_from,
                         extra={"world_size": info.world_size, "global_batch": sched.global_batch,
                                "steps_per_epoch": sched.steps_per_epoch, "stopped_early": stopped,
                                "missing_curation": total["missing_curation"] if cfg.prompts == "curated" else None,
                                "corrupt_shards": total["corrupt_shards"], "unreadable_shards": unreadable})
    if info.is_main:
        write_json(Path(cfg.out) / "summary.json", result.__dict__)
    return result


def _warn_counts(total: dict[str, int], samples: int, cfg: TrainConfig) -> None:
    """Say it when a run trained on something other than what was asked for."""
    if cfg.prompts == "curated" and total["missing_curation"]:
        log.warning("%d sample draws had no entry in the curation %s and used their caption's concepts "
                    "instead (the baseline's prompts); %d samples were drawn in this invocation",
                    total["missing_curation"], cfg.curation, samples)
    if total["corrupt_shards"]:
        log.warning("%d shard reads ended early (truncated shards; see the warnings above)",
                    total["corrupt_shards"])
