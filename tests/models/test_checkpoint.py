"""Official .pth loading (strict, weights_only), safetensors round trip, clear errors, the CLI converter."""

from __future__ import annotations

import pytest
import torch

from cocu.cli import main as cli_main
from cocu.errors import CocuError
from cocu.models import create_model
from cocu.models.checkpoint import (
    infer_config,
    load_model,
    load_official_groupvit,
    read_official_state_dict,
    save_model,
)


class FakeOmegaConf:
    """Stands in for the non-tensor objects official checkpoints carry (never loaded by weights_only)."""

    def __init__(self):
        self.content = {"lr": 1e-3}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny").eval()
    with torch.no_grad():  # non-default BN statistics so that they must round-trip too
        model.img_projector.linear_hidden[1].running_mean.normal_()
        model.img_projector.linear_hidden[1].num_batches_tracked.fill_(7)
    return model


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_official_pth_loads_strictly_with_module_prefix_and_foreign_objects(tiny, tmp_path):
    path = tmp_path / "group_vit_tiny.pth"
    sd = {f"module.{k}": v for k, v in tiny.state_dict().items()}
    torch.save({"model": sd, "config": FakeOmegaConf(), "epoch": 30}, path)
    loaded = read_official_state_dict(path)
    assert list(loaded) == list(tiny.state_dict())
    # into a given model
    target = create_model("groupvit_tiny")
    load_official_groupvit(path, target)
    _same_weights(target, tiny)
    # without a model: the architecture is inferred (it matches the groupvit_tiny preset, heads included)
    assert infer_config(loaded).name == "groupvit_tiny"
    model = load_model(path)
    _same_weights(model, tiny)
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(images).image_x, tiny.encode_image(images).image_x)


def test_missing_unexpected_and_mismatched_keys_are_listed(tiny, tmp_path):
    sd = dict(tiny.state_dict())
    sd.pop("logit_scale")
    sd["extra.weight"] = torch.zeros(1)
    sd["text_encoder.ln_final.weight"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CocuError) as err:
        load_official_groupvit(path, create_model("groupvit_tiny"))
    msg = str(err.value)
    assert "missing keys (1): logit_scale" in msg
    assert "unexpected keys (1): extra.weight" in msg
    assert "text_encoder.ln_final.weight: checkpoint (5,) vs model (128,)" in msg


def test_official_preset_checkpoint_is_recognised(tmp_path):
    with torch.device("meta"):
        official = create_model("groupvit_gcc_yfcc_30e")
    cfg = infer_config(official.state_dict())
    assert cfg.name == "groupvit_gcc_yfcc_30e" and cfg.num_heads == [6, 6, 6] and cfg.text_heads == 4


def test_pos_embed_is_resized_when_loading_into_another_resolution(tiny, tmp_path):
    path = tmp_path / "t.pth"
    torch.save({"model": tiny.state_dict()}, path)
    bigger = create_model("groupvit_tiny", image_size=96)
    load_official_groupvit(path, bigger)
    assert bigger.img_encoder.pos_embed.shape == (1, 144, 128)


def test_safetensors_round_trip_keeps_config_and_weights(tiny, tmp_path):
    custom = create_model("groupvit_tiny", depths=[1, 1, 1], drop_path_rate=0.05, name="custom_tiny")
    path = save_model(custom, tmp_path / "m.safetensors")
    back = load_model(path)
    assert back.config == custom.config
    _same_weights(back, custom)
    assert not back.training


def test_training_checkpoint_with_config(tiny, tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"model": tiny.state_dict(), "config": tiny.config.to_dict(), "step": 3,
                "optimizer": {"state": {}}}, path)
    _same_weights(load_model(path), tiny)
    # the trainer's layout: model config under "model_config", its own TrainConfig under "config"
    other = create_model("groupvit_tiny", text_layers=1, num_heads=[2, 2, 2])
    torch.save({"model": other.state_dict(), "model_config": other.config.to_dict(),
                "config": {"lr": 1e-3, "model": "groupvit_tiny"}}, path)
    back = load_model(path)
    assert back.config.num_heads == [2, 2, 2] and back.config.text_layers == 1
    _same_weights(back, other)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_malformed_files_raise_cocu_error(tmp_path, content):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    with pytest.raises(CocuError, match="broken.pth"):
        load_model(path)


def test_wrong_content_and_missing_file_raise_cocu_error(tmp_path):
    with pytest.raises(CocuError, match="not found"):
        load_model(tmp_path / "nope.pth")
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CocuError, match="no GroupViT state dict"):
        read_official_state_dict(path)
    path = tmp_path / "other.pth"
    torch.save({"model": {"conv.weight": torch.zeros(3)}}, path)
    with pytest.raises(CocuError, match="not a GroupViT state dict"):
        load_model(path)
    truncated = tmp_path / "trunc.safetensors"
    save_model(create_model("groupvit_tiny", text_layers=1), truncated)
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(CocuError, match="trunc.safetensors"):
        load_model(truncated)


def test_cli_convert_checkpoint(tiny, tmp_path, capsys):
    src = tmp_path / "official.pth"
    torch.save({"model": tiny.state_dict()}, src)
    dst = tmp_path / "out" / "model.safetensors"
    assert cli_main(["convert-checkpoint", str(src), str(dst)]) == 0
    assert "groupvit_tiny" in capsys.readouterr().out
    _same_weights(load_model(dst), tiny)
    assert cli_main(["convert-checkpoint", str(tmp_path / "missing.pth"), str(dst)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
