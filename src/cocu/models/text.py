"""CLIP text transformer of GroupViT (key names of NVlabs/GroupViT ``models/transformer.py``).

Attention uses nn.MultiheadAttention's parameter layout (``in_proj_weight``, ``in_proj_bias``,
``out_proj``) with a causal fused kernel; ``fused=False`` runs the official call (``nn.MultiheadAttention``'s
functional form on [T, B, W] with an additive causal mask, ``need_weights=False``).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as torch_checkpoint
from torch import nn

from cocu.models.attention import attention
from cocu.models.config import GroupViTConfig
from cocu.models.text_buckets import Buckets, bucket_overhead, plan_buckets


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
        if not self.fused:
            return self._official(x)
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.reshape(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v, causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, w))

    def _official(self, x: torch.Tensor) -> torch.Tensor:
        """The official block's call: ``nn.MultiheadAttention`` on [T, B, W] with an additive -inf mask."""
        t = x.shape[1]
        mask = torch.full((t, t), float("-inf"), device=x.device, dtype=x.dtype).triu_(1)
        lnd = x.transpose(0, 1)
        out, _ = F.multi_head_attention_forward(
            lnd, lnd, lnd, x.shape[-1], self.heads, self.in_proj_weight, self.in_proj_bias, None, None, False,
            0.0, self.out_proj.weight, self.out_proj.bias, training=self.training, need_weights=False,
            attn_mask=mask)
        return out.transpose(0, 1)


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

    def _plan(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Buckets] | None:
        """(unique rows on the host, row → unique index, buckets of unique rows) or None (run as is).

        Needs the ids on the host: done for CPU ids, for device ids only with ``trim_text_on_device``
        (one host sync), never under torch.compile (its shapes must not vary).
        """
        if not self.trim or torch.compiler.is_compiling():
            return None
        if ids.device.type != "cpu":
            if not self.trim_on_device:
                return None
            ids = ids.cpu()
        unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
        lengths = (unique.argmax(dim=-1) + 1).tolist()
        device = self.positional_embedding.device
        buckets = plan_buckets(lengths, max_length=ids.shape[1], overhead=bucket_overhead(device))
        return unique, inverse, buckets

    def _encode(self, tokens: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """Token embeddings [N, T, W] and EOT positions [N] → the EOT features [N, width]."""
        x = tokens + self.positional_embedding[: tokens.shape[1]]
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0], device=x.device), eot]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [N, T ≤ context_length] (long, host or device) → [N, width] on the model's device.

        With ``trim_text`` (the default) identical rows are encoded once and the rest run in
        length buckets (`plan_buckets`) without their padding: the same result, up to rounding,
        for a fraction of the work. Host ids are planned without a device sync, and the tokens
        of all buckets are embedded in one lookup (one dense embedding gradient, not one a bucket).
        """
        if ids.shape[-1] > self.context_length:
            raise ValueError(f"text ids have {ids.shape[-1]} tokens, context length is {self.context_length}")
        device = self.positional_embedding.device
        plan = self._plan(ids)
        if plan is None:
            ids = ids.to(device, non_blocking=True)
            return self._encode(self.token_embedding(ids), ids.argmax(dim=-1))
        unique, inverse, buckets = plan
        index = [torch.tensor(rows, dtype=torch.long) for rows, _ in buckets]
        pieces = [unique[rows, :length] for rows, (_, length) in zip(index, buckets)]
        flat = torch.cat([p.reshape(-1) for p in pieces]).to(device, non_blocking=True)
        tokens = self.token_embedding(flat).split([p.numel() for p in pieces])
        feats = [self._encode(t.view(*p.shape, -1), p.argmax(dim=-1).to(device, non_blocking=True))
                 for t, p in zip(tokens, pieces)]
        # feature of unique row u sits at position[u] of the concatenation
        ordered = torch.cat(index)
        position = torch.empty_like(ordered)
        position[ordered] = torch.arange(len(ordered))
        x = torch.cat(feats) if len(feats) > 1 else feats[0]
        return x[position[inverse.reshape(-1)].to(device, non_blocking=True)]

    def set_fused_attention(self, fused: bool) -> None:
        for m in self.modules():
            if isinstance(m, CausalSelfAttention):
                m.fused = fused
