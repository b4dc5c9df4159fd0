"""Training checkpoints: everything needed to continue a run exactly, written atomically.

Layout in ``RUN_DIR/checkpoints/``: ``epoch_XXXX.pt`` at the end of each epoch, ``last.pt``
at every save. A checkpoint is a plain dict loadable with ``torch.load(weights_only=True)``
(RNG states are stored as tensors and plain Python values, no pickled objects)::

    {"format": "cocu-train-1", "step", "epoch", "samples_seen", "corrupt",
     "model", "model_name", "model_config", "optimizer", "scheduler", "scaler",
     "rng": {"python", "numpy", "torch", "cuda"}, "data": StreamState dict per rank,
     "config": TrainConfig dict}
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cocu.errors import CocuError
from cocu.utils.io import atomic_path

log = logging.getLogger(__name__)
FORMAT = "cocu-train-1"


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
