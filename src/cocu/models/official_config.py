"""NVlabs/GroupViT configs → `GroupViTConfig`: the YAML training configs (``_base_`` inheritance)
and the OmegaConf config pickled inside official ``.pth`` checkpoints.

Official ``model`` section (``configs/default.yml``)::

    model:
      type: MultiLabelContrastive
      img_encoder: {type: GroupViT, embed_dim: 384, num_heads: [6, 6, 6], depths: [6, 3, 3],
                    num_group_tokens: [64, 8, 0], num_output_groups: [64, 8], drop_rate: 0.0,
                    drop_path_rate: 0.1}
      text_encoder: {type: TextTransformer, context_length: 77, width: 256, layers: 12,
                     vocab_size: 49408}
      contrast_temperature: 0.07
      proj_num_layers: 2
      output_dim: 256

Keys the official code reads with a default (``img_size`` 224, ``patch_size`` 16, ...) take that
default when absent, exactly as ``GroupViT.__init__`` does; the text tower's heads are
``width // 64`` by the official ``TextTransformer``'s own rule. Unknown keys are an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.models.config import GroupViTConfig

# official GroupViT(...) keyword → our field (identity when the names agree)
_IMG_KEYS = {
    "img_size": "image_size", "patch_size": "patch_size", "in_chans": "in_chans", "embed_dim": "embed_dim",
    "depths": "depths", "num_heads": "num_heads", "num_group_tokens": "num_group_tokens",
    "num_output_groups": "num_output_groups", "hard_assignment": "hard_assignment", "mlp_ratio": "mlp_ratio",
    "qkv_bias": "qkv_bias", "drop_rate": "drop_rate", "attn_drop_rate": "attn_drop_rate",
    "drop_path_rate": "drop_path_rate", "patch_norm": "patch_norm", "use_checkpoint": "use_checkpoint",
}
# keys of the official signature that must keep the only value cocu (and the released models) use
_IMG_FIXED = {"type": "GroupViT", "num_classes": 0, "embed_factors": None, "qk_scale": None,
              "pos_embed_type": "simple", "freeze_patch_embed": False}
_TEXT_KEYS = {"context_length": "context_length", "width": "text_width", "layers": "text_layers",
              "vocab_size": "vocab_size", "use_checkpoint": "use_checkpoint"}
_MODEL_KEYS = {"contrast_temperature": "contrast_temperature", "proj_num_layers": "proj_num_layers",
               "output_dim": "output_dim", "multi_label_loss_weight": "multi_label_loss_weight"}
_MODEL_IGNORED = {"type", "img_encoder", "text_encoder", "multi_label", "share_temperature"}
# GroupViT.__init__ defaults for the keys a config may leave out
_OFFICIAL_DEFAULTS = dict(image_size=224, patch_size=16, in_chans=3, embed_dim=384, depths=[6, 3, 3],
                          num_heads=[6, 6, 6], num_group_tokens=[64, 8, 0], num_output_groups=[64, 8],
                          hard_assignment=True, mlp_ratio=4.0, qkv_bias=True, drop_rate=0.0,
                          attn_drop_rate=0.0, drop_path_rate=0.1, patch_norm=True)


def _merge(base: dict, child: Mapping) -> dict:
    """mmcv/OmegaConf-style deep merge: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def read_official_yaml(path: str | os.PathLike, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """An official YAML config as a dict, with its ``_base_`` file(s) (relative to it) merged under it."""
    import yaml

    path = Path(path).resolve()
    if path in _seen:
        raise CocuError(f"config {path} inherits from itself via _base_")
    if not path.is_file():
        raise CocuError(f"config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CocuError(f"cannot parse YAML config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CocuError(f"config {path} must be a YAML mapping, got {type(data).__name__}")
    bases = data.pop("_base_", None) or []
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else list(bases):
        merged = _merge(merged, read_official_yaml(path.parent / str(base), (*_seen, path)))
    return _merge(merged, data)


def config_from_official(cfg: Mapping[str, Any], name: str = "official") -> GroupViTConfig:
    """A `GroupViTConfig` from an official config (the whole config, or just its ``model`` section)."""
    model = cfg.get("model", cfg) if isinstance(cfg, Mapping) else None
    if not isinstance(model, Mapping) or not isinstance(model.get("img_encoder"), Mapping):
        raise CocuError("not an official GroupViT config: no model.img_encoder section")
    img, text = dict(model["img_encoder"]), dict(model.get("text_encoder") or {})
    fields: dict[str, Any] = dict(_OFFICIAL_DEFAULTS)
    for key, value in img.items():
        if key in _IMG_KEYS:
            fields[_IMG_KEYS[key]] = value
        elif key in _IMG_FIXED:
            if value != _IMG_FIXED[key] and not (key == "embed_factors" and len(set(value)) == 1):
                raise CocuError(f"official img_encoder.{key} = {value!r} is not supported "
                                f"(cocu builds {key} = {_IMG_FIXED[key]!r})")
        else:
            raise CocuError(f"unknown official img_encoder key {key!r}")
    if text.get("type", "TextTransformer") != "TextTransformer":
        raise CocuError(f"official text_encoder.type {text['type']!r} is not supported (TextTransformer)")
    for key, value in text.items():
        if key in _TEXT_KEYS:
            fields[_TEXT_KEYS[key]] = value
        elif key != "type":
            raise CocuError(f"unknown official text_encoder key {key!r}")
    fields.setdefault("text_width", 256)
    fields["text_heads"] = max(1, int(fields["text_width"]) // 64)  # official TextTransformer: width // 64
    for key, value in model.items():
        if key in _MODEL_KEYS:
            fields[_MODEL_KEYS[key]] = value
        elif key not in _MODEL_IGNORED:
            raise CocuError(f"unknown official model key {key!r}")
    if int(fields.get("proj_num_layers", 2)) > 0:
        fields.setdefault("proj_hidden_dim", 4096)
    for key in ("depths", "num_heads", "num_group_tokens", "num_output_groups"):
        fields[key] = list(fields[key])
    if isinstance(fields["image_size"], (list, tuple)):
        if len(set(fields["image_size"])) != 1:
            raise CocuError(f"non-square img_size {fields['image_size']} is not supported")
        fields["image_size"] = int(fields["image_size"][0])
    return GroupViTConfig(name=name, **fields)


def load_official_yaml(path: str | os.PathLike) -> GroupViTConfig:
    """``read_official_yaml`` + ``config_from_official``, named after the file."""
    return config_from_official(read_official_yaml(path), name=Path(path).stem)


# ------------------------------------------------------------------------ config pickled in a .pth
def plain_config(obj: Any, _depth: int = 0) -> Any:
    """An OmegaConf ``DictConfig``/``ListConfig`` loaded as inert stand-ins → plain dicts/lists.

    OmegaConf pickles a container as its ``__dict__`` (``_content``: the children) and a leaf node
    as ``_val``; plain Python values pass through. Anything else becomes None.
    """
    if _depth > 64:
        raise CocuError("the config in the checkpoint nests too deeply")
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {str(k): plain_config(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_config(v, _depth + 1) for v in obj]
    state = getattr(obj, "state", None)
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], Mapping):
        state = state[1]  # (dict state, slot state) pairs
    if isinstance(state, Mapping):
        if "_content" in state:
            return plain_config(state["_content"], _depth + 1)
        if "_val" in state:
            return plain_config(state["_val"], _depth + 1)
    return None


def stored_official_config(obj: Any) -> GroupViTConfig | None:
    """The `GroupViTConfig` described by the official ``config`` entry of a loaded ``.pth``, if any."""
    if not isinstance(obj, Mapping) or "config" not in obj:
        return None
    cfg = plain_config(obj["config"])
    if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping) \
            and isinstance(cfg["model"].get("img_encoder"), Mapping):
        return config_from_official(cfg, name=str(cfg.get("model_name") or "official"))
    return None


def config_to_official(cfg: GroupViTConfig) -> dict[str, Any]:
    """The official ``model`` section (plain dict, the YAML's keys) describing ``cfg``."""
    inverse = {v: k for k, v in _IMG_KEYS.items() if k != "use_checkpoint"}
    img = {"type": "GroupViT", **{inverse[f]: getattr(cfg, f) for f in inverse}}
    img["img_size"] = cfg.image_size
    text = {"type": "TextTransformer", "context_length": cfg.context_length, "width": cfg.text_width,
            "layers": cfg.text_layers, "vocab_size": cfg.vocab_size}
    return {"type": "MultiLabelContrastive", "img_encoder": img, "text_encoder": text,
            "contrast_temperature": cfg.contrast_temperature, "proj_num_layers": cfg.proj_num_layers,
            "output_dim": cfg.output_dim, "multi_label_loss_weight": cfg.multi_label_loss_weight}


def save_official(state_dict: Mapping[str, Any], cfg: GroupViTConfig, path: str | os.PathLike) -> Path:
    """Write an official-layout ``.pth``: ``{"model": state dict, "config": {"model": ...}}`` (plain
    dicts, readable by the official code and by ``weights_only`` loading), plus ``model_config``
    (our full config: the official text tower always has width // 64 heads, ours may not)."""
    import logging

    import torch

    from cocu.utils.io import atomic_path

    if cfg.text_heads != max(1, cfg.text_width // 64) or cfg.proj_num_layers > 0 and cfg.proj_hidden_dim != 4096:
        logging.getLogger(__name__).warning(
            "%s: the official code would build %d text heads and 4096-wide projectors; this file loads "
            "exactly in cocu (model_config) but not in the official code", cfg.name, max(1, cfg.text_width // 64))
    if cfg.isolated_groups != "off":
        logging.getLogger(__name__).warning(
            "%s: isolated_groups %r is cocu's; the official code loads these weights into its own grouping, "
            "which computes other group features", cfg.name, cfg.isolated_groups)
    obj = {"model": {k: v.detach().cpu() for k, v in state_dict.items()},
           "config": {"model_name": cfg.name, "model": config_to_official(cfg)}, "model_config": cfg.to_dict()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path
