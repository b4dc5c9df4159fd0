"""``isolated_groups``: final group features computed from their own segments (docs/STUDY.md, stop 15)."""

from __future__ import annotations

import copy

import pytest
import torch

from cocu.errors import CocuError
from cocu.models import create_model
from cocu.models.hf import config_to_hf
from cocu.models.vision import AttnBlock, GroupingBlock


def _explicit_self_only(block: AttnBlock, x: torch.Tensor) -> torch.Tensor:
    """Naive reference: the block's attention written out with a mask that lets a token see itself only."""
    b, n, c = x.shape
    h = block.attn.num_heads
    y = block.norm1(x)
    q, k, v = block.attn.qkv(y).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
    logits = (q @ k.transpose(-2, -1)) * (c // h) ** -0.5
    eye = torch.eye(n, dtype=torch.bool)
    weights = logits.masked_fill(~eye, float("-inf")).softmax(dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, n, c)
    x = x + block.attn.proj(out)
    return x + block.mlp(block.norm2(x))


def test_self_only_block_matches_a_masked_attention_and_keeps_tokens_apart():
    torch.manual_seed(0)
    block = AttnBlock(32, 4, mlp_ratio=4.0, qkv_bias=True, drop=0.0, attn_drop=0.0, drop_path=0.0,
                      fused=True, self_only=True).eval()
    x = torch.randn(2, 5, 32)
    torch.testing.assert_close(block(x), _explicit_self_only(block, x))
    changed = x.clone()
    changed[:, 1:] = torch.randn(2, 4, 32)             # every token but the first
    torch.testing.assert_close(block(changed)[:, 0], block(x)[:, 0])
    block.self_only = False                            # the official block mixes them
    assert not torch.allclose(block(changed)[:, 0], block(x)[:, 0])


def test_isolated_grouping_block_leaves_an_empty_group_without_image_content():
    torch.manual_seed(0)
    kwargs = dict(dim=32, num_heads=4, num_group_token=3, num_output_group=3, hard=True, gumbel=False)
    isolated = GroupingBlock(**kwargs, isolated=True).eval()
    official = GroupingBlock(**kwargs, isolated=False).eval()
    official.load_state_dict(isolated.state_dict())
    # make group 2 unreachable: its assignment query is pushed far from every token
    with torch.no_grad():
        isolated.assign.q_proj.weight.zero_()
        isolated.assign.q_proj.bias.zero_()
        isolated.assign.k_proj.weight.zero_()
        isolated.assign.k_proj.bias.copy_(torch.linspace(-1, 1, 32))
    official.load_state_dict(isolated.state_dict())
    tokens = torch.randn(1, 3, 32).expand(2, -1, -1)
    images = torch.randn(2, 10, 32)
    out, hard, _ = isolated(images, tokens, return_attn=True)
    # with a constant score every token goes to the first group (argmax ties break to index 0)
    assert hard[:, 0].sum().item() == 20 and hard[:, 1:].sum().item() == 0
    torch.testing.assert_close(out[0, 1:], out[1, 1:])  # empty groups: the same for both images
    assert not torch.allclose(out[0, 0], out[1, 0])
    off, _, _ = official(images, tokens)
    assert not torch.allclose(off[0, 1:], off[1, 1:])   # officially they carry the image-wide query


@pytest.mark.parametrize("mode", ["attention", "last", "all"])
def test_isolated_model_keeps_the_official_state_dict_and_trains(mode):
    torch.manual_seed(0)
    official = create_model("groupvit_tiny")
    model = create_model("groupvit_tiny", isolated_groups=mode)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in official.state_dict().items()}
    model.load_state_dict(official.state_dict())
    blocks = model.img_encoder.layers
    assert [layer.downsample.isolated for layer in blocks[:-1]] == \
        {"attention": [False, False], "last": [False, True], "all": [True, True]}[mode]
    assert all(b.self_only for b in blocks[-1].blocks) and not any(b.self_only for b in blocks[0].blocks)
    images, ids = torch.randn(4, 3, 64, 64), torch.randint(1, 100, (4, 2, 6))
    ids[:, :, -1] = model.config.vocab_size - 1
    model(images, ids).loss.backward()
    assert all(p.grad is not None for n, p in model.img_encoder.named_parameters() if "pre_assign" in n)


def test_isolated_groups_bad_value_and_hf_export_are_errors():
    with pytest.raises(CocuError, match="isolated_groups"):
        create_model("groupvit_tiny", isolated_groups="some")
    with pytest.raises(CocuError, match="isolated_groups"):
        config_to_hf(create_model("groupvit_tiny", isolated_groups="last").config)


def test_region_mode_pools_the_official_image_embedding_and_names_with_isolated_groups():
    torch.manual_seed(0)
    official = create_model("groupvit_tiny").eval()
    region = create_model("groupvit_tiny", isolated_groups="region").eval()
    isolated = create_model("groupvit_tiny", isolated_groups="last").eval()
    for m in (region, isolated):
        m.load_state_dict(official.state_dict())
    for blk in isolated.img_encoder.layers[-1].blocks:   # the isolated groups, mixed by the last stage
        blk.self_only = False
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        out_off, out_reg, out_iso = (m.encode_image(images, return_feat=True, return_attn=True)
                                     for m in (official, region, isolated))
    torch.testing.assert_close(out_reg.image_x, out_off.image_x)          # caption / multi-label side
    torch.testing.assert_close(out_reg.seg_maps(), out_off.seg_maps())    # the same grouping
    torch.testing.assert_close(out_reg.image_feat, out_iso.image_feat)    # per-group side
    assert not torch.allclose(out_reg.image_feat, out_off.image_feat)


@pytest.mark.parametrize("mode", ["region", "region_fixed", "region_local"])
def test_region_fixed_keeps_the_per_group_features_from_moving_the_assignment(mode):
    torch.manual_seed(0)
    model = create_model("groupvit_tiny", isolated_groups=mode)
    out = model.encode_image(torch.randn(4, 3, 64, 64), return_feat=True)
    out.image_feat.square().sum().backward()             # a loss on the per-group side only
    for stage in (0, 1) if mode == "region_local" else (1,):
        assign = model.img_encoder.layers[stage].downsample.assign
        moved = assign.q_proj.weight.grad.abs().sum().item()
        assert (moved == 0) == (mode != "region")
        assert assign.v_proj.weight.grad.abs().sum().item() > 0  # the pooled values still learn


def test_self_only_second_half_keeps_the_first_half_official_and_the_second_unmixed():
    torch.manual_seed(0)
    block = AttnBlock(16, 2, mlp_ratio=2.0, qkv_bias=True, drop=0.0, attn_drop=0.0, drop_path=0.0, fused=True)
    x = torch.randn(4, 5, 16, requires_grad=True)            # batch 2 official + 2 isolated copies
    block.self_only_second_half = True
    out = block(x)
    plain = copy.deepcopy(block)
    plain.self_only_second_half = False
    torch.testing.assert_close(out[:2], plain(x[:2]))                     # official attention
    torch.testing.assert_close(out[2:], _explicit_self_only(block, x[2:]))  # masked reference
    out[2, 0].sum().backward(retain_graph=True)               # an isolated token sees only itself
    assert x.grad[2, 1:].abs().sum() == 0 and x.grad[2, 0].abs().sum() > 0
    x.grad = None
    out[0, 0].sum().backward()                                # an official token sees its image
    assert x.grad[0, 1:].abs().sum() > 0


def test_region_alone_is_region_fixed_with_unmixed_isolated_groups():
    torch.manual_seed(0)
    fixed = create_model("groupvit_tiny", isolated_groups="region_fixed").eval()
    alone = create_model("groupvit_tiny", isolated_groups="region_alone").eval()
    alone.load_state_dict(fixed.state_dict())
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out_fixed, out_alone = (m.encode_image(images, return_feat=True, return_attn=True) for m in (fixed, alone))
    torch.testing.assert_close(out_alone.image_x, out_fixed.image_x)
    torch.testing.assert_close(out_alone.seg_maps(), out_fixed.seg_maps())
    assert not torch.allclose(out_alone.image_feat, out_fixed.image_feat)
    last = alone.img_encoder.layers[-1].blocks
    assert all(b.self_only_second_half and not b.self_only for b in last)


def test_region_local_keeps_the_official_side_and_each_group_sees_its_own_pixels_only():
    torch.manual_seed(0)
    official = create_model("groupvit_tiny").eval()
    local = create_model("groupvit_tiny", isolated_groups="region_local").eval()
    local.load_state_dict(official.state_dict())
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out_off, out_loc = (m.encode_image(images, return_feat=True, return_attn=True) for m in (official, local))
    torch.testing.assert_close(out_loc.image_x, out_off.image_x)          # caption / multi-label side
    torch.testing.assert_close(out_loc.seg_maps(), out_off.seg_maps())    # the same grouping
    assert all(b.self_only_second_half for layer in local.img_encoder.layers for b in layer.blocks)
    # naive reference: the group features are the patch tokens, each through the blocks' per-token
    # maths alone, pooled by the two official hard assignments in turn
    enc = local.img_encoder
    with torch.no_grad():
        x, _ = enc.patch_embed(images)
        x = x + enc.pos_embed
        maps = out_off.attn_hard  # hard assignments of stage 1 [B, 16, 64] and stage 2 [B, 4, 16]
        for layer, hard in zip(enc.layers, [*maps, None], strict=True):
            for blk in layer.blocks:
                x = _explicit_self_only(blk, x)
            if hard is not None:
                g = layer.downsample
                weights = hard / (hard.sum(-1, keepdim=True) + g.assign.assign_eps)
                pooled = g.assign.proj(weights @ g.assign.v_proj(g.norm_x(x)))
                x = pooled + g.mlp_channels(g.norm_new_x(pooled))
        reference = enc.norm(x)
    got = local.img_encoder(images).x_region
    torch.testing.assert_close(got, reference, rtol=1e-4, atol=1e-4)
