"""Training checkpoints: everything needed to continue a run exactly, written atomically.

Layout in ``RUN_DIR/checkpoints/``: ``epoch_XXXX.pt`` at the end of each epoch, ``last.pt``
at every save. A checkpoint is a plain dict loadable with ``torch.load(weights_only=True)``
(RNG states are stored as tensors and plain Python values, no pickled objects); its fields are
those of :class:`TrainCheckpoint`, in this order, after ``"format": "cocu-train-1"``::

    {"format", "step", "epoch", "samples_seen", "corrupt", "counts",
     "model", "model_name", "model_config", "optimizer", "scheduler", "scaler",
     "rng": [{"python", "numpy", "torch", "cuda"} per rank], "data": [StreamState dict per rank],
     "config": TrainConfig dict}
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cocu.errors import CocuError
from cocu.models.checkpoint import save_model
from cocu.train import distributed as D
from cocu.train.data import COUNTERS, StreamState
from cocu.utils.io import atomic_path

log = logging.getLogger(__name__)
FORMAT = "cocu-train-1"


@dataclass
class TrainCheckpoint:
    """The payload of a training checkpoint (rank 0 writes the values of every rank)."""

    step: int
    epoch: float  # step / steps per epoch
    samples_seen: int
    corrupt: int  # == counts["corrupt"]; kept for checkpoints written before ``counts``
    counts: dict[str, int]  # the data counters (cocu.train.data.COUNTERS) summed over ranks
    model: dict[str, torch.Tensor]
    model_name: str | None
    model_config: dict[str, Any] | None
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    rng: list[dict[str, Any]]  # rng_state() per rank
    data: list[dict[str, Any]]  # StreamState.to_dict() per rank
    config: dict[str, Any] | None  # TrainConfig.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The fields in declaration order (no copies: the state dicts are saved as they are)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, ckpt: dict[str, Any]) -> TrainCheckpoint:
        """A loaded checkpoint (older ones may lack ``counts``, ``config`` and the model description)."""
        return cls(step=ckpt["step"], epoch=ckpt["epoch"], samples_seen=ckpt["samples_seen"],
                   corrupt=ckpt["corrupt"], counts=ckpt.get("counts", {"corrupt": ckpt["corrupt"]}),
                   model=ckpt["model"], model_name=ckpt.get("model_name"), model_config=ckpt.get("model_config"),
                   optimizer=ckpt["optimizer"], scheduler=ckpt["scheduler"], scaler=ckpt["scaler"],
                   rng=ckpt["rng"], data=ckpt["data"], config=ckpt.get("config"))


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA RNG states in weights_only-loadable form."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (temp file + fsync + rename) and return the path."""
    path = Path(path)
    payload = {"format": FORMAT, **payload}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check one training checkpoint; CocuError when unreadable or foreign."""
    path = Path(path)
    if not path.is_file():
        raise CocuError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad pickle, ...
        raise CocuError(f"checkpoint {path} is unreadable (truncated or corrupt?): {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CocuError(f"{path} is not a cocu training checkpoint")
    return ckpt


def find_latest(run_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest valid checkpoint in ``RUN_DIR/checkpoints`` (by modification time; only files
    are read until one loads); truncated or corrupt files are skipped with a warning."""
    folder = Path(run_dir) / "checkpoints"
    files = sorted(folder.glob("*.pt"), key=lambda p: (p.stat().st_mtime_ns, p.name == "last.pt"),
                   reverse=True)
    for path in files:
        try:
            return path, load_checkpoint(path)
        except CocuError as exc:
            log.warning("skipping %s", exc)
    return None


def _model_config(model: nn.Module) -> dict[str, Any] | None:
    cfg = getattr(model, "config", None)
    return cfg.to_dict() if hasattr(cfg, "to_dict") else None


class Checkpointer:
    """Writes ``RUN_DIR/checkpoints/<tag>`` (and ``last.pt`` beside it) from the state of every rank.

    Every rank calls :meth:`save` (the RNG states, stream positions and counters are gathered);
    rank 0 writes. ``last`` is the path of the newest checkpoint written (rank 0), else None.
    ``keep`` > 0 deletes all but the newest ``keep`` epoch checkpoints after each one is written
    (a CC3M run's 30 epoch files are ≈ 20 GB); ``last.pt`` is always kept.
    """

    def __init__(self, folder: Path, *, model: nn.Module, model_name: str, optimizer: torch.optim.Optimizer,
                 scheduler: Any, scaler: torch.amp.GradScaler, config: dict[str, Any], steps_per_epoch: int,
                 n_slots: int, main: bool, keep: int = 0) -> None:
        self.folder, self.model, self.model_name, self.optimizer = folder, model, model_name, optimizer
        self.scheduler, self.scaler, self.config = scheduler, scaler, config
        self.steps_per_epoch, self.n_slots, self.main, self.keep = steps_per_epoch, n_slots, main, keep
        self.last: str | None = None

    def save(self, tag: str, *, step: int, samples_seen: int, positions: dict[int, tuple[int, int]],
             counts: dict[str, int]) -> None:
        """Checkpoint after ``step`` (``positions``/``counts``: this rank's stream positions and counters)."""
        rngs = D.all_gather_object(rng_state())
        datas = D.all_gather_object(StreamState(self.n_slots, positions).to_dict())
        total = D.sum_over_ranks(counts, COUNTERS)
        if self.main:
            record = TrainCheckpoint(
                step=step, epoch=step / self.steps_per_epoch, samples_seen=samples_seen, corrupt=total["corrupt"],
                counts=total, model=self.model.state_dict(), model_name=self.model_name,
                model_config=_model_config(self.model), optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(), scaler=self.scaler.state_dict(), rng=rngs, data=datas,
                config=self.config)
            path = save_checkpoint(self.folder / tag, record.to_dict())
            if tag != "last.pt":
                save_checkpoint(self.folder / "last.pt", record.to_dict())
            self.last = str(path)
            if self.keep and tag.startswith("epoch_"):
                self.prune()
        D.barrier()

    def snapshot(self, step: int) -> Path | None:
        """Keep the model's weights after ``step`` as ``snapshots/step_XXXXXX.safetensors`` (rank 0;
        weights only, for learning curves: ``cocu.models.load_model`` reads them)."""
        if not self.main:
            return None
        return save_model(self.model, self.folder / "snapshots" / f"step_{step:06d}.safetensors",
                          metadata={"step": str(step)})

    def prune(self) -> list[Path]:
        """Delete all but the newest ``keep`` epoch checkpoints (by name: ``epoch_XXXX.pt``); returns them."""
        old = sorted(self.folder.glob("epoch_*.pt"))[:-self.keep]
        for path in old:
            path.unlink(missing_ok=True)
        return old
