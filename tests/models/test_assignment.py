"""Hard assignment: one-hot forward, softmax gradients backward (straight-through), Gumbel sampling."""

from __future__ import annotations

import torch

from cocu.models.assignment import gumbel_softmax, hard_softmax, sample_gumbel
from cocu.models.vision import AssignAttention


def softmax_vjp_by_hand(logits: torch.Tensor, upstream: torch.Tensor, dim: int) -> torch.Tensor:
    """d/dz of sum(upstream · softmax(z)) via the Jacobian y_i (δ_ij − y_j), looping over columns."""
    z = logits.movedim(dim, -1)
    g = upstream.movedim(dim, -1)
    out = torch.empty_like(z)
    for idx in torch.cartesian_prod(*[torch.arange(s) for s in z.shape[:-1]]).reshape(-1, z.ndim - 1).tolist():
        zz, gg = z[tuple(idx)], g[tuple(idx)]
        e = torch.exp(zz - zz.max())
        y = e / e.sum()
        n = y.shape[0]
        jac = torch.tensor([[float(y[i] * ((1.0 if i == j else 0.0) - y[j])) for j in range(n)] for i in range(n)],
                           dtype=z.dtype)
        out[tuple(idx)] = gg @ jac
    return out.movedim(-1, dim)


def test_hard_softmax_forward_is_one_hot_over_groups_and_backward_is_softmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7, dtype=torch.float64, requires_grad=True)  # [B, groups, tokens]
    out = hard_softmax(logits, dim=-2)
    # exactly one 1 per token column, at the argmax group
    assert set(out.detach().unique().tolist()) == {0.0, 1.0}
    assert torch.equal(out.detach().sum(dim=-2), torch.ones(2, 7, dtype=torch.float64))
    assert torch.equal(out.detach().argmax(dim=-2), logits.detach().argmax(dim=-2))
    upstream = torch.randn_like(logits)
    (grad,) = torch.autograd.grad((out * upstream).sum(), logits)
    torch.testing.assert_close(grad, softmax_vjp_by_hand(logits.detach(), upstream, dim=-2), atol=1e-12, rtol=0)


def test_gumbel_hard_forward_is_one_hot_and_gradient_is_that_of_the_noisy_softmax():
    torch.manual_seed(1)
    logits = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(7)
    out = gumbel_softmax(logits, dim=-2, tau=1.0, hard=True)
    torch.manual_seed(7)
    noisy = logits.detach() + sample_gumbel(logits)  # the same noise
    assert torch.equal(out.detach(), torch.zeros_like(out).scatter_(-2, noisy.argmax(-2, keepdim=True), 1.0))
    upstream = torch.randn_like(logits)
    (grad,) = torch.autograd.grad((out * upstream).sum(), logits)
    torch.testing.assert_close(grad, softmax_vjp_by_hand(noisy, upstream, dim=-2), atol=1e-12, rtol=0)


def test_gumbel_argmax_frequencies_follow_softmax_probabilities():
    torch.manual_seed(2)
    logits = torch.tensor([[1.0], [0.0], [-1.0]]).expand(3, 20000)  # 3 groups, many independent tokens
    picks = gumbel_softmax(logits, dim=0, hard=True).argmax(dim=0)
    freq = torch.bincount(picks, minlength=3).double() / picks.numel()
    expected = torch.softmax(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64), 0)
    assert torch.allclose(freq, expected, atol=0.015), (freq, expected)


def test_assign_attention_uses_gumbel_only_in_training_and_normalises_by_group_size():
    torch.manual_seed(3)
    layer = AssignAttention(8, hard=True, gumbel=True).double()
    groups, tokens = torch.randn(1, 3, 8, dtype=torch.float64), torch.randn(1, 10, 8, dtype=torch.float64)
    layer.eval()
    out1, hard1, soft1 = layer(groups, tokens, return_attn=True)
    out2, hard2, _ = layer(groups, tokens, return_attn=True)
    assert torch.equal(out1, out2) and torch.equal(hard1, hard2)  # deterministic at eval
    # by hand: group g's output = proj( sum of v over its tokens / (count + 1) )
    v = tokens @ layer.v_proj.weight.t() + layer.v_proj.bias
    counts = hard1[0].sum(-1)
    pooled = (hard1[0] @ v[0]) / (counts[:, None] + 1.0)
    torch.testing.assert_close(out1[0], pooled @ layer.proj.weight.t() + layer.proj.bias, atol=1e-12, rtol=0)
    torch.testing.assert_close(soft1.sum(dim=1), torch.ones(1, 10, dtype=torch.float64))
    layer.train()
    hards = {tuple(layer(groups, tokens, return_attn=True)[1].argmax(1).flatten().tolist()) for _ in range(20)}
    assert len(hards) > 1  # Gumbel noise changes the assignment between calls
