"""End-to-end training on tiny shards: outputs, exact resume after a kill, CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cocu.cli import main
from cocu.models.checkpoint import load_model
from cocu.train.checkpoint import find_latest, load_checkpoint
from cocu.train.config import make_config
from cocu.train.loop import train

from .conftest import TINY


class Killed(Exception):
    """Stands in for the process dying right after a step."""


def _cfg(shards: Path, out: Path, **kw):
    base = dict(shards=str(shards), out=str(out), model="groupvit_tiny", model_overrides=TINY, batch_size=4,
                samples=20, epoch_samples=16, warmup_epochs=0.5, lr=1e-3, lr_batch=4, workers=2,
                shuffle_buffer=8, log_every=1, save_every=2, seed=3, multi_label=2)
    base.update(kw)
    return make_config(None, **base)


def _log(run: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines()]


def test_train_writes_outputs_and_resumes_exactly(shards, tmp_path, caplog):
    full = train(_cfg(shards, tmp_path / "full"))
    assert full.steps == 5 and full.samples_seen == 20
    assert full.corrupt >= 1  # the broken jpeg in shard 1 was met and counted
    summary = json.loads((tmp_path / "full" / "summary.json").read_text())
    assert summary["steps"] == 5 and summary["corrupt"] == full.corrupt
    ckpts = sorted(p.name for p in (tmp_path / "full" / "checkpoints").glob("*.pt"))
    assert ckpts == ["epoch_0001.pt", "epoch_0002.pt", "last.pt"]
    kept = train(_cfg(shards, tmp_path / "kept", keep_checkpoints=1, snapshot_every=2))
    assert sorted(p.name for p in (tmp_path / "kept" / "checkpoints").glob("*.pt")) == ["epoch_0002.pt", "last.pt"]
    assert kept.final == full.final  # pruning and snapshots never change what is trained
    snaps = tmp_path / "kept" / "checkpoints" / "snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == ["step_000002.safetensors", "step_000004.safetensors"]
    at4 = load_model(snaps / "step_000004.safetensors").state_dict()  # step 4 ends epoch 1 (16 samples)
    epoch1 = load_checkpoint(tmp_path / "full" / "checkpoints" / "epoch_0001.pt")["model"]
    assert at4.keys() == epoch1.keys() and all(torch.equal(at4[k], epoch1[k]) for k in at4)
    assert list((tmp_path / "full" / "tb").glob("events.out.tfevents.*"))
    tb = EventAccumulator(str(tmp_path / "full" / "tb"))
    tb.Reload()
    last = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    for tag, key in (("train/temperature", "logit_scale"), ("train/multi_label_temperature", "multi_label_logit_scale")):
        assert tb.Scalars(tag)[-1].step == 5
        assert tb.Scalars(tag)[-1].value == pytest.approx(float(torch.exp(-last[key])), rel=1e-6)
    ref = _log(tmp_path / "full")
    assert [r["step"] for r in ref] == list(range(1, 6))

    # killed after step 3: the last checkpoint is last.pt at step 2 (mid-epoch 1, save_every=2)
    def kill(step, _info):
        if step == 3:
            raise Killed
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        train(_cfg(shards, run), on_step=kill)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2
    # a newer but truncated checkpoint must be skipped with a warning
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (run / "checkpoints" / "epoch_0009.pt").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING):
        resumed = train(_cfg(shards, run, resume="auto"))
    assert "epoch_0009.pt" in caplog.text and "unreadable" in caplog.text
    assert resumed.resumed_from.endswith("last.pt") and resumed.steps == 5
    got = _log(run)
    assert [r["step"] for r in got] == list(range(1, 6))  # step 3 of the killed run was replaced
    # CPU, same ops in the same order: the resumed curve is bit-identical to the uninterrupted one
    for a, b in zip(got, ref, strict=True):
        assert a == b, (a, b)
    # and so are the final weights
    wa = load_checkpoint(tmp_path / "full" / "checkpoints" / "epoch_0002.pt")["model"]
    wb = find_latest(run)[1]["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cli_train_and_errors(shards, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["train", "--shards", str(shards), "--out", str(out), "--preset", "tiny", "--model",
               str(_model_json(tmp_path)), "--batch-size", "4", "--samples", "8", "--workers", "0",
               "--grad-cache-chunk", "2", "--prompts", "oracle", "--multi-label", "2"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 2 and (out / "summary.json").is_file()
    assert main(["train", "--shards", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert main(["train", "--shards", str(shards), "--out", str(out), "--prompts", "curated"]) == 2
    assert main(["train", "--shards", str(shards), "--out", str(out), "--batch-size", "6",
                 "--grad-cache-chunk", "4"]) == 2
    assert main(["train", "--shards", str(shards), "--out", str(out), "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert "grad-cache-chunk" in err and "preset 'nope'" in err


def _model_json(tmp_path: Path) -> Path:
    from cocu.models import get_config

    path = tmp_path / "model.json"
    get_config("groupvit_tiny", **TINY).save_json(path)
    return path


def test_first_stage_usage_stops_after_its_fraction(shards, tmp_path):
    """until 0.4 of 5 steps: steps 1–2 train the first-stage term, steps 3–5 do not."""
    on = dict(objective="grounded", first_usage_weight=2.0, save_every=0)
    stops = _log(_run(shards, tmp_path / "stops", first_usage_until=0.4, **on))
    always = _log(_run(shards, tmp_path / "always", first_usage_until=1.0, **on))
    never = _log(_run(shards, tmp_path / "never", **{**on, "first_usage_weight": 0.0}))
    assert stops[:2] == always[:2]                      # the same objective, bit for bit
    assert stops[1]["loss_usage"] != never[1]["loss_usage"]
    assert all(a["loss_usage"] != b["loss_usage"] for a, b in zip(stops[2:], always[2:], strict=True))


def test_final_usage_stops_after_its_fraction(shards, tmp_path):
    """usage_until 0.6 of 5 steps (first-stage term off): steps 1–3 train the final-stage term, steps 4–5 log 0."""
    on = dict(objective="grounded", first_usage_weight=0.0, save_every=0)
    stops = _log(_run(shards, tmp_path / "stops", usage_until=0.6, **on))
    always = _log(_run(shards, tmp_path / "always", **on))
    assert stops[:3] == always[:3]                      # the same objective, bit for bit
    assert all(r["loss_usage"] > 0 for r in stops[:3]) and all(r["loss_usage"] == 0 for r in stops[3:])


def test_isolated_groups_act_from_their_fraction_of_the_steps(shards, tmp_path):
    """isolate_from 0.4 of 5 steps: steps 1–2 train the official grouping, steps 3–5 the isolated one."""
    on = dict(save_every=0)
    official = _log(_run(shards, tmp_path / "official", **on))
    iso = {**TINY, "isolated_groups": "last"}
    late = _log(_run(shards, tmp_path / "late", model_overrides=iso, isolate_from=0.4, **on))
    always = _log(_run(shards, tmp_path / "always", model_overrides=iso, **on))
    assert late[:2] == official[:2]                     # official grouping, bit for bit
    assert late[0]["loss"] != always[0]["loss"]
    assert all(a["loss"] != b["loss"] for a, b in zip(late[2:], official[2:], strict=True))
    model = load_model(tmp_path / "late" / "checkpoints" / "last.pt")   # evaluated isolated
    assert model.img_encoder.layers[1].downsample.isolated and model.img_encoder.layers[2].blocks[0].self_only


def _run(shards: Path, out: Path, **kw) -> Path:
    train(_cfg(shards, out, **kw))
    return out
