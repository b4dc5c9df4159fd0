"""A tiny GroupViT-shaped model and tokenizer for segmenter tests (independent of cocu.models)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FakeImageOutput:
    image_x: torch.Tensor
    image_feat: torch.Tensor
    attn_soft: list = field(default_factory=list)
    grid: tuple = (0, 0)


class FakeGroupViT(nn.Module):
    """Two grouping stages (G0 -> G1) over 8-px patches; every sample is computed on its own,
    so results do not depend on how windows are batched."""

    def __init__(self, patch: int = 8, embed: int = 24, g0: int = 6, g1: int = 3, dim: int = 16,
                 vocab: int = 64, seed: int = 0, report_grid: bool = True):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.patch = patch
        self.report_grid = report_grid
        self.embed = nn.Parameter(torch.randn(3 * patch * patch, embed, generator=gen) * 0.3)
        self.w0 = nn.Parameter(torch.randn(embed, g0, generator=gen))
        self.w1 = nn.Parameter(torch.randn(embed, g1, generator=gen))
        self.proj = nn.Parameter(torch.randn(embed, dim, generator=gen))
        self.tok = nn.Parameter(torch.randn(vocab, dim, generator=gen))
        self.tproj = nn.Parameter(torch.randn(dim, dim, generator=gen))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def _one(self, x: torch.Tensor):
        p = self.patch
        h, w = x.shape[-2] // p, x.shape[-1] // p
        tokens = F.unfold(x[None], kernel_size=p, stride=p)[0].T @ self.embed  # [L, E]
        tokens = torch.tanh(tokens)
        a0 = F.softmax(tokens @ self.w0 * 2.0, dim=-1).T  # [G0, L], softmax over groups
        g0 = (a0 @ tokens) / (a0.sum(-1, keepdim=True) + 1)
        a1 = F.softmax(g0 @ self.w1 * 2.0, dim=-1).T  # [G1, G0]
        g1 = (a1 @ g0) / (a1.sum(-1, keepdim=True) + 1)
        return g1 @ self.proj, g1.mean(0) @ self.proj, a0, a1, (h, w)

    def encode_image(self, images, *, return_feat=False, return_attn=False):
        outs = [self._one(x) for x in images]
        feat = torch.stack([o[0] for o in outs])
        pooled = torch.stack([o[1] for o in outs])
        attn = [torch.stack([o[2] for o in outs]), torch.stack([o[3] for o in outs])]
        return FakeImageOutput(pooled, feat if return_feat else None, attn if return_attn else [],
                               outs[0][4] if self.report_grid else None)

    def encode_text(self, ids):
        return torch.stack([self.tok[row].mean(0) @ self.tproj for row in ids])


def fake_tokenize(texts, length: int = 16) -> torch.Tensor:
    """Bytes mod 64, zero padded: different strings give different ids."""
    out = torch.zeros(len(texts), length, dtype=torch.long)
    for i, t in enumerate(texts):
        b = [c % 63 + 1 for c in t.encode()][:length]
        out[i, :len(b)] = torch.tensor(b)
    return out
