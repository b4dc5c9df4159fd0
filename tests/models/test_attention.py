"""Attention routes: every route equals a per-query loop reference; CPU bf16 takes the explicit route."""

from __future__ import annotations

import math

import pytest
import torch

from cocu.models.attention import attention, explicit_attention


def loop_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """One query at a time, in float64: out[t] = Σ_s softmax_s(q_t·k_s / √d) v_s, s ≤ t if causal."""
    q, k, v = q.double(), k.double(), v.double()
    out = torch.zeros_like(q)
    for t in range(q.shape[-2]):
        keys = k[..., : t + 1, :] if causal else k
        vals = v[..., : t + 1, :] if causal else v
        scores = (keys @ q[..., t, :, None])[..., 0] / math.sqrt(q.shape[-1])  # [B, nh, S]
        weights = scores.exp() / scores.exp().sum(-1, keepdim=True)
        out[..., t, :] = (weights[..., None] * vals).sum(-2)
    return out


def qkv(dtype: torch.dtype, n: int = 9, s: int = 9, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 3, n, 16, generator=g)
    k, v = torch.randn(2, 3, s, 16, generator=g), torch.randn(2, 3, s, 16, generator=g)
    return q.to(dtype), k.to(dtype), v.to(dtype)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_fp32_routes_equal_the_loop_reference(causal, fused):
    q, k, v = qkv(torch.float32)
    ref = loop_reference(q, k, v, causal)
    torch.testing.assert_close(attention(q, k, v, fused=fused, causal=causal).double(), ref, atol=1e-5, rtol=0)


def test_cross_attention_with_more_keys_than_queries():
    q, k, v = qkv(torch.float32, n=4, s=11)
    torch.testing.assert_close(attention(q, k, v).double(), loop_reference(q, k, v, False), atol=1e-5, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_cpu_bf16_takes_the_explicit_route(causal, monkeypatch):
    q, k, v = qkv(torch.bfloat16)

    def refuse(*a, **kw):
        raise AssertionError("scaled_dot_product_attention called for bf16 on the CPU")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", refuse)
    out = attention(q, k, v, causal=causal)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, explicit_attention(q, k, v, causal=causal))
    # bf16 inputs, products and output (8-bit mantissa): within a few bf16 steps of the exact result
    ref = loop_reference(q, k, v, causal)
    assert (out.double() - ref).abs().max() < 0.05
