"""`GroupViTConfig`: every architecture and loss setting of a GroupViT model, JSON round-trippable."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.utils.io import write_json

ISOLATED_GROUPS = ("off", "attention", "region", "region_fixed", "region_alone", "region_local", "last", "all")


@dataclass
class GroupViTConfig:
    """Settings of GroupViT (vision tower, text tower, projection heads, losses).

    Field names follow the official NVlabs/GroupViT configs. ``use_checkpoint``, ``fused_attention``,
    ``trim_text`` and ``trim_text_on_device`` change speed/memory only, never results (up to rounding).
    """

    name: str = "custom"
    # vision tower
    image_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 384
    depths: list[int] = field(default_factory=lambda: [6, 3, 3])
    num_heads: list[int] = field(default_factory=lambda: [6, 6, 6])
    num_group_tokens: list[int] = field(default_factory=lambda: [64, 8, 0])
    num_output_groups: list[int] = field(default_factory=lambda: [64, 8])
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    patch_norm: bool = True
    hard_assignment: bool = True
    gumbel_tau: float = 1.0
    assign_eps: float = 1.0
    # beyond the official model (docs/STUDY.md, stop 15); no parameters change. "off": official.
    # "attention": the last stage's blocks attend each final group to itself only. "last" / "all":
    # also the last / every grouping block outputs its groups' pooled tokens without the image-wide
    # residual (the group query, which cross-attends to the whole image). "region" / "region_fixed": the
    # official groups make image_x and the segmentation; the per-group features (grounding, naming)
    # come from an isolated copy of the final groups, pooled with the assignment ("region") or with
    # the assignment held constant so they cannot move it ("region_fixed"); "region_alone": as
    # "region_fixed", and in the last stage each isolated group attends to itself only; "region_local":
    # the isolated copy starts from the patch embeddings and never attends to another token (every
    # block attends it to itself), pooled by each official assignment held constant, so a group's
    # feature depends on its own pixels only.
    isolated_groups: str = "off"
    # text tower (CLIP)
    context_length: int = 77
    vocab_size: int = 49408
    text_width: int = 256
    text_layers: int = 12
    text_heads: int = 4
    # heads and losses
    proj_num_layers: int = 2
    proj_hidden_dim: int = 4096
    output_dim: int = 256
    contrast_temperature: float = 0.07
    multi_label_loss_weight: float = 1.0
    # speed only
    use_checkpoint: bool = False
    fused_attention: bool = True
    trim_text: bool = True
    trim_text_on_device: bool = False

    def __post_init__(self) -> None:
        for key in ("depths", "num_heads", "num_group_tokens", "num_output_groups"):
            setattr(self, key, [int(v) for v in getattr(self, key)])
        self.validate()

    def validate(self) -> None:
        """Raise CocuError when the settings cannot form a model."""
        n = len(self.depths)

        def bad(msg: str) -> CocuError:
            return CocuError(f"invalid GroupViT config {self.name!r}: {msg}")

        if n < 1 or len(self.num_heads) != n or len(self.num_group_tokens) != n:
            raise bad("depths, num_heads and num_group_tokens must have the same length ≥ 1")
        if len(self.num_output_groups) != n - 1:
            raise bad("num_output_groups needs one entry per grouping stage (len(depths) - 1)")
        if self.num_group_tokens[-1] != 0:
            raise bad("the last stage has no group tokens (num_group_tokens[-1] must be 0)")
        if any(g <= 0 for g in self.num_group_tokens[:-1]) or any(g <= 0 for g in self.num_output_groups):
            raise bad("every grouping stage needs > 0 group tokens and output groups")
        if any(h <= 0 or self.embed_dim % h for h in self.num_heads):
            raise bad(f"embed_dim {self.embed_dim} must be divisible by every num_heads entry")
        if self.text_heads <= 0 or self.text_width % self.text_heads:
            raise bad(f"text_width {self.text_width} must be divisible by text_heads {self.text_heads}")
        if self.image_size % self.patch_size:
            raise bad(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if min(self.image_size, self.patch_size, self.embed_dim, self.text_width, self.output_dim) <= 0:
            raise bad("sizes must be positive")
        if self.proj_num_layers < 0:
            raise bad("proj_num_layers must be ≥ 0")
        if self.proj_num_layers == 0 and self.embed_dim != self.text_width:
            raise bad("proj_num_layers = 0 needs embed_dim == text_width")
        if self.isolated_groups not in ISOLATED_GROUPS:
            raise bad(f"isolated_groups must be one of {ISOLATED_GROUPS}, got {self.isolated_groups!r}")
        if self.gumbel_tau <= 0 or self.contrast_temperature <= 0:
            raise bad("gumbel_tau and contrast_temperature must be > 0")

    @property
    def grid_size(self) -> int:
        """Patches per side at the training resolution."""
        return self.image_size // self.patch_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupViTConfig:
        """Build from a dict; unknown keys are an error (catches typos in JSON files)."""
        if not isinstance(data, dict):
            raise CocuError(f"a GroupViT config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CocuError(f"unknown GroupViT config keys: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise CocuError(f"bad GroupViT config: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> GroupViTConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CocuError(f"model config not found: {path}") from exc
        except json.JSONDecodeError as exc:
            raise CocuError(f"model config {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save_json(self, path: str | os.PathLike) -> None:
        """Write atomically as indented JSON."""
        write_json(path, self.to_dict())

    def replace(self, **overrides: Any) -> GroupViTConfig:
        """A copy with some fields changed (validated)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise CocuError(f"unknown GroupViT config keys: {', '.join(unknown)}")
        return dataclasses.replace(self, **overrides)
