"""What a training run reports while it runs: ``log.jsonl``, TensorBoard scalars, the progress bar.

The per-step values stay on the device (no host sync inside a step); :meth:`RunLog.flush`, called
every ``log_every`` steps and before each checkpoint, copies them out once, averages them over
ranks and writes one ``log.jsonl`` line per step (rank 0)::

    {"step": 7, "loss": ..., "loss_caption": ..., "loss_multi_label": ..., "grad_norm": ..., "lr": ...}

TensorBoard gets the last step of each flush: ``train/<value>``, ``train/lr``,
``train/temperature``, ``perf/images_per_s``, ``perf/data_wait_s_per_step``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from cocu.train import distributed as D
from cocu.utils.io import write_failure
from cocu.utils.progress import progress


class RunLog:
    """Buffers the per-step values of ``names`` and writes them out at :meth:`flush`.

    ``data_wait`` is added to by the loop (seconds spent waiting for batches since the last flush).
    """

    def __init__(self, run_dir: Path, names: tuple[str, ...], *, model: nn.Module, global_batch: int,
                 world: int, main: bool, step: int, total_steps: int) -> None:
        self.path = run_dir / "log.jsonl"
        self.names, self.model, self.global_batch, self.world, self.main = names, model, global_batch, world, main
        self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None) if main else None
        self.bar = progress(total=total_steps, initial=step, desc="train", unit="step",
                            disable=None if main else True)
        self.pending: list[torch.Tensor] = []  # per-step [*names] on the device
        self.pending_meta: list[dict[str, Any]] = []
        self.last_values: dict[str, float] = {}
        self.t_start = self.t_flush = time.perf_counter()
        self.data_wait = 0.0

    def record(self, step: int, lr: list[float], values: torch.Tensor) -> None:
        """Keep one step's ``values`` [len(names)] (on the device) and its learning rates."""
        self.pending.append(values)
        self.pending_meta.append({"step": step, "lr": lr})
        self.bar.update(1)

    def flush(self) -> None:
        """The one host sync per interval: pending values → log.jsonl, TensorBoard, progress bar."""
        if not self.pending:
            return
        values = torch.stack(self.pending)
        if self.world > 1:  # each rank holds the loss of its rows; the global loss is their mean
            values = D.all_reduce_mean(values)
        rows = values.float().cpu().tolist()
        now = time.perf_counter()
        ips = len(rows) * self.global_batch / max(now - self.t_flush, 1e-9)
        if self.main:
            self._append(rows)
            self._scalars(rows, ips)
        self.pending, self.pending_meta, self.t_flush, self.data_wait = [], [], now, 0.0

    def _append(self, rows: list[list[float]]) -> None:
        text = "".join(json.dumps({"step": meta["step"], **dict(zip(self.names, row, strict=True)),
                                   "lr": meta["lr"]}) + "\n"
                       for row, meta in zip(rows, self.pending_meta, strict=True))
        try:  # one write per flush; a torn last line (kill mid-write) is dropped on resume
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise write_failure(self.path, exc) from exc

    def _scalars(self, rows: list[list[float]], ips: float) -> None:
        last = dict(zip(self.names, rows[-1], strict=True))
        s = self.pending_meta[-1]["step"]
        for k, v in last.items():
            self.writer.add_scalar(f"train/{k}", v, s)
        self.writer.add_scalar("train/lr", self.pending_meta[-1]["lr"], s)
        self.writer.add_scalar("train/temperature", 1.0 / math.exp(self.model.logit_scale.item()), s)
        self.writer.add_scalar("train/multi_label_temperature",
                               1.0 / math.exp(self.model.multi_label_logit_scale.item()), s)
        self.writer.add_scalar("perf/images_per_s", ips, s)
        self.writer.add_scalar("perf/data_wait_s_per_step", self.data_wait / len(rows), s)
        self.bar.set_postfix(loss=f"{last['loss']:.3f}", img_s=f"{ips:.0f}")
        self.last_values = last

    def close(self) -> float:
        """Flush, close the bar and the TensorBoard writer; the seconds since the log was opened."""
        self.flush()
        self.bar.close()
        wall = time.perf_counter() - self.t_start
        if self.writer is not None:
            self.writer.close()
        return wall
