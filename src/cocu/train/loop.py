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
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from cocu.errors import CocuError
from cocu.models.objective import Objective
from cocu.train import distributed as D
from cocu.train.checkpoint import find_latest, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from cocu.train.config import TrainConfig
from cocu.train.data import COUNTERS, StreamState, TrainStream, count_samples, make_loader, usable_shards
from cocu.train.gradcache import grad_cache_backward
from cocu.train.optim import WarmupCosine, build_optimizer, scaled_lr
from cocu.train.prompts import SampleTexts, sample_texts
from cocu.train.run_dir import check_resume_config, prepare_run_dir, truncate_log
from cocu.utils.io import write_json
from cocu.utils.progress import progress
from cocu.utils.seed import seed_everything

log = logging.getLogger(__name__)
LOSS_NAMES = ("loss", "loss_caption", "loss_multi_label", "grad_norm")
GROUNDED_LOSS_NAMES = ("loss_grounding", "loss_affinity")


def loss_names(objective: Objective) -> tuple[str, ...]:
    """The per-step values written to log.jsonl (the paper objective's four, then the grounded terms)."""
    return LOSS_NAMES + (GROUNDED_LOSS_NAMES if objective.name == "grounded" else ())


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
    from cocu.models.groupvit import Embeddings

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
    from functools import partial

    from cocu.data.transforms import decode_side, train_transform
    from cocu.models.tokenizer import tokenize

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


def _train(cfg: TrainConfig, info: D.DistInfo, on_step: Callable | None) -> TrainResult:
    from cocu.models import create_model

    device, world = info.device, info.world_size
    cfg.check_global_batch(world)
    run_dir = Path(cfg.out)
    ckpt_dir = run_dir / "checkpoints"
    # ---- inputs and outputs are checked before anything is computed or written ----
    prepare_run_dir(run_dir, resume=cfg.resume, overwrite=cfg.overwrite, main=info.is_main)
    shards, unreadable = usable_shards(cfg.shards)
    texts = sample_texts(cfg, shards)  # prompt source + templates; checks a curation now
    if cfg.amp == "fp16" and device.type != "cuda":
        raise CocuError("--amp fp16 needs a GPU (it uses a loss scaler); use --amp bf16 on CPU")

    # ---- model (identical init on every rank), then per-rank randomness ----
    seed_everything(cfg.seed)
    model = create_model(cfg.model, **cfg.model_overrides).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if world > 1 and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # projector BN sees the global batch
    seed_everything(cfg.seed + info.rank)

    # ---- schedule: epochs are sample counts ----
    global_batch = cfg.batch_size * world
    epoch_samples = cfg.epoch_samples or count_samples(shards)
    steps_per_epoch = max(1, epoch_samples // global_batch)
    total_steps = (cfg.samples // global_batch if cfg.samples else round(cfg.epochs * steps_per_epoch))
    total_steps = max(1, total_steps)
    warmup_steps = min(round(cfg.warmup_epochs * steps_per_epoch), total_steps - 1)

    base_lr = scaled_lr(cfg.lr, global_batch, cfg.lr_batch)
    optimizer = build_optimizer(model, lr=base_lr, weight_decay=cfg.weight_decay, betas=tuple(cfg.betas),
                                eps=cfg.eps, no_decay_extra=cfg.no_decay_extra)
    scheduler = WarmupCosine(optimizer, base_lr=base_lr,
                             warmup_lr=scaled_lr(cfg.warmup_lr, global_batch, cfg.lr_batch),
                             min_lr=scaled_lr(cfg.min_lr, global_batch, cfg.lr_batch),
                             warmup_steps=warmup_steps, total_steps=total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")

    # ---- resume ----
    step, samples_seen, resumed_from, data_state = 0, 0, None, None
    counts = dict.fromkeys(COUNTERS, 0)  # this rank's share; rank 0 also carries the resumed totals
    if cfg.resume:
        found = find_latest(run_dir) if cfg.resume == "auto" else (Path(cfg.resume), load_checkpoint(cfg.resume))
        if found is None:
            log.info("no valid checkpoint in %s; starting from scratch", ckpt_dir)
            if info.is_main:
                truncate_log(run_dir / "log.jsonl", 0)  # steps of a run that left no checkpoint
        else:
            path, ckpt = found
            check_resume_config(ckpt.get("config"), cfg.to_dict(), path, TrainConfig().to_dict())
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            step, samples_seen = ckpt["step"], ckpt["samples_seen"]
            if info.is_main:  # global counts, carried by rank 0
                counts.update({k: int(v) for k, v in ckpt.get("counts", {"corrupt": ckpt["corrupt"]}).items()})
            ranks = ckpt["rng"]
            if len(ranks) == world:
                set_rng_state(ranks[info.rank])
                data_state = StreamState.from_dict(ckpt["data"][info.rank])
            else:
                log.warning("checkpoint was written by %d processes, this run has %d: "
                            "random streams restart", len(ranks), world)
            resumed_from = str(path)
            log.info("resumed from %s at step %d (%d samples)", path, step, samples_seen)
            if info.is_main:
                truncate_log(run_dir / "log.jsonl", step)
    if info.is_main:  # only now: a refused resume must not rewrite the run's settings
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", cfg.to_dict())

    # ---- wrappers: compile, DDP ----
    grad_cache = cfg.grad_cache_chunk is not None and cfg.grad_cache_chunk < cfg.batch_size
    raw_model = model
    if cfg.compile:
        # the vision tower only, in place (state-dict keys unchanged): the text tower runs in
        # length buckets whose shapes vary from step to step
        raw_model.img_encoder.compile()
    if world > 1 and not grad_cache:
        # the official run does not re-broadcast BN buffers every forward (mmcv broadcast_buffers=False)
        import inspect
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
                   else {"broadcast_buffers": False})
        # no device_ids: DDP would move the text ids to the GPU, the text tower plans on the host
        model = DDP(model, device_ids=None, **no_sync)
    autocast = _autocast(device, cfg.amp)
    objective = cfg.objective_spec()
    names = loss_names(objective)
    params = [p for p in raw_model.parameters() if p.requires_grad]

    # ---- data ----
    stream, _ = _build_data(cfg, raw_model, info, step, data_state, shards, texts)
    loader = make_loader(stream, workers=cfg.workers, pin_memory=device.type == "cuda")
    positions: dict[int, tuple[int, int]] = dict(data_state.positions) if data_state else {}

    # ---- logging ----
    writer = None
    if info.is_main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None)
    bar = progress(total=total_steps, initial=step, desc="train", unit="step", disable=None if info.is_main else True)
    pending: list[torch.Tensor] = []   # per-step [loss, loss_caption, loss_multi_label, grad_norm] on device
    pending_meta: list[dict[str, float]] = []
    last_values: dict[str, float] = {}
    last_ckpt: str | None = None
    t_start = t_flush = time.perf_counter()
    data_wait = 0.0
    start_step, start_samples = step, samples_seen

    def save(tag: str) -> None:
        nonlocal last_ckpt
        rngs = D.all_gather_object(rng_state())
        datas = D.all_gather_object(StreamState(stream.n_slots, positions).to_dict())
        total = _sum_counts(D.all_gather_object(counts))
        if info.is_main:
            payload = {"step": step, "epoch": step / steps_per_epoch, "samples_seen": samples_seen,
                       "corrupt": total["corrupt"], "counts": total, "model": raw_model.state_dict(),
                       "model_name": cfg.model, "model_config": _model_config(raw_model),
                       "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                       "scaler": scaler.state_dict(), "rng": rngs, "data": datas, "config": cfg.to_dict()}
            path = save_checkpoint(ckpt_dir / tag, payload)
            save_checkpoint(ckpt_dir / "last.pt", payload) if tag != "last.pt" else None
            last_ckpt = str(path)
        D.barrier()

    def flush() -> None:
        """The one host sync per interval: per-step losses → log.jsonl, TensorBoard, progress bar."""
        nonlocal pending, pending_meta, t_flush, data_wait, last_values
        if not pending:
            return
        values = torch.stack(pending)
        if world > 1:  # each rank holds the loss of its rows; the global loss is their mean
            values = D.all_reduce_mean(values)
        rows = values.float().cpu().tolist()
        now = time.perf_counter()
        ips = len(rows) * global_batch / max(now - t_flush, 1e-9)
        if info.is_main:
            text = "".join(json.dumps({"step": meta["step"], **dict(zip(names, row, strict=True)),
                                       "lr": meta["lr"]}) + "\n"
                           for row, meta in zip(rows, pending_meta, strict=True))
            try:  # one write per flush; a torn last line (kill mid-write) is dropped on resume
                with open(run_dir / "log.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                from cocu.utils.io import write_failure
                raise write_failure(run_dir / "log.jsonl", exc) from exc
            last = dict(zip(names, rows[-1], strict=True))
            s = pending_meta[-1]["step"]
            for k, v in last.items():
                writer.add_scalar(f"train/{k}", v, s)
            writer.add_scalar("train/lr", pending_meta[-1]["lr"], s)
            writer.add_scalar("train/temperature", 1.0 / math.exp(raw_model.logit_scale.item()), s)
            writer.add_scalar("perf/images_per_s", ips, s)
            writer.add_scalar("perf/data_wait_s_per_step", data_wait / len(rows), s)
            bar.set_postfix(loss=f"{last['loss']:.3f}", img_s=f"{ips:.0f}")
            last_values = last
        pending, pending_meta, t_flush, data_wait = [], [], now, 0.0

    # ---- the loop ----
    model.train()
    stopped = False
    t_wait = time.perf_counter()
    batches = iter(loader) if step < total_steps else iter(())
    for batch in batches:
        data_wait += time.perf_counter() - t_wait
        if "error" in batch:  # a data slot found nothing usable in its shards
            raise CocuError(batch["error"])
        images = batch["images"]
        text_ids = batch["text_ids"]
        if cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)

        if grad_cache:
            out = _grad_cache_step(model, raw_model, images, text_ids, objective, cfg.grad_cache_chunk,
                                   scaler.scale, autocast, device)
            _all_reduce_grads(params, world)
        else:
            images = images.to(device, non_blocking=True)  # text ids stay on the host (see TextTransformer)
            with autocast():
                out = model(images, text_ids, objective)
            scaler.scale(out.loss).backward()
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        lr = scheduler.get_last_lr()
        scheduler.step()

        step += 1
        samples_seen += global_batch
        positions[batch["slot"]] = tuple(batch["position"])
        for k, v in batch["counts"].items():
            counts[k] += int(v)
        parts = [out.loss, out.loss_caption, out.loss_multi_label, grad_norm]
        if objective.name == "grounded":
            parts += [out.loss_grounding, out.loss_affinity]
        pending.append(torch.stack([torch.zeros((), device=out.loss.device) if v is None else v.detach().float()
                                    for v in parts]))
        pending_meta.append({"step": step, "lr": lr})
        bar.update(1)

        if step % cfg.log_every == 0 or step == total_steps:
            flush()
        if step % steps_per_epoch == 0 or step == total_steps:
            flush()
            save(f"epoch_{math.ceil(step / steps_per_epoch):04d}.pt")
        elif cfg.save_every and step % cfg.save_every == 0:
            flush()
            save("last.pt")
        if on_step is not None:
            on_step(step, {"loss": out.loss.detach()})
        if step >= total_steps:
            break
        if cfg.max_steps is not None and step - start_step >= cfg.max_steps:
            stopped = True
            break
        t_wait = time.perf_counter()
    flush()
    bar.close()
    wall = time.perf_counter() - t_start
    total = _sum_counts(D.all_gather_object(counts))
    _warn_counts(total, samples_seen - start_samples, cfg)
    result = TrainResult(run_dir=str(run_dir), steps=step, total_steps=total_steps, samples_seen=samples_seen,
                         corrupt=total["corrupt"], final=last_values, wall_time_s=wall,
                         images_per_s=(step - start_step) * global_batch / max(wall, 1e-9),
                         checkpoint=last_ckpt, resumed_from=resumed_from,
                         extra={"world_size": world, "global_batch": global_batch,
                                "steps_per_epoch": steps_per_epoch, "stopped_early": stopped,
                                "missing_curation": total["missing_curation"] if cfg.prompts == "curated" else None,
                                "corrupt_shards": total["corrupt_shards"], "unreadable_shards": unreadable})
    if info.is_main:
        writer.close()
        write_json(run_dir / "summary.json", result.__dict__)
    return result


def _sum_counts(per_rank: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(int(c.get(k, 0)) for c in per_rank) for k in COUNTERS}


def _warn_counts(total: dict[str, int], samples: int, cfg: TrainConfig) -> None:
    """Say it when a run trained on something other than what was asked for."""
    if cfg.prompts == "curated" and total["missing_curation"]:
        log.warning("%d sample draws had no entry in the curation %s and used their caption's concepts "
                    "instead (the baseline's prompts); %d samples were drawn in this invocation",
                    total["missing_curation"], cfg.curation, samples)
    if total["corrupt_shards"]:
        log.warning("%d shard reads ended early (truncated shards; see the warnings above)",
                    total["corrupt_shards"])


def _model_config(model: nn.Module) -> dict[str, Any] | None:
    cfg = getattr(model, "config", None)
    return cfg.to_dict() if hasattr(cfg, "to_dict") else None
