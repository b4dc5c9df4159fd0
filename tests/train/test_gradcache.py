"""Gradient caching gives the gradients of the full-batch loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cocu.models import create_model
from cocu.train.gradcache import grad_cache_backward
from cocu.models.groupvit import Embeddings

from .conftest import TINY

B, K, T = 4, 2, 12  # context 16 keeps the test fast; the model takes any length ≤ 77
# float64 so that summation order (chunks vs one batch) stays far below the tolerance:
# relative error per gradient tensor ≤ 1e-9 (float32 differs by ~1e-4 relative on small entries)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("groupvit_tiny", **TINY).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    images = torch.randn(B, 3, 32, 32, generator=g, dtype=torch.float64)
    ids = torch.randint(1, 1000, (B, 1 + K, T), generator=g)
    ids[..., -1] = 49407  # an end-of-text token at the end of each text
    return images, ids


def _embed(m):
    return lambda im, ids: (m.encode_image(im).image_x, m.encode_text(ids))


def _grads(m: nn.Module) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    m.zero_grad(set_to_none=True)
    return out


def _assert_close(a: dict, b: dict, rtol=1e-9, atol=1e-12) -> None:
    assert a.keys() == b.keys() and len(a) > 20
    for n in a:
        torch.testing.assert_close(a[n], b[n], rtol=rtol, atol=atol, msg=lambda m, n=n: f"{n}: {m}")


def test_grad_cache_equals_full_batch_eval_mode():
    """Deterministic forward (eval: no Gumbel noise, BN running stats): exact full-batch gradients."""
    m = _model().eval()
    images, ids = _batch()
    out = m(images, ids)
    out.loss.backward()
    full = _grads(m)
    cached = grad_cache_backward(m, images, ids, chunk=2, embed=_embed(m),
                                 loss_fn=lambda i, t: m.loss(Embeddings(i, t)))
    torch.testing.assert_close(cached.loss.detach(), out.loss.detach(), rtol=1e-10, atol=1e-12)
    _assert_close(full, _grads(m))


def test_grad_cache_replays_gumbel_noise_per_chunk():
    """Train mode (hard Gumbel assignment draws noise; BN frozen): the recompute pass must see the
    same noise as the embedding pass. Reference: the same chunks run WITH a graph, concatenated."""
    m = _model().train()
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.eval()  # per-chunk BN statistics would differ from the full batch by design
    images, ids = _batch()

    torch.manual_seed(123)
    parts = [_embed(m)(images[s:s + 2], ids[s:s + 2]) for s in range(0, B, 2)]
    ref = m.loss(Embeddings(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])))
    ref.loss.backward()
    reference = _grads(m)

    torch.manual_seed(123)
    out = grad_cache_backward(m, images, ids, chunk=2, embed=_embed(m),
                              loss_fn=lambda i, t: m.loss(Embeddings(i, t)))
    torch.testing.assert_close(out.loss.detach(), ref.loss.detach(), rtol=1e-10, atol=1e-12)
    _assert_close(reference, _grads(m))

    # the noise matters: other noise gives other gradients (so the test above can fail)
    torch.manual_seed(7)
    grad_cache_backward(m, images, ids, chunk=2, embed=_embed(m), loss_fn=lambda i, t: m.loss(Embeddings(i, t)))
    other = _grads(m)
    assert any(not torch.allclose(other[n], reference[n], rtol=1e-3, atol=1e-5) for n in reference)


def test_grad_cache_updates_bn_running_stats_once_per_chunk():
    m = _model().train()
    images, ids = _batch()
    bn = next(mod for mod in m.modules() if isinstance(mod, nn.BatchNorm1d))
    before = bn.num_batches_tracked.item()
    grad_cache_backward(m, images, ids, chunk=2, embed=_embed(m), loss_fn=lambda i, t: m.loss(Embeddings(i, t)))
    # image and text projectors each run once per chunk (2 chunks of 2): +2 each, not +4
    assert bn.num_batches_tracked.item() - before == 2


@pytest.mark.parametrize("usage,first,naming,distinct",
                         [(0.0, 0.0, 0.0, 0.0), (0.5, 0.0, 0.0, 0.0), (0.5, 0.7, 0.0, 0.0), (0.0, 0.0, 0.8, 0.6)])
def test_grad_cache_equals_full_batch_grounded_objective(usage, first, naming, distinct):
    """The grounded objective (group features and soft maps cached too): exact full-batch gradients."""
    from cocu.models.objective import Objective

    obj = Objective("grounded", usage_weight=usage, first_usage_weight=first, naming_weight=naming,
                    distinct_weight=distinct)
    m = _model().eval()
    images, ids = _batch()
    ids[1, 2] = ids[1, 0]  # one padding prompt (the caption repeated)
    out = m(images, ids, obj)
    assert out.loss_grounding is not None and out.loss_affinity is not None
    out.loss.backward()
    full = _grads(m)
    inputs = m.loss_inputs(images, ids, obj)
    cached = grad_cache_backward(m, images, ids, chunk=2, embed=lambda im, t: m.embed(im, t, obj).tensors(),
                                 loss_fn=lambda *e: m.loss(Embeddings(*e), obj, **inputs))
    torch.testing.assert_close(cached.loss.detach(), out.loss.detach(), rtol=1e-10, atol=1e-12)
    _assert_close(full, _grads(m))
