"""Device selection."""

from __future__ import annotations

import torch

from cocu.errors import CocuError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; an explicit CUDA request without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CocuError(f"device {name!r} requested but CUDA is not available")
    return device
