"""`cocu train` flags are TrainConfig fields: names, types and choices come from the dataclass."""

from __future__ import annotations

import dataclasses

import pytest

from cocu.cli import build_parser
from cocu.cli.train import config_fields
from cocu.data.concept_sampling import SAMPLERS
from cocu.train.config import TrainConfig, make_config


def _parse(*argv: str):
    return build_parser().parse_args(["train", "--shards", "S", "--out", "O", *argv])


def test_every_flag_is_a_config_field():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(config_fields()) <= names
    assert len(config_fields()) == len(set(config_fields()))


def test_values_are_typed_like_the_fields():
    args = _parse("--batch-size", "4", "--lr", "0.5", "--compile", "--warmup", "0.25", "--amp", "bf16",
                  "--resume", "auto", "--multi-label", "2")
    assert args.batch_size == 4 and isinstance(args.batch_size, int)
    assert args.lr == 0.5 and isinstance(args.lr, float)
    assert args.compile is True and args.warmup_epochs == 0.25 and args.amp == "bf16"
    assert args.resume == "auto" and args.multi_label == 2


def test_unset_flags_keep_the_preset():
    args = _parse("--lr", "0.5")
    cfg = make_config("tiny", **{name: getattr(args, name) for name in config_fields()})
    preset = make_config("tiny", shards="S", out="O")
    assert cfg.lr == 0.5
    assert dataclasses.replace(cfg, lr=preset.lr) == preset


def test_choices_come_from_the_registries(capsys):
    assert _parse("--sampling", "cluster").sampling == "cluster" and "cluster" in SAMPLERS
    with pytest.raises(SystemExit):
        _parse("--sampling", "nope")
    assert "invalid choice" in capsys.readouterr().err
