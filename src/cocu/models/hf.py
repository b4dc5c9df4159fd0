"""The Hugging Face layout of GroupViT (``transformers.GroupViTModel``): a folder with
``config.json`` and ``model.safetensors`` (or ``pytorch_model.bin``), read and written without
needing ``transformers`` installed.

Weights: our (= the official) state dict ↔ HF names, with the fused ``qkv`` / ``in_proj`` tensors
split into ``q_proj``/``k_proj``/``v_proj`` and the projectors' kernel-size-1 Conv1d weights
``[out, in, 1]`` ↔ Linear ``[out, in]``. HF has no ``multi_label_logit_scale``; we keep it in the
HF file under its own name (HF's loader ignores it) so official → HF → official is lossless.

Config: every field of HF's ``GroupViTConfig`` (text_config, vision_config) maps to a
`GroupViTConfig` field or must hold the one value both implementations share (for example
``hidden_act``, ``layer_norm_eps``, ``assign_mlp_ratio``); anything else is a CocuError.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cocu.errors import CocuError
from cocu.models.config import GroupViTConfig
from cocu.utils.io import atomic_path, write_json

StateDict = dict[str, torch.Tensor]
CONFIG_NAME = "config.json"
WEIGHTS_NAMES = ("model.safetensors", "pytorch_model.bin")
COCU_KEY = "cocu_config"  # our full config, kept in config.json for a lossless round trip

# one tensor ↔ one tensor: {i}, {j} stage/block numbers, {p} weight|bias, {n} 1|2, {rest} any suffix
_PAIRS = [
    ("img_encoder.patch_embed.proj.{p}", "vision_model.embeddings.patch_embeddings.projection.{p}"),
    ("img_encoder.patch_embed.norm.{p}", "vision_model.embeddings.layernorm.{p}"),
    ("img_encoder.pos_embed", "vision_model.embeddings.position_embeddings"),
    ("img_encoder.norm.{p}", "vision_model.layernorm.{p}"),
    ("img_encoder.layers.{i}.group_token", "vision_model.encoder.stages.{i}.group_token"),
    ("img_encoder.layers.{i}.group_projector.{rest}", "vision_model.encoder.stages.{i}.group_projector.{rest}"),
    ("img_encoder.layers.{i}.blocks.{j}.norm{n}.{p}", "vision_model.encoder.stages.{i}.layers.{j}.layer_norm{n}.{p}"),
    ("img_encoder.layers.{i}.blocks.{j}.mlp.fc{n}.{p}", "vision_model.encoder.stages.{i}.layers.{j}.mlp.fc{n}.{p}"),
    ("img_encoder.layers.{i}.blocks.{j}.attn.proj.{p}",
     "vision_model.encoder.stages.{i}.layers.{j}.self_attn.out_proj.{p}"),
    ("img_encoder.layers.{i}.downsample.pre_assign_attn.attn.proj.{p}",
     "vision_model.encoder.stages.{i}.downsample.pre_assign_attn.attn.out_proj.{p}"),
    ("img_encoder.layers.{i}.downsample.{rest}", "vision_model.encoder.stages.{i}.downsample.{rest}"),
    ("text_encoder.token_embedding.weight", "text_model.embeddings.token_embedding.weight"),
    ("text_encoder.positional_embedding", "text_model.embeddings.position_embedding.weight"),
    ("text_encoder.ln_final.{p}", "text_model.final_layer_norm.{p}"),
    ("text_encoder.transformer.resblocks.{j}.ln_{n}.{p}", "text_model.encoder.layers.{j}.layer_norm{n}.{p}"),
    ("text_encoder.transformer.resblocks.{j}.mlp.c_fc.{p}", "text_model.encoder.layers.{j}.mlp.fc1.{p}"),
    ("text_encoder.transformer.resblocks.{j}.mlp.c_proj.{p}", "text_model.encoder.layers.{j}.mlp.fc2.{p}"),
    ("text_encoder.transformer.resblocks.{j}.attn.out_proj.{p}",
     "text_model.encoder.layers.{j}.self_attn.out_proj.{p}"),
    ("img_projector.linear_out.{p}", "visual_projection.3.{p}"),  # before linear_hidden: HF index 3
    ("img_projector.linear_hidden.{rest}", "visual_projection.{rest}"),
    ("text_projector.linear_out.{p}", "text_projection.3.{p}"),
    ("text_projector.linear_hidden.{rest}", "text_projection.{rest}"),
    ("logit_scale", "logit_scale"),
    ("multi_label_logit_scale", "multi_label_logit_scale"),
]
# fused tensors ↔ q, k, v parts (in that order, as both implementations slice them)
_FUSED = [
    ("img_encoder.layers.{i}.blocks.{j}.attn.qkv.{p}", "vision_model.encoder.stages.{i}.layers.{j}.self_attn.{q}_proj.{p}"),
    ("text_encoder.transformer.resblocks.{j}.attn.in_proj_{p}", "text_model.encoder.layers.{j}.self_attn.{q}_proj.{p}"),
]
_SLOTS = {"i": r"\d+", "j": r"\d+", "p": "weight|bias", "n": "1|2", "rest": ".+", "q": "q|k|v"}


def _regex(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    rx = "".join(re.escape(p) if k % 2 == 0 else f"(?P<{p}>{_SLOTS[p]})" for k, p in enumerate(parts))
    return re.compile(rx + "$")


_TO_HF = [(_regex(a), b) for a, b in _PAIRS]
_FROM_HF = [(_regex(b), a) for a, b in _PAIRS]
_FUSED_TO_HF = [(_regex(a), b) for a, b in _FUSED]
_FUSED_FROM_HF = [(_regex(b), a) for a, b in _FUSED]
_CONV = re.compile(r"(img|text)_projector\.linear_(hidden\.0|out)\.weight$")  # Conv1d [out, in, 1]


def _rename(key: str, table: list[tuple[re.Pattern, str]]) -> str | None:
    for rx, template in table:
        m = rx.match(key)
        if m:
            return template.format(**m.groupdict())
    return None


def to_hf_state_dict(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """Our/official state dict → HF ``GroupViTModel`` names (plus ``multi_label_logit_scale``)."""
    out: StateDict = {}
    for key, value in sd.items():
        fused = next(((rx.match(key), t) for rx, t in _FUSED_TO_HF if rx.match(key)), None)
        if fused:
            m, template = fused
            for part, q in zip(value.chunk(3, dim=0), "qkv"):
                out[template.format(**m.groupdict(), q=q)] = part.clone()
            continue
        new = _rename(key, _TO_HF)
        if new is None:
            raise CocuError(f"no Hugging Face name for the weight {key!r}")
        out[new] = value.squeeze(-1) if _CONV.match(key) else value
    return out


def from_hf_state_dict(sd: Mapping[str, torch.Tensor]) -> StateDict:
    """HF ``GroupViTModel`` names → our/official state dict (the inverse of `to_hf_state_dict`)."""
    out: StateDict = {}
    pending: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        if key.endswith("position_ids"):
            continue  # a buffer older HF versions saved
        fused = next(((rx.match(key), t) for rx, t in _FUSED_FROM_HF if rx.match(key)), None)
        if fused:
            m, template = fused
            groups = m.groupdict()
            pending.setdefault(template.format(**groups), {})[groups["q"]] = value
            continue
        new = _rename(key, _FROM_HF)
        if new is None:
            raise CocuError(f"unknown Hugging Face GroupViT weight {key!r}")
        out[new] = value[..., None] if _CONV.match(new) else value
    for key, parts in pending.items():
        if set(parts) != {"q", "k", "v"}:
            raise CocuError(f"{key}: the HF weights lack {sorted({'q', 'k', 'v'} - set(parts))} projections")
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


# ------------------------------------------------------------------------------------ config
_TEXT_FIXED = {"hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "dropout": 0.0, "attention_dropout": 0.0}
_VISION_FIXED = {"hidden_act": "gelu", "layer_norm_eps": 1e-5, "assign_mlp_ratio": [0.5, 4]}
_INIT_ONLY = {"initializer_range", "initializer_factor"}  # weight init only; loaded weights replace it
_HF_META = {"model_type", "transformers_version", "architectures", "torch_dtype", "dtype", "_name_or_path",
            "_commit_hash", "output_segmentation", "return_dict", "output_hidden_states", "output_attentions",
            "use_cache", "id2label", "label2id", "problem_type", "chunk_size_feed_forward", "is_encoder_decoder",
            "tie_word_embeddings", "text_config_dict", "vision_config_dict", "_attn_implementation_autoset",
            "tf_legacy_loss", "pruned_heads", "torchscript", "use_bfloat16", "add_cross_attention",
            "tokenizer_class", "prefix", "task_specific_params", "finetuning_task", "num_labels",
            "sep_token_id", "decoder_start_token_id", "bos_token_id", "pad_token_id", "eos_token_id"}


def _check_fixed(section: str, cfg: Mapping[str, Any], fixed: Mapping[str, Any]) -> None:
    for key, want in fixed.items():
        have = cfg.get(key, want)
        same = list(have) == list(want) if isinstance(want, list) else (
            math.isclose(float(have), float(want), rel_tol=1e-9, abs_tol=1e-12)
            if isinstance(want, float) else have == want)
        if not same:
            raise CocuError(f"Hugging Face {section}.{key} = {have!r} is not supported (cocu's GroupViT uses {want!r})")


def _unknown(section: str, cfg: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(cfg) - known - _INIT_ONLY - _HF_META)
    if extra:
        raise CocuError(f"unknown Hugging Face {section} keys: {', '.join(extra)}")


def _square(value: Any, what: str) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise CocuError(f"non-square {what} {list(value)} is not supported")
        value = value[0]
    return int(value)


def config_from_hf(hf: Mapping[str, Any], name: str = "hf") -> GroupViTConfig:
    """A `GroupViTConfig` from HF's ``GroupViTConfig`` dict (config.json), every field accounted for."""
    if hf.get("model_type", "groupvit") != "groupvit":
        raise CocuError(f"config.json is a {hf.get('model_type')!r} model, not groupvit")
    text, vision = dict(hf.get("text_config") or {}), dict(hf.get("vision_config") or {})
    _check_fixed("text_config", text, _TEXT_FIXED)
    _check_fixed("vision_config", vision, _VISION_FIXED)
    t_width, v_width = int(text.get("hidden_size", 256)), int(vision.get("hidden_size", 384))
    vocab = int(text.get("vocab_size", 49408))
    eos = text.get("eos_token_id", 49407)
    if eos not in (2, vocab - 1):
        raise CocuError(f"text_config.eos_token_id {eos} is not the largest token id ({vocab - 1}): cocu pools "
                        "the text at the argmax id, which is only the EOT token then")
    if int(text.get("intermediate_size", 4 * t_width)) != 4 * t_width:
        raise CocuError(f"text_config.intermediate_size must be 4 × hidden_size ({4 * t_width})")
    if int(vision.get("intermediate_size", 4 * v_width)) != 4 * v_width:
        raise CocuError(f"vision_config.intermediate_size must be 4 × hidden_size ({4 * v_width}): the "
                        "grouping blocks' cross-attention MLP is 4 × wide in the official model")
    depths = [int(d) for d in vision.get("depths", [6, 3, 3])]
    tokens = [int(g) for g in vision.get("num_group_tokens", [64, 8, 0])]
    outputs = [int(g) for g in vision.get("num_output_groups", [64, 8, 8])]
    if len(outputs) not in (len(depths), len(depths) - 1):
        raise CocuError(f"vision_config.num_output_groups has {len(outputs)} entries for {len(depths)} stages")
    for i in range(1, len(depths)):
        if tokens[i] > 0 and outputs[i - 1] != tokens[i - 1]:
            raise CocuError(f"vision_config: stage {i}'s group projector reads num_output_groups[{i - 1}] = "
                            f"{outputs[i - 1]} tokens in HF but num_group_tokens[{i - 1}] = {tokens[i - 1]} in the "
                            "official model; they must be equal")
    ours = dict(hf.get(COCU_KEY) or {})  # training-only settings HF has no field for
    fields = dict(
        image_size=_square(vision.get("image_size", 224), "image_size"),
        patch_size=_square(vision.get("patch_size", 16), "patch_size"),
        in_chans=int(vision.get("num_channels", 3)), embed_dim=v_width, depths=depths,
        num_heads=[int(vision.get("num_attention_heads", 6))] * len(depths), num_group_tokens=tokens,
        num_output_groups=outputs[: len(depths) - 1], mlp_ratio=4.0, qkv_bias=True,
        drop_rate=float(vision.get("dropout", 0.0)), attn_drop_rate=float(vision.get("attention_dropout", 0.0)),
        patch_norm=True, hard_assignment=True, gumbel_tau=1.0, assign_eps=float(vision.get("assign_eps", 1.0)),
        context_length=int(text.get("max_position_embeddings", 77)), vocab_size=vocab, text_width=t_width,
        text_layers=int(text.get("num_hidden_layers", 12)), text_heads=int(text.get("num_attention_heads", 4)),
        proj_num_layers=2, proj_hidden_dim=int(hf.get("projection_intermediate_dim", 4096)),
        output_dim=int(hf.get("projection_dim", 256)),
        contrast_temperature=math.exp(-float(hf.get("logit_scale_init_value", 2.6592))),
        drop_path_rate=float(ours.get("drop_path_rate", 0.0)),
    )
    if "num_heads" in ours and len(set(ours["num_heads"])) == 1 and ours["num_heads"][0] == fields["num_heads"][0]:
        fields["num_heads"] = list(ours["num_heads"])
    for key in ("contrast_temperature", "multi_label_loss_weight", "name", "gumbel_tau"):
        if key in ours:
            fields[key] = ours[key]
    fields.setdefault("name", name)
    _unknown("text_config", text, {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                   "num_attention_heads", "max_position_embeddings", *_TEXT_FIXED})
    _unknown("vision_config", vision, {"hidden_size", "intermediate_size", "num_hidden_layers", "depths",
                                       "num_group_tokens", "num_output_groups", "num_attention_heads",
                                       "image_size", "patch_size", "num_channels", "dropout",
                                       "attention_dropout", "assign_eps", *_VISION_FIXED})
    _unknown("config", hf, {"text_config", "vision_config", "projection_dim", "projection_intermediate_dim",
                            "logit_scale_init_value", COCU_KEY})
    name_ = fields.pop("name")
    return GroupViTConfig(name=name_, **fields)


def config_to_hf(cfg: GroupViTConfig) -> dict[str, Any]:
    """HF's ``GroupViTConfig`` dict for ``cfg``; CocuError for what HF's GroupViT cannot express."""
    problems = []
    if len(set(cfg.num_heads)) != 1:
        problems.append(f"num_heads {cfg.num_heads} differ per stage (HF has one num_attention_heads)")
    if cfg.mlp_ratio != 4.0:
        problems.append(f"mlp_ratio {cfg.mlp_ratio} (HF's cross-attention MLP uses intermediate_size too)")
    if not (cfg.qkv_bias and cfg.patch_norm and cfg.hard_assignment and cfg.proj_num_layers == 2):
        problems.append("HF needs qkv_bias, patch_norm, hard_assignment and 2-layer projectors")
    for i in range(1, len(cfg.depths)):
        if cfg.num_group_tokens[i] > 0 and cfg.num_output_groups[i - 1] != cfg.num_group_tokens[i - 1]:
            problems.append(f"num_output_groups[{i - 1}] != num_group_tokens[{i - 1}] (HF's group projector)")
    if cfg.vocab_size - 1 != 49407 and cfg.vocab_size < 3:
        problems.append("vocabulary too small")
    if cfg.isolated_groups != "off":
        problems.append(f"isolated_groups {cfg.isolated_groups!r} (HF builds the official grouping only)")
    if problems:
        raise CocuError(f"model {cfg.name!r} has no Hugging Face GroupViT equivalent: " + "; ".join(problems))
    return {
        "architectures": ["GroupViTModel"], "model_type": "groupvit",
        "projection_dim": cfg.output_dim, "projection_intermediate_dim": cfg.proj_hidden_dim,
        "logit_scale_init_value": math.log(1.0 / cfg.contrast_temperature),
        "text_config": {
            "model_type": "groupvit_text_model", "vocab_size": cfg.vocab_size, "hidden_size": cfg.text_width,
            "intermediate_size": 4 * cfg.text_width, "num_hidden_layers": cfg.text_layers,
            "num_attention_heads": cfg.text_heads, "max_position_embeddings": cfg.context_length,
            "eos_token_id": cfg.vocab_size - 1, "bos_token_id": max(0, cfg.vocab_size - 2), "pad_token_id": 1,
            **_TEXT_FIXED},
        "vision_config": {
            "model_type": "groupvit_vision_model", "hidden_size": cfg.embed_dim,
            "intermediate_size": int(4 * cfg.embed_dim), "num_hidden_layers": sum(cfg.depths),
            "depths": list(cfg.depths), "num_group_tokens": list(cfg.num_group_tokens),
            "num_output_groups": [*cfg.num_output_groups, cfg.num_output_groups[-1]],
            "num_attention_heads": cfg.num_heads[0], "image_size": cfg.image_size, "patch_size": cfg.patch_size,
            "num_channels": cfg.in_chans, "dropout": cfg.drop_rate, "attention_dropout": cfg.attn_drop_rate,
            "assign_eps": cfg.assign_eps, **_VISION_FIXED},
        COCU_KEY: cfg.to_dict(),
    }


def read_hf_folder(path: str | os.PathLike) -> tuple[GroupViTConfig, StateDict]:
    """(config, our-layout state dict) of a HF GroupViT folder (safetensors preferred over .bin)."""
    folder = Path(path)
    cfg_path = folder / CONFIG_NAME
    try:
        hf_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CocuError(f"{folder} has no {CONFIG_NAME}: not a Hugging Face model folder") from exc
    except json.JSONDecodeError as exc:
        raise CocuError(f"{cfg_path} is not valid JSON: {exc}") from exc
    if not isinstance(hf_cfg, dict):
        raise CocuError(f"{cfg_path} must hold a JSON object")
    cfg = config_from_hf(hf_cfg, name=folder.name)
    weights = next((folder / n for n in WEIGHTS_NAMES if (folder / n).is_file()), None)
    if weights is None:
        if (folder / "model.safetensors.index.json").is_file():
            raise CocuError(f"{folder}: sharded weights (model.safetensors.index.json) are not supported")
        raise CocuError(f"{folder} has no weights ({' or '.join(WEIGHTS_NAMES)})")
    if weights.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            sd = load_file(str(weights))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CocuError(f"cannot read {weights}: {exc}") from exc
    else:
        from cocu.models.checkpoint import torch_load_weights_only

        sd = torch_load_weights_only(weights)
        if not isinstance(sd, Mapping):
            raise CocuError(f"{weights} holds no state dict")
    prefix = "groupvit."  # a base_model_prefix some exports carry
    sd = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}
    ours = from_hf_state_dict(sd)
    if "multi_label_logit_scale" not in ours:  # HF exports drop it; it only scales the training loss
        ours["multi_label_logit_scale"] = torch.tensor(math.log(1.0 / cfg.contrast_temperature))
    return cfg, ours


def write_hf_folder(cfg: GroupViTConfig, sd: Mapping[str, torch.Tensor], out: str | os.PathLike) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (HF names) into ``out`` (atomically per file)."""
    from safetensors.torch import save_file

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise CocuError(f"{folder} exists and is not a folder")
    hf_cfg = config_to_hf(cfg)
    tensors = {k: v.detach().cpu().contiguous() for k, v in to_hf_state_dict(sd).items()}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_NAMES[0]) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_json(folder / CONFIG_NAME, hf_cfg)
    return folder
