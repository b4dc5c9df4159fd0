"""Official state-dict layout, presets and configs, output contracts, speed options that must not
change results (autocast, gradient checkpointing, channels_last)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from cocu.errors import CocuError
from cocu.models import GroupViTConfig, create_model, get_config, list_presets
from cocu.models.tokenizer import tokenize

ROOT = Path(__file__).resolve().parents[2]
# a copy of ../shared/reference/groupvit_gcc_yfcc_30e_state_dict.tsv (keys and shapes of the official
# checkpoint, read from NVlabs/GroupViT), kept beside the test so it never depends on a sibling folder
REFERENCE_TSV = Path(__file__).resolve().parent / "groupvit_gcc_yfcc_30e_state_dict.tsv"


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) if t.ndim else "scalar"


def test_official_preset_state_dict_equals_reference_line_for_line():
    with torch.device("meta"):
        model = create_model("groupvit_gcc_yfcc_30e")
    lines = REFERENCE_TSV.read_text().splitlines()
    assert lines[0] == "name\tshape\tdtype"
    ours = [f"{k}\t{_shape(v)}\t{str(v.dtype).removeprefix('torch.')}" for k, v in model.state_dict().items()]
    assert len(ours) == len(lines) - 1
    for i, (expected, got) in enumerate(zip(lines[1:], ours)):
        assert got == expected, f"line {i + 2}"
    assert sum(p.numel() for p in model.parameters()) == 55_726_610


def test_presets_are_the_json_files(tmp_path):
    folder = ROOT / "configs" / "models"
    assert list_presets() == sorted(p.stem for p in folder.glob("*.json"))
    for name in list_presets():
        data = json.loads((folder / f"{name}.json").read_text())
        assert "name" not in data and "fused_attention" not in data, name  # architecture only
        assert get_config(name) == GroupViTConfig(name=name, **data), name
    tiny = get_config("groupvit_tiny")
    assert (tiny.image_size, tiny.patch_size, tiny.num_output_groups, tiny.embed_dim) == (64, 8, [16, 4], 128)
    assert GroupViTConfig().fused_attention and tiny.fused_attention  # speed knobs keep their defaults
    own = tmp_path / "mine.json"  # a user's file may set anything, speed knobs included
    own.write_text(json.dumps({**tiny.to_dict(), "name": "mine", "use_checkpoint": True}))
    assert get_config(str(own)) == tiny.replace(name="mine", use_checkpoint=True)


def test_config_errors_are_clear():
    with pytest.raises(CocuError, match="unknown model preset 'nope'"):
        create_model("nope")
    with pytest.raises(CocuError, match="unknown GroupViT config keys: embed"):
        create_model("groupvit_tiny", embed=3)
    with pytest.raises(CocuError, match="num_output_groups"):
        GroupViTConfig(depths=[1, 1], num_heads=[2, 2], num_group_tokens=[4, 0], num_output_groups=[4, 2])
    with pytest.raises(CocuError, match="divisible"):
        GroupViTConfig(embed_dim=100, num_heads=[3, 3, 3])
    with pytest.raises(CocuError, match="JSON"):
        GroupViTConfig.from_dict(["not", "a", "dict"])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("groupvit_tiny")


def test_output_shapes_and_assignment_maps(tiny):
    tiny.eval()
    with torch.no_grad():
        out = tiny.encode_image(torch.randn(2, 3, 64, 64), return_feat=True, return_attn=True)
        plain = tiny.encode_image(torch.randn(2, 3, 64, 64))
    assert out.image_x.shape == (2, 128) and out.image_feat.shape == (2, 4, 128) and out.grid == (8, 8)
    assert [tuple(a.shape) for a in out.attn_soft] == [(2, 16, 64), (2, 4, 16)]
    assert [tuple(a.shape) for a in out.attn_hard] == [(2, 16, 64), (2, 4, 16)]
    for hard in out.attn_hard:  # every token goes to exactly one group
        assert torch.equal(hard.sum(1), torch.ones_like(hard.sum(1)))
    assert plain.image_feat is None and plain.attn_soft == []
    # image_x is the projection of the mean final group token (after the last LayerNorm)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        enc = tiny.img_encoder(images)
        torch.testing.assert_close(tiny.encode_image(images).image_x, tiny.img_projector(enc.x.mean(1)))
    assert enc.x.shape == (2, 4, 128)
    torch.testing.assert_close(enc.x.mean(-1), torch.zeros(2, 4), atol=1e-5, rtol=0)  # LayerNorm'd, unit affine
    with pytest.raises(ValueError):
        tiny.encode_text(torch.zeros(2, 3, 4, 77, dtype=torch.long))


def test_training_step_with_other_resolution_drop_path_and_gumbel():
    torch.manual_seed(1)
    model = create_model("groupvit_tiny", drop_path_rate=0.1, text_layers=1).train()
    ids = tokenize([f"a photo of a {c}" for c in ["dog", "cat", "sky"] * 2]).reshape(3, 2, 77)
    out = model(torch.randn(3, 3, 48, 80), ids)  # not the preset's 64 px: pos_embed is resized
    out.loss.backward()
    assert torch.isfinite(out.loss) and model.img_encoder.pos_embed.grad.abs().sum() > 0


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(2)
    base = create_model("groupvit_tiny", text_layers=2).train()
    ckpt = copy.deepcopy(base)
    ckpt.set_grad_checkpointing(True)
    images = torch.randn(4, 3, 64, 64)
    ids = tokenize([f"photo {i}" for i in range(8)]).reshape(4, 2, 77)
    grads = []
    for m in (base, ckpt):
        torch.manual_seed(3)  # same Gumbel noise (checkpointing replays the RNG state in recomputation)
        m(images, ids).loss.backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-5, msg=name)


def test_channels_last_input_and_bf16_autocast(tiny):
    tiny.eval()
    images = torch.randn(2, 3, 64, 64)
    ids = tokenize(["a dog", "the sky"])
    with torch.no_grad():
        ref = tiny.encode_image(images, return_feat=True).image_feat
        cl = tiny.encode_image(images.to(memory_format=torch.channels_last), return_feat=True).image_feat
        torch.testing.assert_close(cl, ref, atol=1e-5, rtol=0)
        text_ref = tiny.encode_text(ids)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = tiny.encode_image(images, return_feat=True).image_feat
            text_half = tiny.encode_text(ids)
    cos = torch.nn.functional.cosine_similarity(half.float(), ref, dim=-1)
    assert cos.min() > 0.98, cos
    assert torch.nn.functional.cosine_similarity(text_half.float(), text_ref, dim=-1).min() > 0.98


def test_drop_path_zeroes_whole_samples_and_keeps_the_expectation():
    from cocu.models.vision import DropPath

    torch.manual_seed(4)
    layer = DropPath(0.25).train()
    x = torch.ones(4000, 3, 2)
    y = layer(x)
    per_sample = y.reshape(4000, -1)
    torch.testing.assert_close(per_sample.unique(), torch.tensor([0.0, 1.0 / 0.75]))
    assert torch.equal(per_sample.min(1).values, per_sample.max(1).values)  # all or nothing per sample
    assert abs(float((per_sample[:, 0] == 0).double().mean()) - 0.25) < 0.03
    assert torch.equal(layer.eval()(x), x)
