"""Attention forward + backward on the CPU: scaled_dot_product_attention vs the explicit route.

    python benchmarks/attention_cpu.py [--threads 2]

`cocu.models.attention` sends fp16/bf16 inputs on the CPU to the explicit route (two matrix
products around a float32 softmax) because PyTorch's CPU flash kernel is slower there; fp32
stays on scaled_dot_product_attention. This prints both routes' times for the attention shapes
of a `groupvit_gcc_yfcc_30e` training step at batch 8 (vision stages 1 and 2; text buckets of
the caption and prompts), in fp32 and bf16, best of ``--repeat`` runs, same process. The header
gives the CPU's matrix-product rate in each dtype (a 2048³ product), which says whether bf16
has native hardware here (≈ 2.5× fp32 with AVX512-BF16/AMX, slower than fp32 without).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cocu.models.attention import explicit_attention

#: (what, batch, heads, tokens, causal) at batch 8: 196 patches + 64 groups, 64 + 8 groups, text buckets
SHAPES = [("vision stage 1", 8, 6, 260, False), ("vision stage 2", 8, 6, 72, False),
          ("text captions", 8, 4, 32, True), ("text prompts", 24, 4, 16, True)]


def fwd_bwd_ms(route, q, k, v, causal: bool, repeat: int) -> float:
    best = float("inf")
    for i in range(repeat + 2):
        t = time.perf_counter()
        route(q, k, v, causal).float().sum().backward()
        if i >= 2:  # two warm-up runs
            best = min(best, time.perf_counter() - t)
    return best * 1e3


def gemm_gflops(dtype: torch.dtype, n: int = 2048, repeat: int = 10) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - t) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    routes = {"sdpa": lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c),
              "explicit": lambda q, k, v, c: explicit_attention(q, k, v, causal=c)}
    print(f"2048³ matrix product, {a.threads} threads: fp32 {gemm_gflops(torch.float32):.0f} GFLOP/s, "
          f"bf16 {gemm_gflops(torch.bfloat16):.0f} GFLOP/s", flush=True)
    print(f"{'shape':16s} {'dtype':9s} {'sdpa ms':>8s} {'explicit ms':>12s} {'sdpa/explicit':>14s}")
    for dtype in (torch.float32, torch.bfloat16):
        for what, b, h, n, causal in SHAPES:
            g = torch.Generator().manual_seed(0)
            q, k, v = (torch.randn(b, h, n, 64, generator=g).to(dtype).requires_grad_() for _ in range(3))
            t = {name: fwd_bwd_ms(route, q, k, v, causal, a.repeat) for name, route in routes.items()}
            print(f"{what:16s} {str(dtype)[6:]:9s} {t['sdpa']:8.2f} {t['explicit']:12.2f} "
                  f"{t['sdpa'] / t['explicit']:13.2f}x", flush=True)


if __name__ == "__main__":
    main()
