"""softmax(q kᵀ / √d) v, by the fastest exact-enough route for the device and dtype.

``scaled_dot_product_attention`` is the fastest route in fp32 (CPU and GPU) and in fp16/bf16 on
GPUs. On CPUs its flash kernel is 2–4× slower in bf16 than two bf16 matrix products around a
float32 softmax (`benchmarks/attention_cpu.py`), the way the official code's attention runs under
mixed precision, so low-precision inputs on the CPU take that explicit route.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOW_PRECISION = (torch.bfloat16, torch.float16)


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                       dropout_p: float = 0.0) -> torch.Tensor:
    """The official maths: ``softmax(q kᵀ · d^-½ [+ causal -inf mask]) v``, softmax in float32 for fp16/bf16."""
    attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if causal:
        t, s = attn.shape[-2:]
        attn = attn + torch.full((t, s), float("-inf"), device=q.device, dtype=attn.dtype).triu_(1)
    if attn.dtype in LOW_PRECISION:
        attn = attn.float().softmax(dim=-1).to(q.dtype)
    else:
        attn = attn.softmax(dim=-1)
    return F.dropout(attn, p=dropout_p) @ v


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, fused: bool = True, causal: bool = False,
              dropout_p: float = 0.0) -> torch.Tensor:
    """[B, nh, N, d] queries, [B, nh, S, d] keys and values → [B, nh, N, d].

    ``fused``: scaled_dot_product_attention, except for fp16/bf16 on the CPU (see the module
    docstring); ``fused=False``: always the explicit maths (the official code's).
    """
    if fused and not (q.device.type == "cpu" and q.dtype in LOW_PRECISION):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
    return explicit_attention(q, k, v, causal=causal, dropout_p=dropout_p)
