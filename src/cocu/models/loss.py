"""Contrastive losses of GroupViT (official ``MultiLabelContrastive.loss`` / ``multi_label_loss``).

Under an initialised torch.distributed process group the features of all ranks are gathered WITH
gradients (torch.distributed.nn.functional.all_gather), each rank computes the loss of its own rows
against the global columns, and DDP's gradient averaging then gives the gradient of the global loss.
Features are L2-normalised inside and the losses are computed in float32 (autocast-safe).
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F


def logit_scale_value(log_scale: torch.Tensor, max_scale: float = 100.0) -> torch.Tensor:
    """exp(log_scale) clamped at ``max_scale`` (the official temperature parameterisation)."""
    return log_scale.exp().clamp(max=max_scale)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float32, or float64 for float64 inputs (losses never run in half precision)."""
    return torch.promote_types(x.dtype, torch.float32)


def _world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` [n, ...] of every rank → [world·n, ...]; gradients flow back to each rank."""
    _, world = _world()
    if world == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # deprecated in favour of a private API; still the public autograd op
        warnings.simplefilter("ignore", FutureWarning)
        return torch.cat(all_gather(x.contiguous()), dim=0)


def contrastive_loss(image_x: torch.Tensor, text_x: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between images [B, D] and their captions [B, D].

    ``logit_scale`` is the multiplier (already exp'd and clamped, see `logit_scale_value`).
    Returns 0.5 · (CE(image→all texts) + CE(text→all images)), mean over the local rows.
    """
    rank, _ = _world()
    dtype = _compute_dtype(image_x)
    image_x = F.normalize(image_x.to(dtype), dim=-1)
    text_x = F.normalize(text_x.to(dtype), dim=-1)
    b = image_x.shape[0]
    labels = torch.arange(b, device=image_x.device) + b * rank
    scale = logit_scale.to(dtype)
    logits_per_img = scale * image_x @ all_gather_with_grad(text_x).t()
    logits_per_text = scale * text_x @ all_gather_with_grad(image_x).t()
    return 0.5 * (F.cross_entropy(logits_per_img, labels) + F.cross_entropy(logits_per_text, labels))


def multi_label_contrastive_loss(image_feat: torch.Tensor, text_feat: torch.Tensor,
                                 logit_scale: torch.Tensor) -> torch.Tensor:
    """The official multi-label loss between image tokens [B, L1, D] and prompt embeddings [B, L2, D].

    Image row (b, i) vs every text (global): soft target 1/L2 on each of image b's own L2 texts.
    Text row (b, j) vs every image token (global): soft target 1/L1 on each of image b's L1 tokens.
    GroupViT uses L1 = 1 (the pooled image embedding) and L2 = K prompts.
    Returns 0.5 · (soft-CE per image row + soft-CE per text row), each a mean over local rows.
    """
    rank, _ = _world()
    b, l1, _ = image_feat.shape
    l2 = text_feat.shape[1]
    dtype = _compute_dtype(image_feat)
    image_x = F.normalize(image_feat.to(dtype), dim=-1).reshape(b * l1, -1)
    text_x = F.normalize(text_feat.to(dtype), dim=-1).reshape(b * l2, -1)
    scale = logit_scale.to(dtype)
    logp_img = (scale * image_x @ all_gather_with_grad(text_x).t()).log_softmax(dim=-1)  # [B·L1, W·B·L2]
    logp_text = (scale * text_x @ all_gather_with_grad(image_x).t()).log_softmax(dim=-1)  # [B·L2, W·B·L1]
    device = image_x.device
    # positive columns of each row: the same sample's entries, at this rank's offset in the global batch
    own = torch.arange(b, device=device) + b * rank  # [B]
    cols_img = (own[:, None] * l2 + torch.arange(l2, device=device)).repeat_interleave(l1, dim=0)  # [B·L1, L2]
    cols_text = (own[:, None] * l1 + torch.arange(l1, device=device)).repeat_interleave(l2, dim=0)  # [B·L2, L1]
    loss_img = -logp_img.gather(1, cols_img).mean(dim=1).mean()
    loss_text = -logp_text.gather(1, cols_text).mean(dim=1).mean()
    return 0.5 * (loss_img + loss_text)
