"""ProjectMLP: the projection heads of GroupViT (Conv1d(k=1) + BatchNorm + ReLU + Conv1d)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectMLP(nn.Module):
    """Maps features [B, C] or [B, L, C] to [B, D] or [B, L, D].

    BatchNorm statistics run over all B·L rows (under DDP the trainer converts it to SyncBatchNorm,
    as the official code does; the state-dict keys are the same).
    """

    def __init__(self, in_dim: int, inner_dim: int = 4096, out_dim: int = 256, num_layers: int = 2):
        super().__init__()
        hidden: list[nn.Module] = []
        for i in range(num_layers - 1):
            hidden += [nn.Conv1d(in_dim if i == 0 else inner_dim, inner_dim, kernel_size=1),
                       nn.BatchNorm1d(inner_dim), nn.ReLU(inplace=True)]
        self.linear_hidden = nn.Sequential(*hidden)
        if num_layers >= 1:
            self.linear_out: nn.Module = nn.Conv1d(in_dim if num_layers == 1 else inner_dim, out_dim, kernel_size=1)
        else:
            self.linear_out = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim not in (2, 3):
            raise ValueError(f"ProjectMLP expects [B, C] or [B, L, C], got shape {tuple(x.shape)}")
        lead = x.shape[:-1]
        h = x.reshape(-1, x.shape[-1])  # [N, C]: a k=1 Conv1d over [B, C, L] is a Linear over B·L rows
        for m in self.linear_hidden:
            h = _linear(m, h) if isinstance(m, nn.Conv1d) else m(h)
        h = _linear(self.linear_out, h) if isinstance(self.linear_out, nn.Conv1d) else self.linear_out(h)
        return h.reshape(*lead, h.shape[-1])


def _linear(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """Apply a kernel-size-1 Conv1d to rows [N, C_in] → [N, C_out]."""
    return F.linear(x, conv.weight.squeeze(-1), conv.bias)
