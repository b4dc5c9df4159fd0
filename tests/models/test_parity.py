"""Our GroupViT against the independent reference of the official inference steps (reference_groupvit)."""

from __future__ import annotations

import copy

import pytest
import torch

from cocu.models import create_model
from cocu.models.tokenizer import tokenize
from tests.models import reference_groupvit as ref


def randomized_tiny(seed: int = 0, **overrides) -> torch.nn.Module:
    """groupvit_tiny with every parameter and BN statistic randomised (nothing left at a trivial init)."""
    torch.manual_seed(seed)
    model = create_model("groupvit_tiny", **overrides)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            elif t.ndim >= 2 or name.endswith(("group_token", "pos_embed")):
                t.normal_(0.0, 0.15)
            elif "norm" in name or "ln_" in name:
                t.copy_(1.0 + 0.1 * torch.randn_like(t) if name.endswith("weight") else 0.1 * torch.randn_like(t))
            else:
                t.normal_(0.0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return randomized_tiny()


@pytest.fixture(scope="module")
def sd64(model):
    return _state64(model)


def _state64(model):
    return {k: v.double() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("size", [(64, 64), (80, 96)])
def test_encode_image_and_seg_maps_match_reference(model, sd64, size):
    torch.manual_seed(1)
    images = torch.randn(2, 3, *size)
    expected = ref.encode_image(sd64, model.config, images.double())
    with torch.no_grad():
        out = model.encode_image(images, return_feat=True, return_attn=True)
        maps = model.seg_maps(images)
    assert out.grid == expected["grid"] == (size[0] // 8, size[1] // 8)
    assert len(out.attn_soft) == len(out.attn_hard) == 2
    for ours, theirs in zip(out.attn_hard, expected["attn_hard"]):
        assert torch.equal(ours.double(), theirs)  # the same one-hot group per token
    for ours, theirs in zip(out.attn_soft, expected["attn_soft"]):
        torch.testing.assert_close(ours.double(), theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.image_x.double(), expected["image_x"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.image_feat.double(), expected["image_feat"], atol=1e-5, rtol=0)
    expected_maps = ref.seg_maps(expected["attn_soft"], expected["grid"])
    assert maps.shape == (2, 4, size[0] // 8, size[1] // 8)
    torch.testing.assert_close(maps.double(), expected_maps, atol=1e-5, rtol=0)
    # each patch distributes a total weight of 1 over the final groups
    torch.testing.assert_close(maps.sum(1), torch.ones_like(maps.sum(1)), atol=1e-5, rtol=0)


def test_float64_model_matches_reference_tightly(model, sd64):
    """Same maths in float64: differences are rounding only (guards against compensating errors)."""
    m64 = copy.deepcopy(model).double()
    torch.manual_seed(2)
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    expected = ref.encode_image(sd64, m64.config, images)
    with torch.no_grad():
        out = m64.encode_image(images, return_feat=True)
    torch.testing.assert_close(out.image_feat, expected["image_feat"], atol=1e-10, rtol=0)


def test_encode_text_matches_reference(model, sd64):
    texts = ["a photo of a dog.", "grass", "", "a very long caption " * 30, "two cats on a sofa"]
    ids = tokenize(texts)
    expected = ref.encode_text(sd64, model.config, ids)
    with torch.no_grad():
        flat = model.encode_text(ids)
        grouped = model.encode_text(torch.cat([ids, ids[:1]]).reshape(3, 2, 77))
    torch.testing.assert_close(flat.double(), expected, atol=1e-5, rtol=0)
    assert grouped.shape == (3, 2, 128)
    torch.testing.assert_close(grouped.reshape(6, -1)[:5], flat, atol=1e-5, rtol=0)


def test_explicit_attention_path_equals_fused(model):
    images = torch.randn(2, 3, 64, 64)
    ids = tokenize(["a dog", "the sky above the grass"])
    with torch.no_grad():
        fused = model.encode_image(images, return_feat=True).image_feat, model.encode_text(ids)
        model.set_fused_attention(False)
        try:
            explicit = model.encode_image(images, return_feat=True).image_feat, model.encode_text(ids)
        finally:
            model.set_fused_attention(True)
    for a, b in zip(fused, explicit):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
