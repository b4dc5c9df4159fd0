"""Training configuration: one dataclass, JSON presets in ``configs/train/``, CLI overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cocu.data.concept_sampling import DEFAULT_SAMPLING, SAMPLERS
from cocu.errors import CocuError
from cocu.models.objective import Objective
from cocu.train.prompts import PROMPT_SOURCES
from cocu.utils.checks import require
from cocu.utils.configs import load_shipped

AMP_MODES = ("bf16", "fp16", "none")
_TERMS = Objective()
# Settings whose default changed after runs were saved without them: a saved config that lacks
# the key was trained with this value, not with today's default.
# (usage_weight's default became 2 in stop 13, the first-stage term's 2 until 0.4 in stop 14.)
BEFORE_KEY_EXISTED: dict[str, Any] = {"usage_weight": 0.0, "first_usage_weight": 0.0, "first_usage_until": 1.0}


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved inside every checkpoint).

    Learning rates are given at the reference global batch ``lr_batch`` (4096 in the official
    config) and scaled linearly by ``batch_size * world_size / lr_batch`` at run time, as the
    official GroupViT code does.
    ``batch_size`` is per process (per GPU), like the official config.
    """

    shards: str = ""
    out: str = ""
    model: str = "groupvit_tiny"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # text side: caption + K concept prompts
    prompts: str = "caption"            # caption | oracle | curated
    curation: str | None = None         # CURATION_DIR for prompts=curated
    sampling: str = DEFAULT_SAMPLING    # plain | cluster (cocu.data.concept_sampling.SAMPLERS)
    vocab: str | None = None            # vocabulary file (default: vocab.txt beside the shards, else the shipped one)
    multi_label: int = 3                # K
    # objective: the paper's (caption + multi-label contrast) or grounded (+ prompt-group
    # grounding + appearance affinity; cocu.models.objective)
    objective: str = "paper"            # paper | grounded
    grounding_weight: float = _TERMS.grounding_weight    # the weights' defaults live in Objective
    grounding_tau: float = _TERMS.grounding_tau
    exclusivity_weight: float = _TERMS.exclusivity_weight
    affinity_weight: float = _TERMS.affinity_weight
    affinity_near: float = _TERMS.affinity_near
    affinity_far: float = _TERMS.affinity_far
    usage_weight: float = _TERMS.usage_weight
    usage_groups: int = _TERMS.usage_groups
    usage_until: float = _TERMS.usage_until
    first_usage_weight: float = _TERMS.first_usage_weight
    first_usage_until: float = _TERMS.first_usage_until
    naming_weight: float = _TERMS.naming_weight
    distinct_weight: float = _TERMS.distinct_weight
    isolate_from: float = 0.0           # the model's isolated_groups act from this fraction of the steps on
    image_size: int | None = None       # default: the model's image size
    # optimisation (official gcc_yfcc_30e values, at batch 4096)
    batch_size: int = 256
    lr: float = 1.6e-3
    lr_batch: int = 4096                # the global batch at which lr/warmup_lr/min_lr are given
    no_decay_extra: bool = False        # also no weight decay on group tokens, pos-embeds, logit scales
    logit_scale_lr: float = 1.0         # the logit scales learn at this multiple of the lr (≠ 1: undecayed)
    warmup_lr: float = 4e-6
    min_lr: float = 4e-5
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    clip_grad: float = 5.0
    epochs: float = 30.0
    warmup_epochs: float = 2.0
    epoch_samples: int | None = None    # samples per epoch; default: counted from the shards
    samples: int | None = None          # total training samples (overrides epochs)
    # reproducibility / system
    seed: int = 0
    workers: int = 2
    shuffle_buffer: int = 1000
    device: str = "auto"
    amp: str = "none"                   # bf16 | fp16 | none
    compile: bool = False
    channels_last: bool = False
    grad_cache_chunk: int | None = None  # gradient caching chunk size (None: off)
    # checkpoints and logging
    resume: str | None = None           # auto | PATH | None
    overwrite: bool = False             # replace an existing run in ``out`` (else refused)
    save_every: int = 0                 # also checkpoint every N steps (0: only per epoch)
    keep_checkpoints: int = 0           # keep the newest N epoch checkpoints (0: all; last.pt always)
    snapshot_every: int = 0             # also keep the weights every N steps (learning curves; 0: off)
    log_every: int = 10                 # host sync + TensorBoard/log.jsonl flush interval
    max_steps: int | None = None        # stop early after this many steps (tests, debugging)

    def validate(self) -> None:
        """Raise CocuError for impossible settings."""
        if not self.shards:
            raise CocuError("no training shards given (--shards DIR)")
        if not self.out:
            raise CocuError("no run folder given (--out RUN_DIR)")
        if self.prompts not in PROMPT_SOURCES:
            raise CocuError(f"--prompts must be one of {PROMPT_SOURCES}, got {self.prompts!r}")
        if self.prompts == "curated" and not self.curation:
            raise CocuError("--prompts curated needs --curation DIR (a curation sidecar folder)")
        if self.sampling not in SAMPLERS:
            raise CocuError(f"--sampling must be one of {tuple(SAMPLERS)}, got {self.sampling!r}")
        if self.sampling != DEFAULT_SAMPLING and self.prompts != "curated":
            raise CocuError(f"--sampling {self.sampling} draws from curated archives: it needs --prompts curated "
                            f"(got --prompts {self.prompts})")
        self.objective_spec()
        if self.amp not in AMP_MODES:
            raise CocuError(f"--amp must be one of {AMP_MODES}, got {self.amp!r}")
        for name, lo in (("batch_size", 1), ("multi_label", 0), ("workers", 0), ("log_every", 1),
                         ("save_every", 0), ("keep_checkpoints", 0), ("snapshot_every", 0), ("lr_batch", 1), ("seed", 0), ("shuffle_buffer", 1),
                         ("samples", 1), ("epoch_samples", 1), ("max_steps", 1), ("image_size", 1),
                         ("grad_cache_chunk", 1)):
            require(name, getattr(self, name), at_least=lo)
        require("lr", self.lr, above=0)
        require("logit_scale_lr", self.logit_scale_lr, above=0)
        if self.samples is None:
            require("epochs", self.epochs, above=0)
        for name in ("warmup_lr", "min_lr", "weight_decay", "warmup_epochs", "eps", "clip_grad"):
            require(name, getattr(self, name), at_least=0)
        if not 0 <= self.isolate_from < 1:
            raise CocuError(f"--isolate-from must be in [0, 1), got {self.isolate_from}")
        if self.grad_cache_chunk is not None and self.batch_size % self.grad_cache_chunk:
            raise CocuError(f"--grad-cache-chunk {self.grad_cache_chunk} must divide "
                            f"--batch-size {self.batch_size}")

    def check_global_batch(self, world_size: int) -> None:
        """The contrastive loss and the projectors' BatchNorm need >= 2 images per step."""
        if self.batch_size * world_size < 2:
            raise CocuError(f"--batch-size {self.batch_size} × {world_size} process(es) is a global batch of "
                            f"{self.batch_size * world_size}; contrastive training needs at least 2")

    def objective_spec(self) -> Objective:
        """The training objective these settings describe (validated)."""
        return Objective(self.objective, grounding_weight=self.grounding_weight, grounding_tau=self.grounding_tau,
                         exclusivity_weight=self.exclusivity_weight,
                         affinity_weight=self.affinity_weight, affinity_near=self.affinity_near,
                         affinity_far=self.affinity_far, usage_weight=self.usage_weight,
                         usage_groups=self.usage_groups, usage_until=self.usage_until,
                         first_usage_weight=self.first_usage_weight,
                         first_usage_until=self.first_usage_until, naming_weight=self.naming_weight,
                         distinct_weight=self.distinct_weight)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in checkpoints and the run folder)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def saved_defaults(cls) -> dict[str, Any]:
        """What a key missing from a saved config (checkpoint, ``config.json``) stood for."""
        return {**cls().to_dict(), **BEFORE_KEY_EXISTED}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (typos in presets)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise CocuError(f"unknown training config keys: {unknown}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


def load_preset(name_or_path: str) -> dict[str, Any]:
    """Preset values as a dict: a shipped name (``tiny``) or a path to a JSON file."""
    _, data = load_shipped("train", name_or_path, "training preset")
    data.pop("_comment", None)
    TrainConfig.from_dict(data)  # check keys early
    return data


def make_config(preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Defaults ← preset ← overrides (``None`` overrides are ignored, so unset CLI flags keep the preset)."""
    values: dict[str, Any] = load_preset(preset) if preset else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainConfig.from_dict(values)
    return cfg
