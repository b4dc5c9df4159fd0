"""CLIP text transformer of GroupViT (key names of NVlabs/GroupViT ``models/transformer.py``).

Attention uses nn.MultiheadAttention's parameter layout (``in_proj_weight``, ``in_proj_bias``,
``out_proj``) with a causal fused kernel; ``fused=False`` runs the explicit masked-softmax maths.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as torch_checkpoint
from torch import nn

from cocu.models.config import GroupViTConfig


class QuickGELU(nn.Module):
    """x · sigmoid(1.702 x), as in CLIP."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with nn.MultiheadAttention's parameter names."""

    def __init__(self, width: int, heads: int, fused: bool = True):
        super().__init__()
        self.heads = heads
        self.fused = fused
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, W] → [B, T, W]; token t attends to tokens ≤ t."""
        b, t, w = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.reshape(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = torch.full((t, t), float("-inf"), device=x.device, dtype=q.dtype).triu_(1)
            attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5) + mask
            out = attn.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, w))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block: causal attention and a QuickGELU MLP."""

    def __init__(self, width: int, heads: int, fused: bool = True):
        super().__init__()
        self.attn = CausalSelfAttention(width, heads, fused)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of residual attention blocks (CLIP init)."""

    def __init__(self, width: int, layers: int, heads: int, fused: bool = True, use_checkpoint: bool = False):
        super().__init__()
        self.width = width
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, fused) for _ in range(layers)])
        self.use_checkpoint = use_checkpoint
        proj_std = width**-0.5 * (2 * layers) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                x = torch_checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


class TextTransformer(nn.Module):
    """Token ids [N, T] → the final-LayerNorm feature at the EOT token (argmax id) [N, W]."""

    def __init__(self, cfg: GroupViTConfig):
        super().__init__()
        self.context_length = cfg.context_length
        self.width = cfg.text_width
        self.trim = cfg.trim_text
        self.trim_on_device = cfg.trim_text_on_device
        self.transformer = Transformer(cfg.text_width, cfg.text_layers, cfg.text_heads,
                                       fused=cfg.fused_attention, use_checkpoint=cfg.use_checkpoint)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, cfg.text_width))
        self.ln_final = nn.LayerNorm(cfg.text_width)
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)

    def _trim(self, ids: torch.Tensor) -> torch.Tensor:
        """Drop the padding columns after the last EOT of the batch (rounded up to a multiple of 8).

        With a causal mask the EOT feature never sees later tokens, so this changes no result. Needs
        the EOT position on the host: with ``trim_text``, done for CPU ids, for device ids only when
        ``trim_text_on_device`` (one host sync), never under torch.compile.
        """
        on_host = ids.device.type == "cpu"
        if not self.trim or torch.compiler.is_compiling() or not (on_host or self.trim_on_device):
            return ids
        length = int(ids.argmax(dim=-1).max()) + 1
        length = min(ids.shape[1], -(-length // 8) * 8)
        return ids[:, :length]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [N, T ≤ context_length] (long) → [N, width]."""
        if ids.shape[-1] > self.context_length:
            raise ValueError(f"text ids have {ids.shape[-1]} tokens, context length is {self.context_length}")
        eot = ids.argmax(dim=-1)
        ids = self._trim(ids)
        x = self.token_embedding(ids) + self.positional_embedding[: ids.shape[1]]
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0], device=x.device), eot]

    def set_fused_attention(self, fused: bool) -> None:
        for m in self.modules():
            if isinstance(m, CausalSelfAttention):
                m.fused = fused
