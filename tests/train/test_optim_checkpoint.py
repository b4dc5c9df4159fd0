"""Schedule vs timm's CosineLRScheduler, weight-decay groups, checkpoints and RNG states."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from timm.scheduler.cosine_lr import CosineLRScheduler

from cocu.errors import CocuError
from cocu.models import create_model
from cocu.train.checkpoint import (TrainCheckpoint, find_latest, load_checkpoint, rng_state, save_checkpoint,
                                   set_rng_state)
from cocu.train.config import make_config
from cocu.train.loop import Schedule, build_optimisation
from cocu.train.optim import WarmupCosine, build_optimizer, param_groups, scaled_lr

from .conftest import TINY


def test_schedule_matches_timm_cosine():
    """The official code: timm CosineLRScheduler(t_in_epochs=False), lr of update t set by step_update(t)."""
    p = torch.nn.Parameter(torch.zeros(1))
    ours = WarmupCosine(torch.optim.AdamW([p]), base_lr=1e-3, warmup_lr=1e-6, min_lr=1e-5,
                        warmup_steps=10, total_steps=100)
    opt = torch.optim.AdamW([p], lr=1e-3)
    timm = CosineLRScheduler(opt, t_initial=100, lr_min=1e-5, warmup_lr_init=1e-6, warmup_t=10,
                             cycle_limit=1, t_in_epochs=False)
    for t in range(120):
        timm.step_update(t)
        assert ours.lr_at(t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
    assert scaled_lr(1.6e-3, 256) == pytest.approx(1e-4)


def test_weight_decay_groups_follow_official_rule():
    m = create_model("groupvit_tiny", **TINY)
    names = {id(p): n for n, p in m.named_parameters()}
    decay, no_decay = ([names[id(p)] for p in g["params"]] for g in param_groups(m, 0.05))
    assert all(not n.endswith(".bias") for n in decay) and "logit_scale" in decay  # 0-d: decayed officially
    assert any("norm" in n and n.endswith("weight") for n in no_decay)
    _, extra = ([names[id(p)] for p in g["params"]] for g in param_groups(m, 0.05, no_decay_extra=True))
    assert {"logit_scale", "img_encoder.pos_embed"} <= set(extra)


def test_logit_scales_get_their_own_rate_only_when_asked():
    m = create_model("groupvit_tiny", **TINY)
    names = {id(p): n for n, p in m.named_parameters()}
    scales = {"logit_scale", "multi_label_logit_scale"}
    assert len(param_groups(m, 0.05, logit_scale_lr=1.0)) == 2  # the official two: checkpoints resume
    groups = param_groups(m, 0.05, logit_scale_lr=20.0)
    assert [names[id(p)] for p in groups[2]["params"]] and {names[id(p)] for p in groups[2]["params"]} == scales
    assert (groups[2]["weight_decay"], groups[2]["lr_scale"]) == (0.0, 20.0)
    assert not scales & {names[id(p)] for g in groups[:2] for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(names)


def test_logit_scale_rate_moves_the_scales_that_much_faster():
    """One AdamW step with every gradient 1: Adam's first update is lr × m̂/(√v̂ + eps) ≈ lr, so the
    scales move by 20 × lr, undecayed, and a decayed weight by lr plus lr × wd × w (decoupled decay)."""
    m = create_model("groupvit_tiny", **TINY)
    opt = build_optimizer(m, lr=1e-3, weight_decay=0.05, logit_scale_lr=20.0, fused=False)
    sched = WarmupCosine(opt, base_lr=1e-3, warmup_lr=1e-4, min_lr=1e-5, warmup_steps=4, total_steps=10)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-4, pytest.approx(2e-3)]
    sched.step()
    lr = sched.get_last_lr()
    assert lr == pytest.approx(1e-4 + 9e-4 / 4) and opt.param_groups[2]["lr"] == pytest.approx(20 * lr)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    for p in m.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    after = dict(m.named_parameters())
    for n in ("logit_scale", "multi_label_logit_scale"):
        assert (before[n] - after[n]).item() == pytest.approx(20 * lr, rel=1e-6)
    w = next(n for n, p in before.items() if p.ndim == 2)
    expected = before[w] * (1 - lr * 0.05) - lr
    torch.testing.assert_close(after[w].detach(), expected, rtol=1e-5, atol=1e-7)


def test_training_config_sets_the_logit_scale_rate():
    m = create_model("groupvit_tiny", **TINY)
    sched = Schedule(global_batch=4, steps_per_epoch=5, total_steps=10, warmup_steps=2)
    cfg = make_config(None, shards="s", out="o", batch_size=4, lr=1e-3, lr_batch=4, logit_scale_lr=10.0)
    groups = build_optimisation(cfg, m, sched).optimizer.param_groups
    assert len(groups) == 3 and groups[2]["lr"] == pytest.approx(10 * groups[0]["lr"])
    assert len(build_optimisation(make_config(None, shards="s", out="o"), m, sched).optimizer.param_groups) == 2


def test_rng_state_round_trip_and_checkpoint_files(tmp_path):
    state = rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    save_checkpoint(tmp_path / "checkpoints" / "a.pt", {"step": 3, "rng": state})
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "a.pt")  # weights_only=True load
    set_rng_state(ckpt["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    (tmp_path / "checkpoints" / "b.pt").write_bytes(b"PK\x03\x04 truncated")
    path, found = find_latest(tmp_path)
    assert path.name == "a.pt" and found["step"] == 3
    with pytest.raises(CocuError, match="unreadable"):
        load_checkpoint(tmp_path / "checkpoints" / "b.pt")
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_checkpoint_record_keeps_the_file_format(tmp_path):
    """The record writes the keys of format cocu-train-1 in their order and reads older files."""
    values = dict(step=4, epoch=0.5, samples_seen=32, corrupt=1, counts={"corrupt": 1, "missing_curation": 2},
                  model={"w": torch.ones(2)}, model_name="groupvit_tiny", model_config={"embed_dim": 32},
                  optimizer={"state": {}}, scheduler={"step": 4}, scaler={}, rng=[rng_state()],
                  data=[{"n_slots": 1, "positions": {"0": [0, 3]}}], config={"seed": 3})
    record = TrainCheckpoint(**values)
    assert list(record.to_dict()) == ["step", "epoch", "samples_seen", "corrupt", "counts", "model", "model_name",
                                      "model_config", "optimizer", "scheduler", "scaler", "rng", "data", "config"]
    assert record.to_dict()["model"] is values["model"]  # no copies of the state dicts
    save_checkpoint(tmp_path / "a.pt", record.to_dict())
    loaded = load_checkpoint(tmp_path / "a.pt")
    assert list(loaded) == ["format"] + list(record.to_dict())
    back = TrainCheckpoint.from_dict(loaded)
    assert back.counts == values["counts"] and back.data == values["data"]
    assert torch.equal(back.model["w"], torch.ones(2))
    old = {k: v for k, v in values.items() if k not in ("counts", "config", "model_name", "model_config")}
    back = TrainCheckpoint.from_dict(old)  # written before counts (and without a config)
    assert back.counts == {"corrupt": 1} and back.config is None and back.model_name is None


def test_config_presets_and_overrides():
    cfg = make_config("gcc_yfcc_30e", shards="x", out="y", batch_size=8)
    assert cfg.model == "groupvit_gcc_yfcc_30e" and cfg.batch_size == 8 and cfg.lr == 1.6e-3
    assert cfg.epochs == 30 and cfg.warmup_epochs == 2 and cfg.multi_label == 3
    with pytest.raises(CocuError, match="unknown training config keys"):
        make_config(None, shards="x", out="y", bogus=1)


def test_a_saved_config_that_predates_a_key_reads_as_the_value_it_was_trained_with():
    """usage_weight's default became 2 after runs had been saved without the key (at 0)."""
    from cocu.train.config import TrainConfig
    from cocu.train.run_dir import check_resume_config

    now = make_config(None, shards="x", out="y", objective="grounded").to_dict()
    assert now["usage_weight"] == 2.0
    old = {k: v for k, v in now.items() if k != "usage_weight"}
    with pytest.raises(CocuError, match=r"usage_weight: checkpoint 0\.0, now 2\.0"):
        check_resume_config(old, now, "old.pt", TrainConfig.saved_defaults())
    check_resume_config(old, {**now, "usage_weight": 0.0}, "old.pt", TrainConfig.saved_defaults())
    # the first-stage term (default 2 for 40 % of the steps since stop 14): absent keys meant off
    assert (now["first_usage_weight"], now["first_usage_until"]) == (2.0, 0.4)
    older = {k: v for k, v in now.items() if k not in ("usage_weight", "first_usage_weight", "first_usage_until")}
    with pytest.raises(CocuError, match=r"first_usage_weight: checkpoint 0\.0, now 2\.0"):
        check_resume_config(older, {**now, "usage_weight": 0.0}, "old.pt", TrainConfig.saved_defaults())
    check_resume_config(older, {**now, "usage_weight": 0.0, "first_usage_weight": 0.0, "first_usage_until": 1.0},
                        "old.pt", TrainConfig.saved_defaults())
    # a key without a changed default still stands for today's default
    check_resume_config({k: v for k, v in now.items() if k != "affinity_far"}, now, "old.pt",
                        TrainConfig.saved_defaults())
