"""Distributed helpers: torchrun environment, process groups, gathers.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_distributed` reads them and picks NCCL on GPU, gloo on CPU.
Without them the run is a single process and nothing here talks to other processes.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from cocu.errors import CocuError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: global rank, world size, rank on its node, device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the torchrun process group when launched by torchrun; else a single process.

    GPU runs bind process ``LOCAL_RANK`` to ``cuda:LOCAL_RANK`` and use NCCL; CPU runs use gloo.
    """
    from cocu.utils.device import resolve_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        if world > 1 and local >= torch.cuda.device_count():
            raise CocuError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) visible")
        dev = torch.device("cuda", local if world > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank, world, local, dev)


def cleanup() -> None:
    """Leave the process group (safe to call when none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a list of one element without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def sum_over_ranks(counts: dict[str, int], keys: Iterable[str]) -> dict[str, int]:
    """``{key: sum over ranks of counts[key]}`` for ``keys`` (a rank without a key counts 0)."""
    per_rank = all_gather_object(counts)
    return {k: sum(int(c.get(k, 0)) for c in per_rank) for k in keys}


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of ``t`` over ranks (a new tensor; no-op copy without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return t.clone()
    t = t.clone()
    dist.all_reduce(t)
    return t / dist.get_world_size()


