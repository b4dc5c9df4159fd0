"""``cocu train``: its flags are TrainConfig fields, typed and named after them.

Every flag below is one field of :class:`cocu.train.config.TrainConfig` (``--batch-size`` is
``batch_size``); its type and choices come from the dataclass and the config's registries, and the
parsed values go back into the config by the same names. Flags default to None, so a flag not given
keeps the preset's value.
"""

from __future__ import annotations

import argparse
import json
import os
import typing

from cocu.models.objective import OBJECTIVES
from cocu.data.concept_sampling import SAMPLERS
from cocu.train.config import AMP_MODES, TrainConfig
from cocu.train.prompts import PROMPT_SOURCES

CHOICES = {"prompts": PROMPT_SOURCES, "sampling": tuple(SAMPLERS), "amp": AMP_MODES, "objective": OBJECTIVES}
ALIASES = {"warmup_epochs": ["--warmup"]}
METAVARS = {"multi_label": "K", "grad_cache_chunk": "M"}

# argument group -> {TrainConfig field: help}
FLAGS: dict[str, dict[str, str]] = {
    "run": {
        "shards": "shard folder, glob or brace pattern",
        "out": "run folder (checkpoints/, tb/, log.jsonl, summary.json)",
        "model": "model preset name or model JSON config",
        "isolate_from": "a model with isolated_groups trains with the official grouping until this "
                        "fraction of the steps",
    },
    "prompts": {
        "prompts": "where the K extra prompts come from (default caption = baseline)",
        "curation": "curation sidecar folder (for --prompts curated)",
        "sampling": "curated concept sampling (default plain; needs --prompts curated)",
        "vocab": "vocabulary file (default: vocab.txt beside the shards, else the shipped one)",
        "multi_label": "number of concept prompts",
    },
    "objective": {
        "objective": "paper: caption + multi-label contrast (GroupViT); grounded: + prompt-group "
                     "grounding + appearance affinity (cocu.models.objective)",
        "grounding_weight": "weight of the prompt-group grounding term",
        "grounding_tau": "smooth-max temperature over the groups",
        "exclusivity_weight": "weight of the term that keeps different prompts of an image on different groups",
        "affinity_weight": "weight of the appearance-affinity term",
        "affinity_near": "patches whose mean colours are closer than this share a group (CLIP-normalised units)",
        "affinity_far": "patches farther apart than this are kept apart",
        "usage_weight": "weight of the term that spreads each image's patches over all final groups (0 = off)",
        "usage_groups": "the usage term asks each image for this many equal shares of its final groups, "
                        "no more (0 = all groups)",
        "usage_until": "stop the usage term after this fraction of the steps (1 = never stop)",
        "first_usage_weight": "the same term on the first grouping stage's groups (0 = off)",
        "first_usage_until": "stop the first-stage term after this fraction of the steps (1 = never stop)",
        "naming_weight": "weight of the term that makes every group that takes patches match one of its "
                         "image's prompts",
        "distinct_weight": "weight of the term that keeps an image's groups from all looking alike",
    },
    "optimisation": {
        "batch_size": "images per process (global = × processes)",
        "lr": "peak learning rate at --lr-batch (scaled linearly)",
        "lr_batch": "global batch at which --lr is given (official 4096)",
        "epochs": "epochs (of --epoch-samples samples)",
        "epoch_samples": "samples per epoch (default: counted from the shards)",
        "samples": "total training samples (instead of --epochs)",
        "warmup_epochs": "warm-up epochs",
        "weight_decay": "AdamW weight decay",
        "logit_scale_lr": "the two logit scales learn at this multiple of the learning rate, without weight "
                          "decay (1 = the official rule)",
        "grad_cache_chunk": "gradient caching: embed/backprop M images at a time (exact large-batch loss)",
    },
    "system": {
        "seed": "random seed (data order, initialisation, prompt draws)",
        "workers": "data loader workers per process",
        "device": "auto | cpu | cuda",
        "amp": "mixed precision (fp16 = GPU + loss scaler)",
        "compile": "torch.compile the vision tower",
        "channels_last": "channels-last memory format",
        "resume": "auto (latest valid checkpoint in --out) or a checkpoint path",
        "overwrite": "replace the run already in --out (without it, an existing run is never touched)",
        "save_every": "also checkpoint every N steps",
        "keep_checkpoints": "keep only the newest N epoch_XXXX.pt files (0 = all; last.pt is always kept)",
        "snapshot_every": "also keep the weights every N steps as checkpoints/snapshots/step_XXXXXX.safetensors "
                          "(learning curves; never pruned)",
        "log_every": "steps between log flushes (the only host syncs)",
        "max_steps": "stop after N steps of this invocation",
    },
}
REQUIRED = ("shards", "out")


def _field_type(hint: typing.Any) -> type:
    """``int | None`` -> int; ``str`` -> str (the argparse ``type=``)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_config_flag(group: argparse._ArgumentGroup, name: str, hint: typing.Any, help: str) -> None:
    """One flag for the TrainConfig field ``name`` of type ``hint``: bools become store_true, the
    rest typed values."""
    flags = [f"--{name.replace('_', '-')}", *ALIASES.get(name, [])]
    kind = _field_type(hint)
    if kind is bool:
        group.add_argument(*flags, dest=name, action="store_true", default=None, help=help)
        return
    metavar = METAVARS.get(name) or {int: "N", float: "X"}.get(kind)
    group.add_argument(*flags, dest=name, type=kind, choices=CHOICES.get(name), metavar=metavar,
                       required=name in REQUIRED, help=help)


def config_fields() -> list[str]:
    """The TrainConfig fields the CLI sets (checked against the dataclass by the tests)."""
    return [name for group in FLAGS.values() for name in group]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cocu train``."""
    p = sub.add_parser("train", help="train GroupViT on webdataset shards (torchrun for many GPUs)",
                       description="Train GroupViT with caption + K concept prompts. Flags override the "
                                   "preset; run under `torchrun --nproc-per-node G -m cocu train ...` for DDP.")
    p.add_argument("--preset", help="training preset name (tiny, gcc_yfcc_30e) or JSON file")
    hints = typing.get_type_hints(TrainConfig)
    for title, fields in FLAGS.items():
        group = p.add_argument_group(title)
        for name, help in fields.items():
            add_config_flag(group, name, hints[name], help)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the TrainConfig from preset + flags, train, print the summary."""
    from cocu.train.config import make_config
    from cocu.train.loop import train

    cfg = make_config(args.preset, **{name: getattr(args, name) for name in config_fields()})
    result = train(cfg)
    if result.extra.get("world_size", 1) == 1 or int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"run_dir": result.run_dir, "steps": result.steps, "samples_seen": result.samples_seen,
                          "corrupt": result.corrupt, "final": result.final,
                          "images_per_s": round(result.images_per_s, 1),
                          "wall_time_s": round(result.wall_time_s, 1), "checkpoint": result.checkpoint}, indent=2))
    return 0
