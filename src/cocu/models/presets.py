"""Named GroupViT presets and `create_model`.

A preset is a plain file, ``configs/models/<name>.json``, holding architecture fields only (open_clip's
``model_configs/`` habit); the speed knobs (``use_checkpoint``, ``fused_attention``, ``trim_text``,
``trim_text_on_device``) keep their defaults unless overridden. Shipped:

* ``groupvit_gcc_yfcc_30e``: the official NVlabs/GroupViT model (55,726,610 parameters);
* ``groupvit_tiny``: the CPU preset for the synthetic world (64 px, patch 8, 4 final groups);
* ``groupvit_small_cpu``: a larger CPU / single-GPU preset (96 px, 8 final groups).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.models.config import GroupViTConfig
from cocu.models.groupvit import GroupViT
from cocu.utils.configs import load_shipped, shipped_names

SPEED_FIELDS = ("use_checkpoint", "fused_attention", "trim_text", "trim_text_on_device")


def list_presets() -> list[str]:
    """Names of the shipped model presets."""
    return shipped_names("models")


def is_preset(name: str) -> bool:
    """Whether ``name`` names a shipped preset (not a file)."""
    return Path(str(name)).suffix != ".json" and str(name) in list_presets()


def get_config(name: str, /, **overrides: Any) -> GroupViTConfig:
    """The preset ``name`` (or a JSON config file path) with ``overrides`` applied."""
    preset = is_preset(name)
    if not preset and not (str(name).endswith(".json") or Path(name).is_file()):
        raise CocuError(f"unknown model preset {name!r}; known: {', '.join(list_presets())}")
    path, data = load_shipped("models", name, "model config")
    data.pop("_comment", None)
    if preset:
        speed = sorted(set(data) & set(SPEED_FIELDS))
        if speed:
            raise CocuError(f"model preset {path} holds speed settings {speed}: keep them out of architecture files")
        data = {"name": path.stem, **data}
    cfg = GroupViTConfig.from_dict(data)
    return cfg.replace(**overrides) if overrides else cfg


def create_model(name: str, /, **overrides: Any) -> GroupViT:
    """A randomly initialised GroupViT of preset ``name`` (or JSON config path), fields overridden."""
    return GroupViT(get_config(name, **overrides))
