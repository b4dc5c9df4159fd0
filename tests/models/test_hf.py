"""Hugging Face interop: a random small ``transformers.GroupViTModel`` saved with
``save_pretrained`` loads into cocu with the same outputs (to 1e-5), and official → HF → official
is lossless."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from cocu.cli import main as cli_main
from cocu.errors import CocuError
from cocu.eval.segmenter import group_maps
from cocu.models import create_model, load_model
from cocu.models.hf import config_from_hf, config_to_hf, read_hf_folder, write_hf_folder
from cocu.models.official_config import save_official

import transformers  # noqa: E402  (pinned in requirements.txt: this test must not skip in CI)

TOL = dict(atol=1e-5, rtol=1e-5)


def _hf_config(**vision):
    text = dict(vocab_size=300, hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=20, eos_token_id=299, bos_token_id=298)
    vis = dict(hidden_size=48, intermediate_size=192, num_hidden_layers=4, depths=[2, 1, 1],
               num_group_tokens=[8, 4, 0], num_output_groups=[8, 4, 4], num_attention_heads=3, image_size=32,
               patch_size=8, assign_eps=0.5)
    vis.update(vision)
    return transformers.GroupViTConfig(text_config=text, vision_config=vis, projection_dim=24,
                                       projection_intermediate_dim=40, logit_scale_init_value=2.0)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = transformers.GroupViTModel(_hf_config()).eval()
    with torch.no_grad():  # random BatchNorm statistics so eval-mode BN is not the identity
        for bn in (model.visual_projection[1], model.text_projection[1]):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_()
            bn.bias.normal_()
        model.logit_scale.fill_(1.3)
    path = tmp_path_factory.mktemp("hf") / "groupvit-small"
    model.save_pretrained(path)
    return path, model


def _inputs():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 32, 32, generator=g)
    ids = torch.randint(1, 290, (3, 20), generator=g)
    ids[:, 0] = 298
    for row, end in enumerate((5, 12, 19)):  # EOT (the largest id) then padding zeros
        ids[row, end] = 299
        ids[row, end + 1:] = 0
    return images, ids


def test_config_fields_mapped(hf_dir):
    path, _ = hf_dir
    cfg = config_from_hf(json.loads((path / "config.json").read_text()))
    assert (cfg.embed_dim, cfg.depths, cfg.num_heads, cfg.num_group_tokens, cfg.num_output_groups) == (
        48, [2, 1, 1], [3, 3, 3], [8, 4, 0], [8, 4])
    assert (cfg.image_size, cfg.patch_size, cfg.assign_eps, cfg.output_dim, cfg.proj_hidden_dim) == (32, 8, 0.5, 24, 40)
    assert (cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.vocab_size, cfg.context_length) == (32, 2, 2, 300, 20)
    assert math.isclose(cfg.contrast_temperature, math.exp(-2.0))


def test_outputs_match_transformers(hf_dir):
    path, hf = hf_dir
    ours = load_model(path)
    images, ids = _inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, pixel_values=images, output_attentions=True, output_segmentation=True)
        out = ours.encode_image(images, return_feat=True, return_attn=True)
        text = ours.encode_text(ids)
    torch.testing.assert_close(F.normalize(out.image_x, dim=-1), ref.image_embeds, **TOL)
    torch.testing.assert_close(F.normalize(text, dim=-1), ref.text_embeds, **TOL)
    hf_groupings = ref.vision_model_output.attentions
    assert len(out.attn_soft) == len(hf_groupings) == 2
    for mine, theirs in zip(out.attn_soft, hf_groupings):
        torch.testing.assert_close(mine, theirs, **TOL)
    # HF's segmentation logits, rebuilt from cocu's group embeddings and its segmenter's group maps
    scale = ours.logit_scale.exp()
    maps = group_maps(out.attn_soft, out.grid, (32, 32)).flatten(2)  # [B, G, H*W]
    per_group = F.normalize(out.image_feat, dim=-1) @ F.normalize(text, dim=-1).T * scale  # [B, G, N]
    seg = (per_group.transpose(1, 2) @ maps * scale).reshape(2, 3, 32, 32)
    torch.testing.assert_close(seg, ref.segmentation_logits, atol=1e-4, rtol=1e-5)
    assert seg.abs().max() > 1  # not a trivial all-zero comparison


def test_cocu_to_hf_loads_in_transformers(tmp_path):
    model = create_model("groupvit_tiny", text_layers=1, vocab_size=500, context_length=16).eval()
    folder = write_hf_folder(model.config, model.state_dict(), tmp_path / "hf")
    hf = transformers.GroupViTModel.from_pretrained(folder).eval()
    images, ids = torch.randn(1, 3, 64, 64), torch.tensor([[498, 5, 7, 499] + [0] * 12])
    with torch.no_grad():
        ref = hf(input_ids=ids, pixel_values=images)
        torch.testing.assert_close(F.normalize(model.encode_image(images).image_x, dim=-1), ref.image_embeds, **TOL)
        torch.testing.assert_close(F.normalize(model.encode_text(ids), dim=-1), ref.text_embeds, **TOL)


def test_official_hf_official_round_trip_is_lossless(tmp_path):
    model = create_model("groupvit_tiny", text_layers=1, num_heads=[2, 2, 2]).eval()
    with torch.no_grad():
        model.multi_label_logit_scale.fill_(3.7)
        model.img_projector.linear_hidden[1].running_mean.normal_()
    sd = model.state_dict()
    official = save_official(sd, model.config, tmp_path / "official.pth")
    assert cli_main(["convert-checkpoint", str(official), str(tmp_path / "hf")]) == 0
    assert cli_main(["convert-checkpoint", str(tmp_path / "hf"), str(tmp_path / "back.pth")]) == 0
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    assert set(back["model"]) == set(sd)
    for key, value in sd.items():
        assert back["model"][key].dtype == value.dtype and torch.equal(back["model"][key], value), key
    assert load_model(tmp_path / "back.pth").config == model.config
    cfg, _ = read_hf_folder(tmp_path / "hf")
    assert cfg == model.config


def test_hf_cannot_express_per_stage_heads():
    with pytest.raises(CocuError, match="num_heads"):
        config_to_hf(create_model("groupvit_tiny", num_heads=[4, 2, 2]).config)


def test_unsupported_hf_fields_are_errors(hf_dir):
    path, _ = hf_dir
    cfg = json.loads((path / "config.json").read_text())
    cfg["vision_config"]["hidden_act"] = "relu"
    with pytest.raises(CocuError, match="hidden_act"):
        config_from_hf(cfg)
    cfg = json.loads((path / "config.json").read_text())
    cfg["vision_config"]["mystery_option"] = 3
    with pytest.raises(CocuError, match="mystery_option"):
        config_from_hf(cfg)
