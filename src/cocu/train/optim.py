"""Optimiser and learning-rate schedule, as the official GroupViT code sets them up.

* AdamW, weight decay 0.05; no decay on 1-D parameters (norm weights, biases) and on
  anything named ``*.bias`` (official ``set_weight_decay``). ``no_decay_extra=True`` also
  exempts group tokens, position embeddings and the logit scales, which the official rule
  decays (they are 0-D or 3-D); off by default for parity.
* ``logit_scale_lr`` ≠ 1 puts the two logit scales in a third group that learns at that multiple
  of the scheduled rate (``lr_scale``, timm's param-group key) without weight decay (decay would
  pull them back at the same multiple). At 1 (the default) the groups are the official two.
* Learning rates scale linearly with the global batch: ``lr * global_batch / 4096``
  (also warm-up and minimum lr).
* Per-step schedule: linear warm-up from ``warmup_lr`` over ``warmup_steps``, then cosine to
  ``min_lr`` at ``total_steps``, with timm ``CosineLRScheduler`` semantics
  (``warmup_prefix=False``: the cosine phase is measured from step 0, so at the end of the
  warm-up it is already slightly below the peak).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

REFERENCE_BATCH = 4096
EXTRA_NO_DECAY = ("group_token", "pos_embed", "positional_embedding", "logit_scale")
LOGIT_SCALE = "logit_scale"  # the end of both scales' names (logit_scale, multi_label_logit_scale)


def scaled_lr(lr: float, global_batch: int, reference_batch: int = REFERENCE_BATCH) -> float:
    """The official linear scaling rule: ``lr × global_batch / 4096`` (the reference batch)."""
    return lr * global_batch / reference_batch


def param_groups(model: nn.Module, weight_decay: float, *, no_decay_extra: bool = False,
                 logit_scale_lr: float = 1.0) -> list[dict[str, Any]]:
    """AdamW groups: decayed weights and non-decayed (1-D, biases [, tokens/scales]); with
    ``logit_scale_lr`` ≠ 1 a third, undecayed group of the logit scales at that lr multiple."""
    decay, no_decay, scales = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if logit_scale_lr != 1.0 and name.endswith(LOGIT_SCALE):
            scales.append(p)
            continue
        skip = p.ndim == 1 or name.endswith(".bias")
        if no_decay_extra:
            skip = skip or p.ndim == 0 or any(k in name for k in EXTRA_NO_DECAY)
        (no_decay if skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if scales:
        groups.append({"params": scales, "weight_decay": 0.0, "lr_scale": logit_scale_lr})
    return groups


def build_optimizer(model: nn.Module, *, lr: float, weight_decay: float,
                    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                    no_decay_extra: bool = False, logit_scale_lr: float = 1.0,
                    fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (``fused`` kernels by default on CPU and CUDA)."""
    groups = param_groups(model, weight_decay, no_decay_extra=no_decay_extra, logit_scale_lr=logit_scale_lr)
    kwargs: dict[str, Any] = {}
    if fused is None:
        fused = all(p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])
    if fused:
        kwargs["fused"] = True
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, **kwargs)


class WarmupCosine:
    """Sets the optimiser's lr for each step; ``state_dict`` holds the step count."""

    def __init__(self, optimizer: torch.optim.Optimizer, *, base_lr: float, warmup_lr: float,
                 min_lr: float, warmup_steps: int, total_steps: int):
        self.optimizer = optimizer
        self.base_lr, self.warmup_lr, self.min_lr = base_lr, warmup_lr, min_lr
        self.warmup_steps, self.total_steps = int(warmup_steps), max(1, int(total_steps))
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        """Learning rate used by optimiser step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return self.warmup_lr + step * (self.base_lr - self.warmup_lr) / self.warmup_steps
        t = min(step, self.total_steps)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t / self.total_steps))

    def _apply(self) -> None:
        lr = self.lr_at(self.step_count)
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)

    def step(self) -> None:
        """Advance after ``optimizer.step()``; the next step's lr is set."""
        self.step_count += 1
        self._apply()

    def get_last_lr(self) -> float:
        """The scheduled lr (group 0's; a group with ``lr_scale`` runs at a multiple of it)."""
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "base_lr": self.base_lr, "warmup_lr": self.warmup_lr,
                "min_lr": self.min_lr, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._apply()
