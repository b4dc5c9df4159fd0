"""A plain reference of the official GroupViT inference steps (NVlabs/GroupViT semantics), written
independently of cocu.models: it works on a bare state dict with explicit maths and loops
(per-head attention, hand-written LayerNorm/GELU/softmax, conv as patch matmul, BatchNorm in eval).

Used by the parity tests only; slow but simple.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def layer_norm(x: Tensor, sd: dict, prefix: str, eps: float = 1e-5) -> Tensor:
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * sd[prefix + ".weight"] + sd[prefix + ".bias"]


def linear(x: Tensor, sd: dict, prefix: str) -> Tensor:
    out = x @ sd[prefix + ".weight"].t()
    if prefix + ".bias" in sd:
        out = out + sd[prefix + ".bias"]
    return out


def gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def quick_gelu(x: Tensor) -> Tensor:
    return x / (1.0 + torch.exp(-1.702 * x))


def softmax(x: Tensor, dim: int) -> Tensor:
    e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)


def mlp(x: Tensor, sd: dict, prefix: str) -> Tensor:
    return linear(gelu(linear(x, sd, prefix + ".fc1")), sd, prefix + ".fc2")


def multi_head(q: Tensor, k: Tensor, v: Tensor, heads: int, mask: Tensor | None = None) -> Tensor:
    """q [B, N, C], k/v [B, S, C]; a loop over heads, softmax over keys."""
    c = q.shape[-1]
    d = c // heads
    outs = []
    for h in range(heads):
        qh, kh, vh = q[..., h * d:(h + 1) * d], k[..., h * d:(h + 1) * d], v[..., h * d:(h + 1) * d]
        logits = qh @ kh.transpose(1, 2) / math.sqrt(d)
        if mask is not None:
            logits = logits + mask
        outs.append(softmax(logits, dim=-1) @ vh)
    return torch.cat(outs, dim=-1)


# ------------------------------------------------------------------------------------------ vision
def self_attn_block(x: Tensor, sd: dict, p: str, heads: int) -> Tensor:
    h = layer_norm(x, sd, p + ".norm1")
    qkv = linear(h, sd, p + ".attn.qkv")
    c = x.shape[-1]
    q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    x = x + linear(multi_head(q, k, v, heads), sd, p + ".attn.proj")
    return x + mlp(layer_norm(x, sd, p + ".norm2"), sd, p + ".mlp")


def grouping_block(x: Tensor, groups: Tensor, sd: dict, p: str, heads: int
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Eval-mode grouping: returns new tokens [B, S, C], hard and soft maps [B, S, L]."""
    groups = layer_norm(groups, sd, p + ".norm_tokens")
    x = layer_norm(x, sd, p + ".norm_x")
    proj = mlp(groups.transpose(1, 2), sd, p + ".mlp_inter").transpose(1, 2)
    proj = layer_norm(proj, sd, p + ".norm_post_tokens")
    a = p + ".pre_assign_attn"
    attn = multi_head(linear(proj, sd, a + ".attn.q_proj"), linear(x, sd, a + ".attn.k_proj"),
                      linear(x, sd, a + ".attn.v_proj"), heads)
    proj = proj + linear(attn, sd, a + ".attn.proj")
    proj = proj + mlp(layer_norm(proj, sd, a + ".norm2"), sd, a + ".mlp")
    proj = layer_norm(proj, sd, a + ".norm_post")
    q = linear(proj, sd, p + ".assign.q_proj")
    k = linear(x, sd, p + ".assign.k_proj")
    v = linear(x, sd, p + ".assign.v_proj")
    raw = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # [B, S, L]
    soft = softmax(raw, dim=1)  # over groups
    hard = torch.zeros_like(soft)
    b_idx, l_idx = torch.meshgrid(torch.arange(raw.shape[0]), torch.arange(raw.shape[2]), indexing="ij")
    hard[b_idx, soft.argmax(dim=1), l_idx] = 1.0
    weights = hard / (hard.sum(dim=-1, keepdim=True) + 1.0)
    new = linear(weights @ v, sd, p + ".assign.proj") + proj
    new = new + mlp(layer_norm(new, sd, p + ".norm_new_x"), sd, p + ".mlp_channels")
    return new, hard, soft


def patch_embed(img: Tensor, sd: dict, patch: int) -> tuple[Tensor, int, int]:
    b, c, hh, ww = img.shape
    h, w = hh // patch, ww // patch
    weight = sd["img_encoder.patch_embed.proj.weight"]  # [C_out, 3, p, p]
    tokens = []
    for i in range(h):
        for j in range(w):
            piece = img[:, :, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch].reshape(b, -1)
            tokens.append(piece @ weight.reshape(weight.shape[0], -1).t() + sd["img_encoder.patch_embed.proj.bias"])
    x = torch.stack(tokens, dim=1)
    return layer_norm(x, sd, "img_encoder.patch_embed.norm"), h, w


def project(x: Tensor, sd: dict, p: str, bn_eps: float = 1e-5) -> Tensor:
    """ProjectMLP in eval: k=1 conv, BatchNorm with running stats, ReLU, k=1 conv."""
    h = x @ sd[p + ".linear_hidden.0.weight"][:, :, 0].t() + sd[p + ".linear_hidden.0.bias"]
    bn = p + ".linear_hidden.1"
    h = (h - sd[bn + ".running_mean"]) / torch.sqrt(sd[bn + ".running_var"] + bn_eps) * sd[bn + ".weight"] \
        + sd[bn + ".bias"]
    h = torch.clamp(h, min=0.0)
    return h @ sd[p + ".linear_out.weight"][:, :, 0].t() + sd[p + ".linear_out.bias"]


def encode_image(sd: dict, cfg, img: Tensor) -> dict:
    """Returns image_x [B, D], image_feat [B, G, D], hard/soft maps per stage, grid."""
    x, h, w = patch_embed(img, sd, cfg.patch_size)
    pos = sd["img_encoder.pos_embed"]
    side = int(math.sqrt(pos.shape[1]))
    if (h, w) != (side, side):
        grid = pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        pos = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(
            1, h * w, -1)
    x = x + pos
    prev_groups = None
    hards, softs = [], []
    n = len(cfg.depths)
    for i in range(n):
        p = f"img_encoder.layers.{i}"
        g = cfg.num_group_tokens[i]
        tokens = x
        groups = None
        if g > 0:
            groups = sd[p + ".group_token"].expand(x.shape[0], -1, -1)
            if i > 0:
                proj_in = layer_norm(prev_groups, sd, p + ".group_projector.0")
                groups = groups + mlp(proj_in.transpose(1, 2), sd, p + ".group_projector.1").transpose(1, 2)
            tokens = torch.cat([x, groups], dim=1)
        for j in range(cfg.depths[i]):
            tokens = self_attn_block(tokens, sd, f"{p}.blocks.{j}", cfg.num_heads[i])
        if g > 0:
            x, groups = tokens[:, :-g], tokens[:, -g:]
        else:
            x = tokens
        if i < n - 1:
            x, hard, soft = grouping_block(x, groups, sd, p + ".downsample", cfg.num_heads[i])
            hards.append(hard)
            softs.append(soft)
        prev_groups = groups
    x = layer_norm(x, sd, "img_encoder.norm")
    return {
        "image_x": project(x.mean(dim=1), sd, "img_projector"),
        "image_feat": project(x, sd, "img_projector"),
        "attn_hard": hards,
        "attn_soft": softs,
        "grid": (h, w),
    }


def seg_maps(softs: list[Tensor], grid: tuple[int, int]) -> Tensor:
    """Per patch, the product over stages of soft assignments, summed over intermediate groups."""
    b = softs[0].shape[0]
    h, w = grid
    maps = softs[0]  # [B, G0, L0]
    for a in softs[1:]:
        # maps_new[b, g1, l] = sum_g0 a[b, g1, g0] * maps[b, g0, l]
        maps = torch.einsum("bkg,bgl->bkl", a, maps)
    return maps.reshape(b, maps.shape[1], h, w)


# ------------------------------------------------------------------------------------------ text
def encode_text(sd: dict, cfg, ids: Tensor) -> Tensor:
    """ids [N, 77] → projected EOT features [N, D] (full context, explicit causal mask)."""
    x = sd["text_encoder.token_embedding.weight"][ids] + sd["text_encoder.positional_embedding"]
    t = x.shape[1]
    mask = torch.triu(torch.full((t, t), float("-inf"), dtype=x.dtype), diagonal=1)
    width = x.shape[-1]
    for i in range(cfg.text_layers):
        p = f"text_encoder.transformer.resblocks.{i}"
        h = layer_norm(x, sd, p + ".ln_1")
        w_in, b_in = sd[p + ".attn.in_proj_weight"], sd[p + ".attn.in_proj_bias"]
        q = h @ w_in[:width].t() + b_in[:width]
        k = h @ w_in[width:2 * width].t() + b_in[width:2 * width]
        v = h @ w_in[2 * width:].t() + b_in[2 * width:]
        x = x + linear(multi_head(q, k, v, cfg.text_heads, mask), sd, p + ".attn.out_proj")
        h = layer_norm(x, sd, p + ".ln_2")
        x = x + linear(quick_gelu(linear(h, sd, p + ".mlp.c_fc")), sd, p + ".mlp.c_proj")
    x = layer_norm(x, sd, "text_encoder.ln_final")
    eot = torch.stack([x[n, int(ids[n].argmax())] for n in range(x.shape[0])])
    return project(eot, sd, "text_projector")
