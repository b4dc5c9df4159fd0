"""The synthetic pipeline's cache refuses runs trained with other objective settings."""

from __future__ import annotations

import json

import pytest

from cocu.errors import CocuError
from cocu.experiments.pipeline import SyntheticPipeline, get_budget
from cocu.train.config import make_config

ISO = {"isolated_groups": "region_local", "num_group_tokens": [16, 8, 0],
       "num_output_groups": [16, 8]}  # the grounded recipe's model (stop 17)


def _run(tmp_path, **settings):
    run = tmp_path / "runs" / "oracle-grounded-s0"
    run.mkdir(parents=True, exist_ok=True)
    cfg = make_config("tiny", shards="x", out=str(run), **settings).to_dict()
    (run / "config.json").write_text(json.dumps(cfg))
    return run


def test_cached_run_must_match_the_objective_settings(tmp_path):
    grounded = SyntheticPipeline(tmp_path, get_budget("smoke"), objective="grounded")
    grounded.check_cached_run(_run(tmp_path, objective="grounded", model_overrides=ISO))  # same settings: reused
    grounded.check_cached_run(tmp_path / "absent")  # nothing trained yet
    with pytest.raises(CocuError, match=r"usage_weight 0\.0 \(now 2\.0\).*another --out"):
        grounded.check_cached_run(_run(tmp_path, objective="grounded", model_overrides=ISO, usage_weight=0.0))
    run = _run(tmp_path, objective="grounded", model_overrides=ISO)
    cfg = json.loads((run / "config.json").read_text())
    del cfg["usage_weight"]  # saved before the usage term existed: trained without it
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CocuError, match="usage_weight 0.0"):
        grounded.check_cached_run(run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["usage_weight"] = 2.0
    del cfg["first_usage_weight"], cfg["first_usage_until"]  # a stop-13 run: no first-stage term
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CocuError, match=r"first_usage_weight 0\.0 \(now 2\.0\), first_usage_until 1\.0 \(now 0\.4\)"):
        grounded.check_cached_run(run)
    with pytest.raises(CocuError, match="objective 'paper' \\(now 'grounded'\\)"):
        grounded.check_cached_run(_run(tmp_path, objective="paper"))
    # the paper objective ignores the grounded terms' weights
    SyntheticPipeline(tmp_path, get_budget("smoke"), objective="paper").check_cached_run(
        _run(tmp_path, objective="paper", usage_weight=0.0))


def test_the_grounded_recipe_checks_its_model_setting(tmp_path):
    grounded = SyntheticPipeline(tmp_path, get_budget("smoke"), objective="grounded")
    assert grounded.model_overrides == ISO
    assert SyntheticPipeline(tmp_path, get_budget("smoke"), objective="paper").model_overrides == {}
    grounded.check_cached_run(_run(tmp_path, objective="grounded", model_overrides=ISO))
    with pytest.raises(CocuError, match=r"isolated_groups 'default' \(now 'region_local'\)"):
        grounded.check_cached_run(_run(tmp_path, objective="grounded"))  # a run from before stop 15
    with pytest.raises(CocuError, match=r"isolated_groups 'region_alone' \(now 'region_local'\)"):
        grounded.check_cached_run(_run(tmp_path, objective="grounded",  # stop 15's model
                                       model_overrides={"isolated_groups": "region_alone"}))


def test_the_demo_budget_trains_fewer_samples_in_fp32():
    demo = get_budget("demo")
    assert demo.for_amp("bf16").train_samples == 24000 and demo.for_amp("fp16") is demo
    assert demo.for_amp("none").train_samples == 16000
    assert demo.scaled(0.5).for_amp("none").train_samples == 8000
    assert demo.scaled(0.5).for_amp("bf16").train_samples == 12000
    assert get_budget("experiment").for_amp("none").train_samples == 320000  # no fp32 variant


def test_an_explicit_sample_count_holds_in_fp32():
    import argparse

    from cocu.cli.experiments import _budget

    args = argparse.Namespace(budget="demo", train_samples=20000, num_train=None)
    assert _budget(args).for_amp("none").train_samples == 20000
    args.train_samples = None
    assert _budget(args).for_amp("none").train_samples == 16000


def test_only_the_demo_uses_the_fp32_budget(monkeypatch):
    from cocu.experiments import runners

    seen = {}
    monkeypatch.setattr("cocu.utils.device.auto_amp", lambda device="auto": "none")
    monkeypatch.setattr(runners, "run_experiment", lambda out, regimes, seeds, budget, **kw: seen.update(
        budget=budget, amp=kw.get("amp")))
    runners.run_demo("unused")
    assert seen == {"budget": get_budget("demo").for_amp("none"), "amp": "none"}
    runners.run_main("unused", seeds=[0], budget=get_budget("demo"))
    assert seen["budget"].train_samples == 24000
