"""The GroupViT image encoder (module names and semantics of NVlabs/GroupViT ``models/group_vit.py``).

Shapes: B batch, L image tokens, S group tokens, C channels, nh heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as torch_checkpoint
from torch import nn
from torch.nn.init import trunc_normal_  # same as timm's: N(0, std) cut at ±2 (absolute)

from cocu.models.assignment import assign
from cocu.models.attention import attention
from cocu.models.config import GroupViTConfig


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability p, rescale the rest by 1/(1-p)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        scale = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep).div_(keep)  # [B, 1, 1]
        return x * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Mlp(nn.Module):
    """Linear → GELU → Linear (timm-style, optional dropout)."""

    def __init__(self, in_features: int, hidden_features: int, out_features: int | None = None, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MixerMlp(Mlp):
    """Mlp over the token axis: [B, S_in, C] → [B, S_out, C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[B, N, C] → [B, nh, N, C/nh]."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, nh, N, c] → [B, N, nh*c]."""
    b, h, n, c = x.shape
    return x.transpose(1, 2).reshape(b, n, h * c)


class Attention(nn.Module):
    """Multi-head attention; fused ``qkv`` for self-attention blocks, separate q/k/v for cross-attention."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = False, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, qkv_fuse: bool = False, fused: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.qkv_fuse = qkv_fuse
        self.fused = fused
        if qkv_fuse:
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        else:
            self.q_proj = nn.Linear(dim, dim, bias=qkv_bias)
            self.k_proj = nn.Linear(dim, dim, bias=qkv_bias)
            self.v_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, *, self_only: bool = False
                ) -> torch.Tensor:
        """query [B, N, C], key (= value) [B, S, C] or None for self-attention → [B, N, C].

        ``self_only``: self-attention in which every token attends to itself alone, i.e. the output
        is the projected value of the token itself (the attention weights are the identity)."""
        if self_only:
            c = query.shape[-1]
            v = self.qkv(query)[..., 2 * c:] if self.qkv_fuse else self.v_proj(query)
            return self.proj_drop(self.proj(v))
        if self.qkv_fuse:
            b, n, c = query.shape
            qkv = self.qkv(query).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
        else:
            key = query if key is None else key
            q = _split_heads(self.q_proj(query), self.num_heads)
            k = _split_heads(self.k_proj(key), self.num_heads)
            v = _split_heads(self.v_proj(key), self.num_heads)
        drop = self.attn_drop if self.training else 0.0
        out = _merge_heads(attention(q, k, v, fused=self.fused, dropout_p=drop))
        return self.proj_drop(self.proj(out))


class AttnBlock(nn.Module):
    """Pre-norm transformer block with fused-qkv self-attention (``self_only``: each token attends
    to itself alone, so tokens do not mix; ``self_only_second_half``: so in the second half of the
    batch only, the isolated copy of ``isolated_groups="region_alone"``; same parameters)."""

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float, qkv_bias: bool, drop: float,
                 attn_drop: float, drop_path: float, fused: bool, self_only: bool = False):
        super().__init__()
        self.self_only = self_only
        self.self_only_second_half = False
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop,
                              qkv_fuse=True, fused=fused)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, N, C] → [B, N, C]."""
        h = self.norm1(x)
        if self.self_only_second_half:
            first, second = h.chunk(2)
            attended = torch.cat([self.attn(first), self.attn(second, self_only=True)])
        else:
            attended = self.attn(h, self_only=self.self_only)
        x = x + self.drop_path(attended)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class CrossAttnBlock(nn.Module):
    """Cross-attention block with post-norm (the only variant GroupViT's grouping block uses)."""

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, qkv_bias: bool = True, fused: bool = True):
        super().__init__()
        self.norm_post = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, fused=fused)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """query [B, S, C], key [B, L, C] → [B, S, C]."""
        x = query + self.attn(query, key)
        x = x + self.mlp(self.norm2(x))
        return self.norm_post(x)


class AssignAttention(nn.Module):
    """Single-head assignment of image tokens to groups; the softmax runs over the group axis."""

    def __init__(self, dim: int, *, qkv_bias: bool = True, hard: bool = True, gumbel: bool = True,
                 gumbel_tau: float = 1.0, assign_eps: float = 1.0):
        super().__init__()
        self.scale = dim**-0.5
        self.q_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.k_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.v_proj = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.hard = hard
        self.gumbel = gumbel
        self.gumbel_tau = gumbel_tau
        self.assign_eps = assign_eps

    def weights_and_values(self, query: torch.Tensor, key: torch.Tensor, *, return_attn: bool = False
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """query (groups) [B, S, C], key (image tokens) [B, L, C] → (pooling weights [B, S, L],
        values [B, L, C], hard [B, S, L] | None, soft [B, S, L] | None); the maps only when
        ``return_attn``. ``hard`` is the assignment used (one-hot forward), ``soft`` the plain softmax."""
        q = self.q_proj(query)
        k = self.k_proj(key)
        v = self.v_proj(key)
        raw = q @ k.transpose(-2, -1)
        raw = raw.to(torch.promote_types(raw.dtype, torch.float32)) * self.scale  # [B, S, L], ≥ fp32
        attn = assign(raw, dim=-2, hard=self.hard, gumbel=self.gumbel and self.training, tau=self.gumbel_tau)
        hard_map = soft_map = None
        if return_attn:
            hard_map = attn
            soft_map = raw.softmax(dim=-2)
        weights = attn / (attn.sum(dim=-1, keepdim=True) + self.assign_eps)
        return weights, v, hard_map, soft_map

    def pool(self, weights: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """weights [B, S, L], values [B, L, C] → the groups' pooled tokens [B, S, C]."""
        return self.proj(weights.to(v.dtype) @ v)

    def forward(self, query: torch.Tensor, key: torch.Tensor, *, return_attn: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """query [B, S, C], key [B, L, C] → (out [B, S, C], hard | None, soft | None): see
        ``weights_and_values``."""
        weights, v, hard_map, soft_map = self.weights_and_values(query, key, return_attn=return_attn)
        return self.pool(weights, v), hard_map, soft_map


class GroupingBlock(nn.Module):
    """Merges image tokens into ``num_output_group`` segment tokens (stage output).

    ``isolated``: a segment token is its assigned tokens pooled (then the channel MLP), without the
    official residual of the group query, which cross-attends to every token of the image."""

    def __init__(self, *, dim: int, num_heads: int, num_group_token: int, num_output_group: int,
                 mlp_ratio: tuple[float, float] = (0.5, 4.0), hard: bool = True, gumbel: bool = True,
                 gumbel_tau: float = 1.0, assign_eps: float = 1.0, fused: bool = True, isolated: bool = False):
        super().__init__()
        self.isolated = isolated
        self.region: str | None = None  # None, "pooled", "fixed" or "local": see forward
        tokens_dim, channels_dim = int(mlp_ratio[0] * dim), int(mlp_ratio[1] * dim)
        self.norm_tokens = nn.LayerNorm(dim)
        self.mlp_inter = Mlp(num_group_token, tokens_dim, num_output_group)
        self.norm_post_tokens = nn.LayerNorm(dim)
        self.norm_x = nn.LayerNorm(dim)
        self.pre_assign_attn = CrossAttnBlock(dim, num_heads, mlp_ratio=4.0, qkv_bias=True, fused=fused)
        self.assign = AssignAttention(dim, qkv_bias=True, hard=hard, gumbel=gumbel, gumbel_tau=gumbel_tau,
                                      assign_eps=assign_eps)
        self.norm_new_x = nn.LayerNorm(dim)
        self.mlp_channels = Mlp(dim, channels_dim, dim)

    def forward(self, x: torch.Tensor, group_tokens: torch.Tensor, *, return_attn: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """x [B, L, C], group_tokens [B, S_in, C] → (new_x [B, S_out, C], hard, soft [B, S_out, L] | None).

        ``region``: new_x is [2B, S_out, C], the official groups then an isolated copy; "local": the
        input is [2B, ...] too (official, then isolated tokens), the maps are the official half's."""
        carried = None
        if self.region == "local":  # the isolated tokens ride along as the second half of the batch
            x, carried = x.chunk(2)
            group_tokens = group_tokens.chunk(2)[0]
        group_tokens = self.norm_tokens(group_tokens)
        x = self.norm_x(x)
        projected = self.mlp_inter(group_tokens.transpose(1, 2)).transpose(1, 2)  # [B, S_out, C]
        projected = self.norm_post_tokens(projected)
        projected = self.pre_assign_attn(projected, x)
        weights, v, hard_map, soft_map = self.assign.weights_and_values(projected, x, return_attn=return_attn)
        new_x = pooled = self.assign.pool(weights, v)
        if not self.isolated:
            new_x = new_x + projected
        new_x = new_x + self.mlp_channels(self.norm_new_x(new_x))
        if self.region:  # the isolated tokens too, stacked after the official ones on the batch axis
            if self.region == "fixed":  # pooled with the assignment held constant
                pooled = self.assign.pool(weights.detach(), v)
            elif self.region == "local":  # the carried tokens, pooled by the official assignment
                pooled = self.assign.pool(weights.detach(), self.assign.v_proj(self.norm_x(carried)))
            new_x = torch.cat([new_x, pooled + self.mlp_channels(self.norm_new_x(pooled))])
        return new_x, hard_map, soft_map


@dataclass
class StageOutput:
    """One stage's outputs: tokens [B, L', C], its group tokens [B, S, C] | None, assignment maps."""

    x: torch.Tensor
    group_token: torch.Tensor | None
    attn_hard: torch.Tensor | None
    attn_soft: torch.Tensor | None


class GroupingLayer(nn.Module):
    """One GroupViT stage: transformer blocks over [image tokens; group tokens], then grouping."""

    def __init__(self, *, dim: int, depth: int, num_heads: int, num_group_token: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float, drop_path: list[float],
                 downsample: GroupingBlock | None, group_projector: nn.Module | None,
                 use_checkpoint: bool = False, fused: bool = True):
        super().__init__()
        self.num_group_token = num_group_token
        self.use_checkpoint = use_checkpoint
        if num_group_token > 0:
            self.group_token = nn.Parameter(torch.zeros(1, num_group_token, dim))
            if group_projector is None:  # official: zero init only when projected from the previous stage
                trunc_normal_(self.group_token, std=0.02)
        else:
            self.group_token = None
        self.blocks = nn.ModuleList(
            AttnBlock(dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop, attn_drop=attn_drop,
                      drop_path=drop_path[i], fused=fused)
            for i in range(depth)
        )
        self.downsample = downsample
        self.group_projector = group_projector

    def forward(self, x: torch.Tensor, prev_group_token: torch.Tensor | None, *, return_attn: bool = False
                ) -> StageOutput:
        """x [B, L, C], prev_group_token [B, S_prev, C] | None."""
        group_token = None
        if self.group_token is not None:
            group_token = self.group_token.expand(x.shape[0], -1, -1)
            if self.group_projector is not None:
                group_token = group_token + self.group_projector(prev_group_token)
            cat_x = torch.cat([x, group_token], dim=1)
        else:
            cat_x = x
        for blk in self.blocks:
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                cat_x = torch_checkpoint.checkpoint(blk, cat_x, use_reentrant=False)
            else:
                cat_x = blk(cat_x)
        if self.group_token is not None:
            x, group_token = cat_x[:, : -self.num_group_token], cat_x[:, -self.num_group_token:]
        else:
            x = cat_x
        hard_map = soft_map = None
        if self.downsample is not None:
            x, hard_map, soft_map = self.downsample(x, group_token, return_attn=return_attn)
        return StageOutput(x, group_token, hard_map, soft_map)


class PatchEmbed(nn.Module):
    """Non-overlapping patches: Conv2d(kernel = stride = patch) then LayerNorm."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int, norm: bool):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """[B, 3, H, W] → ([B, h*w, C], (h, w)); works for any memory format."""
        x = self.proj(x)
        hw = (int(x.shape[2]), int(x.shape[3]))
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw


def interpolate_pos_encoding(pos_embed: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bicubically resize a square [1, N, C] position embedding to an (h, w) grid → [1, h*w, C]."""
    n, c = pos_embed.shape[1], pos_embed.shape[2]
    side = int(math.sqrt(n))
    if side * side == n and (h, w) == (side, side):
        return pos_embed
    grid = pos_embed.reshape(1, side, side, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, h * w, c)


@dataclass
class VisionOutput:
    """Final group tokens after the last LayerNorm [B, G, C]; assignment maps per grouping stage."""

    x: torch.Tensor
    attn_hard: list[torch.Tensor]
    attn_soft: list[torch.Tensor]
    grid: tuple[int, int]
    x_region: torch.Tensor | None = None  # isolated_groups "region": the isolated final groups [B, G, C]


class GroupViTVisionTransformer(nn.Module):
    """Patch embedding, grouping stages and the final LayerNorm (``img_encoder`` of GroupViT)."""

    def __init__(self, cfg: GroupViTConfig):
        super().__init__()
        dim = cfg.embed_dim
        self.width = dim
        self.num_layers = len(cfg.depths)
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.in_chans, dim, cfg.patch_norm)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.grid_size**2, dim))
        trunc_normal_(self.pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        dpr = torch.linspace(0, cfg.drop_path_rate, sum(cfg.depths), device="cpu").tolist()
        self.layers = nn.ModuleList()
        last = self.num_layers - 1
        self.isolated_groups = cfg.isolated_groups
        for i in range(self.num_layers):
            downsample = None
            if i < last:
                downsample = GroupingBlock(
                    dim=dim, num_heads=cfg.num_heads[i], num_group_token=cfg.num_group_tokens[i],
                    num_output_group=cfg.num_output_groups[i], hard=cfg.hard_assignment,
                    gumbel=cfg.hard_assignment, gumbel_tau=cfg.gumbel_tau, assign_eps=cfg.assign_eps,
                    fused=cfg.fused_attention)
            group_projector = None
            if i > 0 and cfg.num_group_tokens[i] > 0:
                group_projector = nn.Sequential(
                    nn.LayerNorm(dim), MixerMlp(cfg.num_group_tokens[i - 1], dim // 2, cfg.num_group_tokens[i]))
            start = sum(cfg.depths[:i])
            self.layers.append(GroupingLayer(
                dim=dim, depth=cfg.depths[i], num_heads=cfg.num_heads[i], num_group_token=cfg.num_group_tokens[i],
                mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias, drop=cfg.drop_rate, attn_drop=cfg.attn_drop_rate,
                drop_path=dpr[start:start + cfg.depths[i]], downsample=downsample, group_projector=group_projector,
                use_checkpoint=cfg.use_checkpoint, fused=cfg.fused_attention))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_weights)
        self.set_isolation(True)

    def set_isolation(self, active: bool) -> None:
        """Turn the configured ``isolated_groups`` behaviour on, or off (the official model's
        grouping) for the first steps of a training run (``TrainConfig.isolate_from``)."""
        mode = self.isolated_groups if active else "off"
        last = self.num_layers - 1
        isolated = {"off": (), "attention": (), "region": (), "region_fixed": (), "region_alone": (),
                    "region_local": (), "last": (last - 1,), "all": range(last)}[mode]
        self.carry_isolated = mode == "region_local"  # forward stacks the isolated copy from the start
        for i, layer in enumerate(self.layers):
            if layer.downsample is not None:
                layer.downsample.isolated = i in isolated
                layer.downsample.region = ("local" if self.carry_isolated else
                                           {"region": "pooled", "region_fixed": "fixed",
                                            "region_alone": "fixed"}.get(mode) if i == last - 1 else None)
            for blk in layer.blocks:
                blk.self_only = i == last and last > 0 and mode in ("attention", "last", "all")
                blk.self_only_second_half = (self.carry_isolated or
                                             i == last and last > 0 and mode == "region_alone")

    def forward(self, images: torch.Tensor, *, return_attn: bool = False) -> VisionOutput:
        """images [B, 3, H, W] → VisionOutput with x [B, G_final, C]."""
        x, (h, w) = self.patch_embed(images)
        x = self.pos_drop(x + interpolate_pos_encoding(self.pos_embed, h, w).to(x.dtype))
        if self.carry_isolated:  # "region_local": the isolated copy starts from the patch embeddings
            x = torch.cat([x, x])
        group_token = None
        hard_maps: list[torch.Tensor] = []
        soft_maps: list[torch.Tensor] = []
        for layer in self.layers:
            out = layer(x, group_token, return_attn=return_attn)
            x, group_token = out.x, out.group_token
            if out.attn_soft is not None:
                hard_maps.append(out.attn_hard)
                soft_maps.append(out.attn_soft)
        x = self.norm(x)
        if x.shape[0] == 2 * images.shape[0]:  # isolated_groups "region": official and isolated groups
            x, x_region = x.chunk(2)
            return VisionOutput(x, hard_maps, soft_maps, (h, w), x_region)
        return VisionOutput(x, hard_maps, soft_maps, (h, w))

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every attention between SDPA and the explicit softmax(q kᵀ/√d) v maths."""
        for m in self.modules():
            if isinstance(m, Attention):
                m.fused = fused

    def set_use_checkpoint(self, flag: bool) -> None:
        for layer in self.layers:
            layer.use_checkpoint = flag


def _init_weights(m: nn.Module) -> None:
    """Official init: truncated normal (std .02) Linear weights, zero biases, unit LayerNorm."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
