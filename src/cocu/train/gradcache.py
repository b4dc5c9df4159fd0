"""Gradient caching (Gao et al., 2021, "GradCache") for big contrastive batches in bounded memory.

The contrastive loss couples every image with every text of the batch, so plain gradient
accumulation changes the objective. Gradient caching keeps it exact:

1. embed the batch chunk by chunk *without* a graph (``torch.no_grad``), remembering each
   chunk's RNG state (Gumbel noise, drop-path) before it runs;
2. compute the loss on the full batch of embeddings (leaf tensors that require grad), backward
   → the gradient of the loss w.r.t. every embedding (and the logit scales);
3. for each chunk, restore its RNG state, recompute its embeddings *with* a graph and
   backpropagate the cached embedding gradients (``(e · g).sum()``).

Peak activation memory is one chunk's graph. The gradients equal the full-batch ones exactly
when the forward of a chunk does not depend on the other samples; BatchNorm in training mode
does (batch statistics are per chunk here, as per-GPU BN is per GPU in DDP without SyncBN),
so the equality holds for eval-mode BN and otherwise up to that difference. BN running
statistics are restored after step 1 so each chunk updates them once, as without caching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

EmbedFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor | None, ...]]
LossFn = Callable[..., Any]


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """Half-precision embeddings (autocast) → float32 for the loss; float32/64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _rng_snapshot(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _rng_restore(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _bn_buffers(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            for b in (m.running_mean, m.running_var, m.num_batches_tracked):
                if b is not None:
                    out.append((b, b.detach().clone()))
    return out


def grad_cache_backward(model: nn.Module, images: torch.Tensor, text_ids: torch.Tensor, *,
                        chunk: int, embed: EmbedFn, loss_fn: LossFn,
                        scale: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
                        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                        device: torch.device | None = None) -> Any:
    """Accumulate into ``.grad`` the gradient of ``loss_fn(embed(batch))`` on the whole batch.

    Args:
        model: the module whose BN buffers are protected (the unwrapped model).
        images: ``[B,3,H,W]`` (may live on the CPU; chunks are moved to ``device``).
        text_ids: ``[B,1+K,L]``, passed to ``embed`` as they are (the text tower moves host ids).
        chunk: samples per chunk (divides B).
        embed: ``(images [M,...], ids [M,1+K,L]) -> (e_1 [M,...], e_2 [M,...], ...)``: the per-sample
            embeddings the loss reads (e.g. image_x [M,D], text_x [M,1+K,D]); entries may be None.
        loss_fn: ``loss_fn(*full_batch_embeddings)`` → an output with ``.loss`` (the loss parts ride along).
        scale: the AMP loss scaler's ``scale`` (identity without fp16).
        autocast: a factory of the autocast context used for the embedding passes.
    Returns:
        ``loss_fn``'s output on the full batch (its tensors detached).
    """
    device = device or images.device
    n = images.shape[0]
    if n % chunk:
        raise ValueError(f"chunk {chunk} does not divide batch {n}")
    bn_saved = _bn_buffers(model)
    rng_states, parts = [], []
    with torch.no_grad():
        for s in range(0, n, chunk):
            rng_states.append(_rng_snapshot(device))
            with autocast():
                embs = embed(images[s:s + chunk].to(device, non_blocking=True), text_ids[s:s + chunk])
            parts.append([None if e is None else _upcast(e) for e in embs])
    for buf, saved in bn_saved:
        buf.copy_(saved)
    end_state = _rng_snapshot(device)

    full = [None if col[0] is None else torch.cat(col).requires_grad_(True) for col in zip(*parts)]
    out = loss_fn(*full)
    scale(out.loss).backward()
    grads = [None if e is None else e.grad for e in full]

    for i, s in enumerate(range(0, n, chunk)):
        _rng_restore(rng_states[i], device)
        with autocast():
            embs = embed(images[s:s + chunk].to(device, non_blocking=True), text_ids[s:s + chunk])
        surrogate = sum((_upcast(e) * g[s:s + chunk]).sum()
                        for e, g in zip(embs, grads, strict=True) if e is not None and g is not None)
        surrogate.backward()
    _rng_restore(end_state, device)
    return out
