"""CLI commands of the `models` stage (registered by cocu.cli)."""

from __future__ import annotations

import argparse
import json


def _convert(args: argparse.Namespace) -> int:
    from cocu.models.checkpoint import load_model, save_model

    model = load_model(args.src)
    path = save_model(model, args.dst)
    print(f"wrote {path} ({model.config.name}, {model.num_parameters():,} parameters)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from cocu.models.checkpoint import load_model

    model = load_model(args.model)
    print(json.dumps(model.config.to_dict(), indent=2))
    print(f"parameters: {model.num_parameters():,}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's sub-commands to ``sub``."""
    p = sub.add_parser("convert-checkpoint", help="convert GroupViT weights (official .pth, .pt) to safetensors",
                       description="Read an official NVlabs/GroupViT .pth (weights_only, strict keys), one of our "
                                   "training checkpoints or safetensors file, and write safetensors with the "
                                   "model config in its metadata.")
    p.add_argument("src", help="official .pth, our .pt training checkpoint, or .safetensors")
    p.add_argument("dst", help="output .safetensors path")
    p.set_defaults(func=_convert)

    p = sub.add_parser("model-info", help="print a model's config and parameter count",
                       description="Show the GroupViTConfig and parameter count of a preset or checkpoint.")
    p.add_argument("model", help="preset name (e.g. groupvit_tiny) or checkpoint path")
    p.set_defaults(func=_info)
