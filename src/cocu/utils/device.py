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


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX-BF16 in /proc/cpuinfo (Linux; False elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next(ln for ln in fh if ln.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_amp(device: str | torch.device = "auto") -> str:
    """``bf16`` where the hardware runs it natively (a CUDA GPU with bf16, a CPU with AVX512-BF16/AMX),
    else ``none`` (fp32)."""
    dev = resolve_device(device) if isinstance(device, str) else device
    if dev.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    return "bf16" if cpu_has_native_bf16() else "none"
