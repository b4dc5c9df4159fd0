"""Named GroupViT presets and `create_model`.

The registry lives here in Python; ``configs/models/<name>.json`` are exports of it
(`export_preset_jsons`), so models can be built without those files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.models.config import GroupViTConfig
from cocu.models.groupvit import GroupViT

_PRESETS: dict[str, GroupViTConfig] = {}


def register_preset(config: GroupViTConfig) -> GroupViTConfig:
    """Add ``config`` to the registry under ``config.name``."""
    _PRESETS[config.name] = config
    return config


# The official NVlabs/GroupViT model (configs/group_vit_gcc_yfcc_30e.yml; 55,726,610 parameters).
register_preset(GroupViTConfig(name="groupvit_gcc_yfcc_30e"))

# CPU preset (9.1M parameters, 6.3M of them the token embedding): 64 px, patch 8 (8×8 grid, objects
# ≥ 2 patches wide); 4 final groups so that the last stage does not spread a few objects over many
# near-empty groups (DESIGN §5 feasibility runs).
register_preset(GroupViTConfig(
    name="groupvit_tiny", image_size=64, patch_size=8, embed_dim=128, depths=[2, 2, 1], num_heads=[4, 4, 4],
    num_group_tokens=[16, 4, 0], num_output_groups=[16, 4], drop_path_rate=0.0,
    text_width=128, text_layers=4, text_heads=4, proj_hidden_dim=256, output_dim=128,
))

# A larger CPU / single-GPU preset (17.9M parameters, 9.5M of them the token embedding).
register_preset(GroupViTConfig(
    name="groupvit_small_cpu", image_size=96, patch_size=8, embed_dim=192, depths=[3, 2, 2], num_heads=[6, 6, 6],
    num_group_tokens=[32, 8, 0], num_output_groups=[32, 8], drop_path_rate=0.05,
    text_width=192, text_layers=6, text_heads=4, proj_hidden_dim=1024, output_dim=192,
))


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def get_config(name: str, /, **overrides: Any) -> GroupViTConfig:
    """The preset ``name`` (or a JSON config file path) with ``overrides`` applied."""
    if name in _PRESETS:
        cfg = _PRESETS[name]
    elif name.endswith(".json") or Path(name).is_file():
        cfg = GroupViTConfig.from_json_file(name)
    else:
        raise CocuError(f"unknown model preset {name!r}; known: {', '.join(list_presets())}")
    return cfg.replace(**overrides) if overrides else cfg.replace()


def create_model(name: str, /, **overrides: Any) -> GroupViT:
    """A randomly initialised GroupViT of preset ``name`` (or JSON config path), fields overridden."""
    return GroupViT(get_config(name, **overrides))


def export_preset_jsons(folder: str | os.PathLike) -> list[Path]:
    """Write every preset as ``folder/<name>.json``; returns the paths."""
    paths = []
    for name, cfg in sorted(_PRESETS.items()):
        path = Path(folder) / f"{name}.json"
        cfg.save_json(path)
        paths.append(path)
    return paths
