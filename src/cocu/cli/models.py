"""CLI commands of the `models` stage."""

from __future__ import annotations

import argparse
import json


def _layout(dst: str, to: str | None) -> str:
    if to:
        return to
    if dst.endswith(".safetensors"):
        return "cocu"
    if dst.endswith((".pth", ".pt")):
        return "official"
    return "hf"


def _convert(args: argparse.Namespace) -> int:
    from cocu.models.checkpoint import load_model, save_model

    model = load_model(args.src, config=args.model_config)
    layout = _layout(args.dst, args.to)
    if layout == "cocu":
        path = save_model(model, args.dst)
    elif layout == "official":
        from cocu.models.official_config import save_official

        path = save_official(model.state_dict(), model.config, args.dst)
    else:
        from cocu.models.hf import write_hf_folder

        path = write_hf_folder(model.config, model.state_dict(), args.dst)
    print(f"wrote {path} ({layout} layout; {model.config.name}, {model.num_parameters():,} parameters)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from cocu.models.checkpoint import load_model

    model = load_model(args.model)
    print(json.dumps(model.config.to_dict(), indent=2))
    print(f"parameters: {model.num_parameters():,}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's sub-commands to ``sub``."""
    p = sub.add_parser("convert-checkpoint", help="convert GroupViT weights between cocu, official and HF layouts",
                       description="Read an official NVlabs/GroupViT .pth (weights_only, strict keys, its stored "
                                   "config), one of our training checkpoints or safetensors files, or a Hugging "
                                   "Face GroupViT folder, and write it as cocu safetensors (config in the "
                                   "metadata), an official .pth or a Hugging Face folder (config.json + "
                                   "model.safetensors, loadable by transformers.GroupViTModel.from_pretrained).")
    p.add_argument("src", help="official .pth, our .pt / .safetensors, or a Hugging Face model folder")
    p.add_argument("dst", help="output: .safetensors (cocu), .pth (official) or a folder (Hugging Face)")
    p.add_argument("--to", choices=("cocu", "official", "hf"), default=None,
                   help="output layout (default: from DST's suffix: .safetensors → cocu, .pth/.pt → official, "
                        "else hf)")
    p.add_argument("--model-config", default=None, metavar="CONFIG",
                   help="architecture for weights that store none: preset name, our .json or an official .yml")
    p.set_defaults(func=_convert)

    p = sub.add_parser("model-info", help="print a model's config and parameter count",
                       description="Show the GroupViTConfig and parameter count of a preset or checkpoint.")
    p.add_argument("model", help="preset name (e.g. groupvit_tiny) or checkpoint path")
    p.set_defaults(func=_info)
