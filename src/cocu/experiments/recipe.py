"""Training recipes for the real-data experiments: JSON files in ``configs/recipes/``.

A recipe fixes what the paper's runs fix: the training settings (``train``: TrainConfig keys,
learning rates given at ``lr_batch``), the effective global batch and the most images one device
holds per forward (``device_batch``; beyond it gradient caching), the curator CLIP
architecture, curation settings, evaluation settings (``eval``: :class:`SuiteSettings` fields)
and the benchmark suite. Shipped: ``cc3m`` (CoCu's released CC3M configs), ``cc3m_cc12m_yfcc14m``
and ``smoke`` (CPU fixtures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.utils.configs import load_shipped

_KEYS = {"_comment", "train", "global_batch", "device_batch", "clip", "curation", "eval", "benchmarks"}
_CURATION_KEYS = {"neighbours", "prompt", "exclude_anchor", "index"}


@dataclass(frozen=True)
class Recipe:
    """One experiment's fixed settings (see module docstring)."""

    name: str
    train: dict[str, Any]
    global_batch: int
    device_batch: int
    clip: dict[str, Any] = field(default_factory=lambda: {"model": "ViT-B-16", "batch_size": 256})
    curation: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    benchmarks: str = "all"
    comment: str = ""

    @property
    def neighbours(self) -> int:
        """The default N (ablation)."""
        return int(self.curation.get("neighbours", 8))

    def batch_plan(self, world_size: int) -> tuple[int, int | None]:
        """``(images per process, gradient-caching chunk or None)`` reaching ``global_batch`` on
        ``world_size`` processes without more than ``device_batch`` images per forward."""
        if world_size < 1:
            raise CocuError(f"--gpus must be >= 1, got {world_size}")
        if self.global_batch % world_size:
            raise CocuError(f"recipe {self.name}: global batch {self.global_batch} is not divisible "
                            f"by {world_size} processes")
        per = self.global_batch // world_size
        if per <= self.device_batch:
            return per, None
        if per % self.device_batch:
            raise CocuError(f"recipe {self.name}: {per} images per process is not a multiple of "
                            f"device_batch {self.device_batch} (the gradient-caching chunk)")
        return per, self.device_batch

    def describe_batch(self, world_size: int) -> str:
        per, chunk = self.batch_plan(world_size)
        text = f"global batch {self.global_batch} = {world_size} process(es) × {per}"
        return text + (f", gradient caching in chunks of {chunk}" if chunk else "")


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name (``cc3m``) or a JSON file; unknown keys are an error."""
    path, data = load_shipped("recipes", name_or_path, "recipe")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise CocuError(f"recipe {path}: unknown keys {unknown}; known: {sorted(_KEYS)}")
    for key in ("train", "global_batch", "device_batch"):
        if key not in data:
            raise CocuError(f"recipe {path}: missing {key!r}")
    bad_cur = sorted(set(data.get("curation", {})) - _CURATION_KEYS)
    if bad_cur:
        raise CocuError(f"recipe {path}: unknown curation keys {bad_cur}; known: {sorted(_CURATION_KEYS)}")
    from cocu.eval.suite import SuiteSettings
    from cocu.train.config import TrainConfig

    TrainConfig.from_dict(data["train"])  # key check
    SuiteSettings.from_dict(data.get("eval"))
    for key in ("global_batch", "device_batch"):
        if not isinstance(data[key], int) or data[key] < 1:
            raise CocuError(f"recipe {path}: {key} must be a positive integer, got {data[key]!r}")
    return Recipe(name=path.stem, train=dict(data["train"]), global_batch=data["global_batch"],
                  device_batch=data["device_batch"],
                  clip={"model": "ViT-B-16", "batch_size": 256, **data.get("clip", {})},
                  curation=dict(data.get("curation", {})), eval=dict(data.get("eval", {})),
                  benchmarks=data.get("benchmarks", "all"), comment=data.get("_comment", ""))
