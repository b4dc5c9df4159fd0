"""Group assignment functions: softmax over groups, hard one-hot with straight-through gradients,
and the Gumbel-softmax used while training (official GroupViT semantics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def straight_through_one_hot(y_soft: torch.Tensor, dim: int) -> torch.Tensor:
    """One-hot of ``argmax(y_soft, dim)`` in the forward pass, gradient of ``y_soft`` backwards.

    The forward value is exactly one-hot (``y_hard + (y_soft - y_soft.detach())`` adds an exact 0).
    """
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = torch.zeros_like(y_soft).scatter_(dim, index, 1.0)
    return y_hard + (y_soft - y_soft.detach())


def hard_softmax(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """Deterministic hard assignment: one-hot argmax forward, softmax gradient (eval path)."""
    return straight_through_one_hot(logits.softmax(dim), dim)


def sample_gumbel(like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel(0, 1) noise of ``like``'s shape, computed in float32 (no host sync)."""
    tiny = torch.finfo(torch.float32).tiny
    eps = torch.finfo(torch.float32).eps
    u = torch.rand(like.shape, device=like.device, dtype=torch.float32).clamp_(tiny, 1.0 - eps)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: torch.Tensor, dim: int, *, tau: float = 1.0, hard: bool = True) -> torch.Tensor:
    """Gumbel-softmax over ``dim``; with ``hard`` the forward is one-hot (straight-through)."""
    wide = logits.to(torch.promote_types(logits.dtype, torch.float32))
    y_soft = ((wide + sample_gumbel(logits)) / tau).softmax(dim).to(logits.dtype)
    return straight_through_one_hot(y_soft, dim) if hard else y_soft


def assign(logits: torch.Tensor, dim: int, *, hard: bool, gumbel: bool, tau: float = 1.0) -> torch.Tensor:
    """The assignment matrix of AssignAttention.get_attn: Gumbel (training) / hard / soft softmax."""
    if gumbel:
        return gumbel_softmax(logits, dim, tau=tau, hard=hard)
    if hard:
        return hard_softmax(logits, dim)
    return F.softmax(logits, dim)
