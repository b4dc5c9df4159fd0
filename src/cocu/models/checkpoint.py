"""Loading and saving GroupViT weights.

Formats:
- official NVlabs/GroupViT ``.pth``: a torch pickle whose ``model`` entry is the state dict (keys
  possibly prefixed ``module.``); read with ``weights_only=True``. Other entries of such files (an
  OmegaConf config, optimiser state) may reference classes that are not installed; they are replaced
  by inert stand-ins, never imported or executed; the OmegaConf ``config`` entry is read back
  (`cocu.models.official_config.stored_official_config`) for the architecture.
- Hugging Face ``transformers.GroupViTModel`` folders (config.json + model.safetensors/.bin):
  `cocu.models.hf`.
- our ``.safetensors``: the state dict, with the `GroupViTConfig` JSON in the metadata (``config``).
- our training checkpoints ``.pt``: a dict with ``model`` (state dict) and ``model_config`` or
  ``config`` (a `GroupViTConfig` dict).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cocu.errors import CocuError
from cocu.models.config import GroupViTConfig
from cocu.models.groupvit import GroupViT
from cocu.models.presets import create_model, get_config, is_preset, list_presets
from cocu.models.vision import interpolate_pos_encoding
from cocu.utils.io import atomic_path

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]
_STRIP_PREFIXES = ("module.", "_orig_mod.")
_SAFETENSORS_FORMAT = "cocu.groupvit"


# ------------------------------------------------------------------------------------ reading files
class _InertStandIn:
    """Takes the place of a class a checkpoint references but that is not allow-listed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state


def torch_load_weights_only(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)``; non-tensor classes in the file become inert stand-ins."""
    path = Path(path)
    if not path.is_file():
        raise CocuError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CocuError(f"checkpoint {path} is empty")
    try:
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
            if not names:
                raise
            log.info("checkpoint %s references %s; loading them as inert stand-ins", path, ", ".join(names))
            stand_ins = [(type(n.rsplit(".", 1)[-1], (_InertStandIn,), {}), n) for n in names]
            with torch.serialization.safe_globals(stand_ins):
                return torch.load(path, map_location=map_location, weights_only=True)
    except CocuError:
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as exc:
        first_line = (str(exc).splitlines() or [""])[0][:300]
        raise CocuError(f"cannot read checkpoint {path}: {type(exc).__name__}: {first_line}") from exc


def _clean_state_dict(sd: Mapping[str, Any], path: Path) -> StateDict:
    """Strip ``module.``/``_orig_mod.`` prefixes; every value must be a tensor."""
    out: StateDict = {}
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CocuError(f"{path}: the state dict has a non-tensor entry {key!r} ({type(value).__name__})")
        for prefix in _STRIP_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    if not out:
        raise CocuError(f"{path}: the state dict is empty")
    return out


def _state_dict_of(obj: Any, path: Path) -> StateDict:
    """The state dict in a loaded torch file: its ``model`` entry, or the file itself if all tensors."""
    if isinstance(obj, Mapping) and "model" in obj and isinstance(obj["model"], Mapping):
        return _clean_state_dict(obj["model"], path)
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return _clean_state_dict(obj, path)
    if isinstance(obj, Mapping) and "model" in obj:
        raise CocuError(f"{path} holds no GroupViT state dict: its 'model' entry is a "
                        f"{type(obj['model']).__name__}, not a dict of tensors")
    kind = f"dict with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping) else type(obj).__name__
    raise CocuError(f"{path} holds no GroupViT state dict (expected a dict with a 'model' entry, got a {kind})")


# ------------------------------------------------------------------------------------ config inference
def _count(sd: Mapping[str, Any], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in sd if (m := rx.match(k))})


def infer_config(sd: Mapping[str, torch.Tensor], name: str = "inferred") -> GroupViTConfig:
    """Rebuild a `GroupViTConfig` from an official-layout state dict's shapes.

    A registered preset whose shapes all agree is returned as is (it also fixes the head counts,
    which shapes cannot tell); otherwise heads follow the official convention width // 64.
    """
    try:
        pos = sd["img_encoder.pos_embed"]
        proj_w = sd["img_encoder.patch_embed.proj.weight"]
        embed, side = pos.shape[2], int(round(pos.shape[1] ** 0.5))
        n_stages = _count(sd, r"img_encoder\.layers\.(\d+)\.")
        depths = [_count(sd, rf"img_encoder\.layers\.{i}\.blocks\.(\d+)\.") for i in range(n_stages)]
        groups = [sd[f"img_encoder.layers.{i}.group_token"].shape[1]
                  if f"img_encoder.layers.{i}.group_token" in sd else 0 for i in range(n_stages)]
        outputs = [sd[f"img_encoder.layers.{i}.downsample.mlp_inter.fc2.weight"].shape[0] for i in range(n_stages - 1)]
        text_pos = sd["text_encoder.positional_embedding"]
        hidden_convs = _count(sd, r"img_projector\.linear_hidden\.(\d+)\.weight$")
        n_proj = hidden_convs // 2 + (1 if "img_projector.linear_out.weight" in sd else 0)  # conv + BN per hidden
        fields = dict(
            image_size=side * proj_w.shape[-1], patch_size=proj_w.shape[-1], in_chans=proj_w.shape[1],
            embed_dim=embed, depths=depths, num_group_tokens=groups, num_output_groups=outputs,
            mlp_ratio=sd["img_encoder.layers.0.blocks.0.mlp.fc1.weight"].shape[0] / embed,
            qkv_bias="img_encoder.layers.0.blocks.0.attn.qkv.bias" in sd,
            patch_norm="img_encoder.patch_embed.norm.weight" in sd,
            context_length=text_pos.shape[0], text_width=text_pos.shape[1],
            vocab_size=sd["text_encoder.token_embedding.weight"].shape[0],
            text_layers=_count(sd, r"text_encoder\.transformer\.resblocks\.(\d+)\."),
            proj_num_layers=n_proj,
            proj_hidden_dim=sd["img_projector.linear_hidden.0.weight"].shape[0] if n_proj > 1 else 4096,
            output_dim=(sd["img_projector.linear_out.weight"].shape[0] if n_proj else embed),
        )
    except (KeyError, IndexError) as exc:
        raise CocuError(f"not a GroupViT state dict: cannot find {exc} (or its shape is wrong)") from exc
    for name in list_presets():
        preset = get_config(name)
        if all(getattr(preset, k) == v for k, v in fields.items()):
            return preset
    raise CocuError(
        f"the weights (width {embed}, depths {depths}, text width {fields['text_width']}) match no preset and "
        "the file stores no model config, so the number of attention heads is unknown (shapes cannot tell it); "
        "give the config: --model-config FILE (our .json or the official .yml), or config= in load_model")


# ------------------------------------------------------------------------------------ strict loading
def check_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Raise CocuError unless ``sd`` has exactly the model's keys with the same shapes."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in expected.items() if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or mismatched:
        def part(title: str, items: list[str]) -> str:
            more = f" … (+{len(items) - 10} more)" if len(items) > 10 else ""
            return f"\n  {title} ({len(items)}): " + ", ".join(items[:10]) + more if items else ""

        raise CocuError(f"{source} does not match the model strictly:"
                        + part("missing keys", missing) + part("unexpected keys", unexpected)
                        + part("shape mismatches", mismatched))


def _resize_pos_embed(model: GroupViT, sd: StateDict) -> StateDict:
    """Official behaviour: a square pos_embed of another grid size is bicubically resized on load."""
    key = "img_encoder.pos_embed"
    want = model.img_encoder.pos_embed.shape
    have = sd.get(key)
    if have is not None and have.ndim == 3 and have.shape[2] == want[2] and have.shape[1] != want[1]:
        side = int(round(want[1] ** 0.5))
        if side * side == want[1] and int(round(have.shape[1] ** 0.5)) ** 2 == have.shape[1]:
            log.info("resizing pos_embed %s → %s", tuple(have.shape), tuple(want))
            sd = dict(sd)
            sd[key] = interpolate_pos_encoding(have.float(), side, side).to(have.dtype)
    return sd


def load_state_dict_strict(model: GroupViT, sd: Mapping[str, torch.Tensor], source: str = "checkpoint") -> GroupViT:
    """Check keys and shapes (CocuError listing every problem), then load."""
    sd = _resize_pos_embed(model, dict(sd))
    check_state_dict(model, sd, source)
    model.load_state_dict(sd, strict=True)
    return model


def read_official_state_dict(path: str | os.PathLike) -> StateDict:
    """The cleaned ``model`` state dict of an official GroupViT ``.pth`` (weights_only loading)."""
    path = Path(path)
    return _state_dict_of(torch_load_weights_only(path), path)


def load_official_groupvit(path: str | os.PathLike, model: GroupViT | None = None) -> StateDict:
    """Read an official ``.pth`` and check it strictly against ``model`` (or the architecture its
    shapes describe); with ``model`` the weights are also loaded into it. Returns the state dict."""
    sd = read_official_state_dict(path)
    if model is None:
        with torch.device("meta"):
            target = GroupViT(infer_config(sd))
        check_state_dict(target, sd, str(path))
    else:
        load_state_dict_strict(model, sd, str(path))
    return sd


# ------------------------------------------------------------------------------------ our formats
def save_model(model: GroupViT, path: str | os.PathLike, *, metadata: Mapping[str, str] | None = None) -> Path:
    """Write the weights as safetensors with the config JSON in the metadata (atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": _SAFETENSORS_FORMAT, "config": model.config.to_json(), **dict(metadata or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path



def _load_safetensors(path: Path, map_location: str | torch.device,
                      user_cfg: GroupViTConfig | None = None) -> GroupViT:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(map_location)) as fh:
            meta = fh.metadata() or {}
            sd = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CocuError(f"cannot read safetensors file {path}: {exc}") from exc
    if user_cfg is not None:
        cfg = user_cfg
    elif "config" in meta:
        try:
            cfg = GroupViTConfig.from_dict(json.loads(meta["config"]))
        except json.JSONDecodeError as exc:
            raise CocuError(f"{path}: the config in the metadata is not valid JSON: {exc}") from exc
    else:
        cfg = infer_config(sd)
    return load_state_dict_strict(GroupViT(cfg), _clean_state_dict(sd, path), str(path)).to(map_location)


def _config_in(obj: Mapping[str, Any]) -> GroupViTConfig | None:
    """Our config inside a training checkpoint (``model_config`` or a GroupViTConfig-shaped ``config``)."""
    for key in ("model_config", "config"):
        value = obj.get(key)
        if isinstance(value, GroupViTConfig):
            return value
        if isinstance(value, Mapping) and "embed_dim" in value and "depths" in value:
            return GroupViTConfig.from_dict(dict(value))
    return None


def resolve_config(config: GroupViTConfig | str | os.PathLike | None) -> GroupViTConfig | None:
    """A user-given architecture: a `GroupViTConfig`, a preset name, our ``.json`` or an official ``.yml``."""
    if config is None or isinstance(config, GroupViTConfig):
        return config
    text = str(config)
    if text.endswith((".yml", ".yaml")):
        from cocu.models.official_config import load_official_yaml

        return load_official_yaml(text)
    return get_config(text)


def load_model(path_or_name: str | os.PathLike, *, map_location: str | torch.device = "cpu",
               config: GroupViTConfig | str | os.PathLike | None = None) -> GroupViT:
    """A GroupViT from our safetensors, our training checkpoint, an official ``.pth`` (its stored
    config is read), a Hugging Face GroupViT folder (config.json + weights), or a preset name
    (randomly initialised). ``config`` (see `resolve_config`) gives the architecture of files that
    store none and match no preset. The model is returned in eval mode."""
    path = Path(path_or_name)
    if not path.exists() and is_preset(str(path_or_name)):
        log.warning("%r is a preset name, not a checkpoint file: the model has RANDOM weights "
                    "(its masks and scores mean nothing)", str(path_or_name))
        return create_model(str(path_or_name)).eval()
    user_cfg = resolve_config(config)
    if path.is_dir():
        from cocu.models.hf import read_hf_folder

        hf_cfg, sd = read_hf_folder(path)
        return load_state_dict_strict(GroupViT(user_cfg or hf_cfg), sd, str(path)).to(map_location).eval()
    if not path.is_file():
        raise CocuError(f"checkpoint not found: {path} (nor a preset name: {', '.join(list_presets())})")
    if path.stat().st_size == 0:
        raise CocuError(f"checkpoint {path} is empty")
    if path.suffix == ".safetensors" or _looks_like_safetensors(path):
        model = _load_safetensors(path, map_location, user_cfg)
    else:
        obj = torch_load_weights_only(path, map_location)
        sd = _state_dict_of(obj, path)
        cfg = user_cfg or (_config_in(obj) if isinstance(obj, Mapping) else None)
        if cfg is None:
            from cocu.models.official_config import stored_official_config

            cfg = stored_official_config(obj)
        model = load_state_dict_strict(GroupViT(cfg or infer_config(sd)), sd, str(path))
    check_finite(model, str(path))
    return model.to(map_location).eval()


def _looks_like_safetensors(path: Path) -> bool:
    """safetensors files start with a little-endian u64 header length, then the JSON header ``{``."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def check_finite(model: torch.nn.Module, source: str = "checkpoint") -> None:
    """CocuError when any weight or buffer is NaN/inf (a diverged run, a corrupt file)."""
    bad = [(k, int((~torch.isfinite(v)).sum())) for k, v in model.state_dict().items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        total = sum(n for _, n in bad)
        raise CocuError(f"{source} has {total} NaN/inf values in {len(bad)} tensor(s) (first: {bad[0][0]}); "
                        "it cannot segment (a diverged or corrupt checkpoint)")
