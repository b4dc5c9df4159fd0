"""Official configs: YAML with ``_base_`` inheritance, the OmegaConf config stored in official
``.pth`` files (read without omegaconf installed), and a clear error when no head count is known."""

import sys
import types
import typing
from pathlib import Path

import pytest
import torch

from cocu.cli import main as cli_main
from cocu.errors import CocuError
from cocu.models import GroupViT, get_config, load_model
from cocu.models.official_config import config_from_official, load_official_yaml, read_official_yaml

FIXTURES = Path(__file__).parent / "fixtures" / "official"


def test_yaml_base_inheritance():
    raw = read_official_yaml(FIXTURES / "group_vit_small_2heads.yml")
    assert raw["train"] == {"epochs": 2, "base_lr": 1.6e-3}  # merged key by key
    assert raw["data"]["batch_size"] == 256 and raw["model_name"] == "group_vit_small_2heads"
    cfg = load_official_yaml(FIXTURES / "group_vit_small_2heads.yml")
    assert (cfg.image_size, cfg.patch_size, cfg.embed_dim, cfg.num_heads, cfg.depths) == (32, 8, 64, [2, 2, 2], [1, 1, 1])
    assert (cfg.num_group_tokens, cfg.num_output_groups) == ([8, 4, 0], [8, 4])
    # from the base: text tower length/vocabulary, heads by the official rule width // 64
    assert (cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.context_length) == (128, 1, 2, 77)
    assert (cfg.drop_path_rate, cfg.output_dim, cfg.proj_hidden_dim) == (0.1, 256, 4096)


def test_default_yaml_is_the_official_preset():
    cfg = load_official_yaml(FIXTURES / "default.yml")
    preset = get_config("groupvit_gcc_yfcc_30e")
    assert cfg.replace(name=preset.name) == preset


def test_unknown_official_keys_are_errors(tmp_path):
    (tmp_path / "bad.yml").write_text("_base_: " + str(FIXTURES / "default.yml") + "\nmodel:\n  img_encoder:\n"
                                      "    emb_dim: 3\n")
    with pytest.raises(CocuError, match="emb_dim"):
        load_official_yaml(tmp_path / "bad.yml")
    (tmp_path / "loop.yml").write_text("_base_: loop.yml\n")
    with pytest.raises(CocuError, match="itself"):
        read_official_yaml(tmp_path / "loop.yml")


# --- a stand-in for OmegaConf's pickled layout, saved under omegaconf's module names -------------
def _fake_omegaconf():
    mods = {n: types.ModuleType(n) for n in ("omegaconf", "omegaconf.dictconfig", "omegaconf.listconfig",
                                             "omegaconf.nodes", "omegaconf.base")}

    def cls(module, name):
        c = type(name, (), {"__module__": module, "__qualname__": name})
        setattr(mods[module], name, c)
        return c

    meta_cls, dict_cls = cls("omegaconf.base", "ContainerMetadata"), cls("omegaconf.dictconfig", "DictConfig")
    list_cls, node_cls = cls("omegaconf.listconfig", "ListConfig"), cls("omegaconf.nodes", "AnyNode")

    def meta():
        m = meta_cls()
        m.__dict__.update(ref_type=typing.Any, object_type=dict, optional=True, key=None, flags={})
        return m

    def wrap(value):
        if isinstance(value, dict):
            obj = dict_cls()
            obj.__dict__.update(_metadata=meta(), _parent=None, _content={k: wrap(v) for k, v in value.items()})
        elif isinstance(value, list):
            obj = list_cls()
            obj.__dict__.update(_metadata=meta(), _parent=None, _content=[wrap(v) for v in value])
        else:
            obj = node_cls()
            obj.__dict__.update(_val=value, _metadata=meta(), _parent=None)
        return obj

    return mods, wrap


def _save_with_omegaconf_config(path, state_dict, config: dict):
    mods, wrap = _fake_omegaconf()
    sys.modules.update(mods)
    try:
        torch.save({"model": state_dict, "config": wrap(config), "epoch": 30}, path)
    finally:
        for name in mods:
            sys.modules.pop(name, None)
    assert "omegaconf" not in sys.modules


def test_stored_config_sets_the_head_count(tmp_path):
    """The issue's case: 64 wide with 2 heads is not width // 64; the stored config says so."""
    torch.manual_seed(0)
    cfg = load_official_yaml(FIXTURES / "group_vit_small_2heads.yml")
    model = GroupViT(cfg).eval()
    path = tmp_path / "official_2heads.pth"
    _save_with_omegaconf_config(path, model.state_dict(), read_official_yaml(FIXTURES / "group_vit_small_2heads.yml"))
    loaded = load_model(path)
    assert loaded.config.num_heads == [2, 2, 2] and loaded.config.text_heads == 2
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(images).image_x, model.encode_image(images).image_x,
                                   atol=0, rtol=0)


def test_no_config_and_no_preset_is_a_clear_error(tmp_path, capsys):
    cfg = load_official_yaml(FIXTURES / "group_vit_small_2heads.yml")
    model = GroupViT(cfg)
    path = tmp_path / "bare.pth"
    torch.save({"model": model.state_dict()}, path)
    with pytest.raises(CocuError, match="attention heads is unknown"):
        load_model(path)
    # the user says it: an official YAML or our JSON
    assert load_model(path, config=FIXTURES / "group_vit_small_2heads.yml").config.num_heads == [2, 2, 2]
    assert cli_main(["convert-checkpoint", str(path), str(tmp_path / "x.safetensors")]) == 2
    assert "attention heads is unknown" in capsys.readouterr().err
    assert cli_main(["convert-checkpoint", str(path), str(tmp_path / "x.safetensors"), "--model-config",
                     str(FIXTURES / "group_vit_small_2heads.yml")]) == 0
    assert load_model(tmp_path / "x.safetensors").config.num_heads == [2, 2, 2]


def test_config_from_official_needs_a_model_section():
    with pytest.raises(CocuError, match="img_encoder"):
        config_from_official({"data": {}})
