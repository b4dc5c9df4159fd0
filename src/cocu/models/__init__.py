"""Models: GroupViT, the text transformer, losses, tokenizer, presets and checkpoint loading."""

from cocu.models.checkpoint import load_model, load_official_groupvit, save_model
from cocu.models.config import GroupViTConfig
from cocu.models.groupvit import GroupViT, GroupViTOutput, ImageOutput, multiply_assignments
from cocu.models.presets import create_model, get_config, list_presets
from cocu.models.tokenizer import tokenize

__all__ = [
    "GroupViT",
    "GroupViTConfig",
    "GroupViTOutput",
    "ImageOutput",
    "create_model",
    "get_config",
    "list_presets",
    "load_model",
    "load_official_groupvit",
    "multiply_assignments",
    "save_model",
    "tokenize",
]
