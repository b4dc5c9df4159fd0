"""Losses against naive per-sample loops written from the official definitions."""

from __future__ import annotations

import math

import torch

from cocu.models import create_model
from cocu.models.loss import contrastive_loss, logit_scale_value, multi_label_contrastive_loss
from cocu.models.tokenizer import tokenize


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.sqrt((v * v).sum())


def naive_contrastive(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """0.5 · (mean_i −log softmax_j(s·cos(img_i, txt_j))[i] + the same with roles swapped)."""
    b = img.shape[0]
    total_img = total_txt = 0.0
    for i in range(b):
        row_img = torch.stack([scale * (_unit(img[i]) * _unit(txt[j])).sum() for j in range(b)])
        row_txt = torch.stack([scale * (_unit(txt[i]) * _unit(img[j])).sum() for j in range(b)])
        total_img = total_img - (row_img[i] - torch.log(torch.exp(row_img).sum()))
        total_txt = total_txt - (row_txt[i] - torch.log(torch.exp(row_txt).sum()))
    return 0.5 * (total_img / b + total_txt / b)


def naive_multi_label(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """img [B, L1, D], txt [B, L2, D]. Image row (b, i) vs all texts: target 1/L2 on b's texts;
    text row (b, j) vs all image tokens: target 1/L1 on b's tokens; soft cross-entropy, row means."""
    b, l1, l2 = img.shape[0], img.shape[1], txt.shape[1]
    texts = [(bb, j) for bb in range(b) for j in range(l2)]
    images = [(bb, i) for bb in range(b) for i in range(l1)]
    loss_img = 0.0
    for bb, i in images:
        logits = torch.stack([scale * (_unit(img[bb, i]) * _unit(txt[c, j])).sum() for c, j in texts])
        lse = torch.log(torch.exp(logits).sum())
        for k, (c, _) in enumerate(texts):
            if c == bb:
                loss_img = loss_img - (1.0 / l2) * (logits[k] - lse)
    loss_txt = 0.0
    for bb, j in texts:
        logits = torch.stack([scale * (_unit(txt[bb, j]) * _unit(img[c, i])).sum() for c, i in images])
        lse = torch.log(torch.exp(logits).sum())
        for k, (c, _) in enumerate(images):
            if c == bb:
                loss_txt = loss_txt - (1.0 / l1) * (logits[k] - lse)
    return 0.5 * (loss_img / len(images) + loss_txt / len(texts))


def _leaf(*shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


def test_contrastive_loss_value_and_gradients_match_naive_loop():
    img, txt = _leaf(5, 8, seed=0), _leaf(5, 8, seed=1)
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    ours = contrastive_loss(img, txt, logit_scale_value(log_scale))
    grads = torch.autograd.grad(ours, (img, txt, log_scale))
    naive = naive_contrastive(img, txt, logit_scale_value(log_scale))
    naive_grads = torch.autograd.grad(naive, (img, txt, log_scale))
    torch.testing.assert_close(ours.double(), naive, atol=1e-6, rtol=0)
    for a, b in zip(grads, naive_grads):
        torch.testing.assert_close(a.double(), b, atol=1e-6, rtol=0)


def test_multi_label_loss_matches_naive_loop_for_groupvit_and_general_shapes():
    log_scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    for l1, l2 in [(1, 3), (2, 4)]:
        img, txt = _leaf(4, l1, 6, seed=l1), _leaf(4, l2, 6, seed=10 + l2)
        ours = multi_label_contrastive_loss(img, txt, log_scale.exp())
        naive = naive_multi_label(img, txt, log_scale.exp())
        torch.testing.assert_close(ours.double(), naive, atol=1e-6, rtol=0)
        for a, b in zip(torch.autograd.grad(ours, (img, txt, log_scale)),
                        torch.autograd.grad(naive, (img, txt, log_scale))):
            torch.testing.assert_close(a.double(), b, atol=1e-6, rtol=0)


def test_perfectly_aligned_pairs_give_low_loss_and_scale_is_clamped():
    feats = torch.eye(4)
    assert contrastive_loss(feats, feats, torch.tensor(100.0)) < 1e-6
    # shuffled captions: a high loss (≈ 100 · (1 − 0) per row)
    assert contrastive_loss(feats, feats[[1, 2, 3, 0]], torch.tensor(100.0)) > 50
    assert logit_scale_value(torch.tensor(10.0)) == 100.0
    assert abs(float(logit_scale_value(torch.tensor(math.log(1 / 0.07)))) - 1 / 0.07) < 1e-4


def test_model_forward_combines_caption_and_multi_label_losses():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny").train()
    images = torch.randn(4, 3, 64, 64)
    ids = tokenize([f"a photo of thing {i}" for i in range(12)]).reshape(4, 3, 77)
    out = model(images, ids)
    assert out.text_x.shape == (4, 128) and out.text_multi_label_x.shape == (4, 2, 128)
    torch.testing.assert_close(out.loss, out.loss_caption + out.loss_multi_label)
    # recompute both losses from the returned embeddings
    torch.testing.assert_close(out.loss_caption, naive_contrastive(out.image_x, out.text_x, out.logit_scale).float(),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(out.loss_multi_label, naive_multi_label(
        out.image_x[:, None], out.text_multi_label_x, out.multi_label_logit_scale).float(), atol=1e-5, rtol=0)
    out.loss.backward()
    assert model.logit_scale.grad is not None and model.multi_label_logit_scale.grad is not None
    assert all(p.grad is not None for p in model.img_encoder.parameters())
    # without prompts only the caption loss
    out2 = model(images, ids[:, 0])
    assert out2.loss_multi_label is None and out2.text_multi_label_x is None
