"""GroupViT with the multi-label contrastive objective (official ``MultiLabelContrastive`` layout).

Submodules ``img_encoder``, ``text_encoder``, ``img_projector``, ``text_projector`` and the
parameters ``logit_scale``, ``multi_label_logit_scale`` give the official state-dict keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from cocu.models.config import GroupViTConfig
from cocu.models.loss import contrastive_loss, logit_scale_value, multi_label_contrastive_loss
from cocu.models.objective import (PAPER, Objective, affinity_loss, distinct_groups_loss, exclusivity_loss,
                                   grounding_loss, group_naming_loss, patch_colours, prompt_mask, usage_loss)
from cocu.models.projector import ProjectMLP
from cocu.models.text import TextTransformer
from cocu.models.vision import GroupViTVisionTransformer


def multiply_assignments(attn_soft: list[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
    """Chain per-stage assignments [B, G_s, L_s] (L_0 = h·w, L_s = G_{s-1}) → pixel maps [B, G_last, h, w].

    Official segmentation path: (A_0ᵀ @ A_1ᵀ @ …) gives each patch's weight on each final group.
    """
    if not attn_soft:
        raise ValueError("no grouping stage produced an assignment map")
    maps = attn_soft[0].transpose(1, 2)  # [B, L0, G0]
    for a in attn_soft[1:]:
        maps = maps @ a.transpose(1, 2).to(maps.dtype)  # [B, L0, G_s]
    h, w = grid
    return maps.transpose(1, 2).reshape(maps.shape[0], maps.shape[2], h, w)


@dataclass
class ImageOutput:
    """Result of `GroupViT.encode_image`.

    image_x [B, D]: projected average of the final groups (not normalised).
    image_feat [B, G, D] | None: each final group projected (``return_feat``).
    attn_soft / attn_hard: per grouping stage [B, G_s, L_s] (``return_attn``; else empty), L_0 = h·w.
    grid: (h, w) patch grid of the input.
    """

    image_x: torch.Tensor
    image_feat: torch.Tensor | None = None
    attn_soft: list[torch.Tensor] = field(default_factory=list)
    attn_hard: list[torch.Tensor] = field(default_factory=list)
    grid: tuple[int, int] = (0, 0)

    def seg_maps(self) -> torch.Tensor:
        """Soft assignments multiplied over the stages → [B, G_final, h, w] (needs ``return_attn``)."""
        return multiply_assignments(self.attn_soft, self.grid)


@dataclass
class Embeddings:
    """What the training objective reads (`GroupViT.embed`); the gradient-caching unit.

    image_x [B, D], text_x [B, 1+K, D] (caption first), both projected, not normalised;
    group_x [B, G, D]: every final group projected (grounded objective, else None);
    group_maps [B, G, N]: soft patch → final-group maps, N = h·w (grounded objective, else None);
    first_maps [B, G_0, N]: soft patch → first-stage-group maps (first-stage usage term, with
    two or more grouping stages; else None).
    """

    image_x: torch.Tensor
    text_x: torch.Tensor
    group_x: torch.Tensor | None = None
    group_maps: torch.Tensor | None = None
    first_maps: torch.Tensor | None = None

    def tensors(self) -> tuple[torch.Tensor | None, ...]:
        return (self.image_x, self.text_x, self.group_x, self.group_maps, self.first_maps)


@dataclass
class GroupViTOutput:
    """Result of `GroupViT.forward` (a training step).

    loss = loss_caption + loss_multi_label (the latter already weighted; None without prompts)
    [+ loss_grounding (grounding + exclusivity + group naming + distinct groups) + loss_affinity
    (+ loss_usage, final and first-stage, when weighted > 0),
    weighted, with the grounded objective; else None].
    image_x [B, D], text_x [B, D] (caption), text_multi_label_x [B, K, D] | None,
    logit_scale / multi_label_logit_scale: the clamped exp() multipliers (0-d tensors).
    """

    loss: torch.Tensor
    loss_caption: torch.Tensor
    loss_multi_label: torch.Tensor | None
    image_x: torch.Tensor
    text_x: torch.Tensor
    text_multi_label_x: torch.Tensor | None = None
    logit_scale: torch.Tensor | None = None
    multi_label_logit_scale: torch.Tensor | None = None
    loss_grounding: torch.Tensor | None = None
    loss_affinity: torch.Tensor | None = None
    loss_usage: torch.Tensor | None = None


class GroupViT(nn.Module):
    """GroupViT image/text dual encoder trained with caption and multi-label contrastive losses."""

    def __init__(self, config: GroupViTConfig):
        super().__init__()
        self.config = config
        init = math.log(1.0 / config.contrast_temperature)
        self.logit_scale = nn.Parameter(torch.full((), init))
        self.multi_label_logit_scale = nn.Parameter(torch.full((), init))
        self.img_encoder = GroupViTVisionTransformer(config)
        self.text_encoder = TextTransformer(config)
        proj = dict(inner_dim=config.proj_hidden_dim, out_dim=config.output_dim, num_layers=config.proj_num_layers)
        self.img_projector = ProjectMLP(config.embed_dim, **proj)
        self.text_projector = ProjectMLP(config.text_width, **proj)

    # ----------------------------------------------------------------------------------- encoders
    def encode_image(self, images: torch.Tensor, *, return_feat: bool = False, return_attn: bool = False
                     ) -> ImageOutput:
        """images [B, 3, H, W] (any H, W multiple of the patch size) → ImageOutput."""
        out = self.img_encoder(images, return_attn=return_attn)
        image_x = self.img_projector(out.x.mean(dim=1))
        groups = out.x if out.x_region is None else out.x_region
        image_feat = self.img_projector(groups) if return_feat else None
        return ImageOutput(image_x, image_feat, out.attn_soft, out.attn_hard, out.grid)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [N, T] → [N, D] or [B, K, T] → [B, K, D] (projected, not normalised).

        All texts of a call go through the projector's BatchNorm together, as in the official code.
        """
        if ids.ndim == 3:
            b, k, t = ids.shape
            return self.text_projector(self.text_encoder(ids.reshape(b * k, t))).reshape(b, k, -1)
        if ids.ndim != 2:
            raise ValueError(f"text ids must be [N, T] or [B, K, T], got shape {tuple(ids.shape)}")
        return self.text_projector(self.text_encoder(ids))

    def seg_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Soft group maps multiplied over the stages: images [B, 3, H, W] → [B, G_final, h, w]."""
        return self.encode_image(images, return_attn=True).seg_maps()

    # ----------------------------------------------------------------------------------- training
    def embed(self, images: torch.Tensor, text_ids: torch.Tensor, objective: Objective = PAPER) -> Embeddings:
        """images [B, 3, H, W], text_ids [B, 1+K, T] → the `Embeddings` ``objective`` needs."""
        out = self.encode_image(images, return_feat=objective.needs_groups, return_attn=objective.needs_maps)
        maps = out.seg_maps().flatten(2) if objective.needs_maps else None  # [B, G, N]
        first = out.attn_soft[0] if objective.first_usage and len(out.attn_soft) > 1 else None  # [B, G_0, N]
        return Embeddings(out.image_x, self.encode_text(text_ids), out.image_feat, maps, first)

    def loss(self, emb: Embeddings, objective: Objective = PAPER, *, prompt_valid: torch.Tensor | None = None,
             colours: torch.Tensor | None = None) -> GroupViTOutput:
        """The training objective from `Embeddings` (one home for `forward` and gradient caching).

        prompt_valid [B, K] bool (`objective.prompt_mask`; grounding only), colours [B, N, 3]
        (`objective.patch_colours`; affinity only).
        """
        text_x, text_ml = emb.text_x[:, 0], emb.text_x[:, 1:]
        scale = logit_scale_value(self.logit_scale)
        ml_scale = logit_scale_value(self.multi_label_logit_scale)
        loss_caption = contrastive_loss(emb.image_x, text_x, scale)
        loss = loss_caption
        loss_ml = loss_ground = loss_aff = None
        if text_ml.shape[1] > 0:
            loss_ml = multi_label_contrastive_loss(emb.image_x[:, None], text_ml, ml_scale)
            loss_ml = loss_ml * self.config.multi_label_loss_weight
            loss = loss + loss_ml
            if objective.needs_groups:
                if emb.group_x is None or prompt_valid is None:
                    raise ValueError("the grounding terms need group_x and prompt_valid")
                loss_ground = torch.zeros((), device=loss.device)
                if objective.grounding:
                    loss_ground = loss_ground + objective.grounding_weight * grounding_loss(
                        emb.group_x, text_ml, prompt_valid, ml_scale, objective.grounding_tau)
                if objective.exclusivity:
                    loss_ground = loss_ground + objective.exclusivity_weight * exclusivity_loss(
                        emb.group_x, text_ml, prompt_valid, objective.grounding_tau)
                if objective.naming or objective.distinct:
                    if emb.group_maps is None:
                        raise ValueError("the naming and distinct-groups terms need group_maps")
                    shares = emb.group_maps.mean(dim=-1)                   # [B, G]
                    if objective.naming:
                        loss_ground = loss_ground + objective.naming_weight * group_naming_loss(
                            emb.group_x, text_ml, prompt_valid, shares, ml_scale)
                    if objective.distinct:
                        loss_ground = loss_ground + objective.distinct_weight * distinct_groups_loss(
                            emb.group_x, shares)
                loss = loss + loss_ground
        else:
            text_ml = None
        if objective.affinity:
            if emb.group_maps is None or colours is None:
                raise ValueError("the affinity term needs group_maps and colours")
            loss_aff = objective.affinity_weight * affinity_loss(emb.group_maps, colours, objective.affinity_near,
                                                                objective.affinity_far)
            loss = loss + loss_aff
        loss_use = None
        if objective.usage:
            if emb.group_maps is None:
                raise ValueError("the usage term needs group_maps")
            loss_use = objective.usage_weight * usage_loss(emb.group_maps, objective.usage_groups)
        if objective.first_usage and emb.first_maps is not None:  # None: a single grouping stage
            first = objective.first_usage_weight * usage_loss(emb.first_maps)
            loss_use = first if loss_use is None else loss_use + first
        if loss_use is not None:
            loss = loss + loss_use
        return GroupViTOutput(loss, loss_caption, loss_ml, emb.image_x, text_x, text_ml,
                              scale.detach(), ml_scale.detach(), loss_ground, loss_aff, loss_use)

    def loss_inputs(self, images: torch.Tensor, text_ids: torch.Tensor, objective: Objective = PAPER
                    ) -> dict[str, torch.Tensor | None]:
        """The non-differentiable inputs of `loss` that come from the batch itself."""
        grid = (images.shape[-2] // self.config.patch_size, images.shape[-1] // self.config.patch_size)
        return {"prompt_valid": prompt_mask(text_ids) if objective.needs_groups else None,
                "colours": patch_colours(images, grid) if objective.affinity else None}

    def forward(self, images: torch.Tensor, text_ids: torch.Tensor, objective: Objective = PAPER
                ) -> GroupViTOutput:
        """images [B, 3, H, W], text_ids [B, 1+K, T] (caption first, then K prompts) or [B, T]."""
        if text_ids.ndim == 2:
            text_ids = text_ids[:, None]
        emb = self.embed(images, text_ids, objective)
        return self.loss(emb, objective, **self.loss_inputs(images, text_ids, objective))

    # ----------------------------------------------------------------------------------- speed knobs
    def set_fused_attention(self, fused: bool) -> None:
        """True: scaled_dot_product_attention; False: the official explicit attention maths."""
        self.img_encoder.set_fused_attention(fused)
        self.text_encoder.set_fused_attention(fused)
        self.config.fused_attention = fused

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        """Recompute transformer blocks in backward to save activation memory."""
        self.img_encoder.set_use_checkpoint(enabled)
        self.text_encoder.transformer.use_checkpoint = enabled
        self.config.use_checkpoint = enabled

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
