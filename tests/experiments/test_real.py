"""The real-data experiment end to end on tiny fixtures in the real formats: img2dataset shards, an
open_clip model folder, the eight benchmark layouts. The table is checked against per-benchmark
`cocu eval` runs of the trained checkpoints; a run killed part-way continues where it stopped."""

from __future__ import annotations

import importlib
import json
import shutil

import numpy as np
import pytest

from cocu.cli import main
from cocu.errors import CocuError
from cocu.eval.suite import COLUMNS
from cocu.experiments.real import ablation_regimes, nsweep_regimes
from cocu.experiments.recipe import load_recipe
from tests.experiments import real_fixtures as F

SEEDS = ["0", "1"]
PAPER = list(COLUMNS)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    F.write_img2dataset_shards(root / "cc3m", shards=2, per_shard=12)
    F.write_open_clip_dir(root / "clip")
    F.write_benchmarks(root / "data")
    recipe = json.loads(_smoke_path().read_text())  # the shipped smoke recipe with a smaller model
    recipe["train"]["model_overrides"] = {"embed_dim": 64, "depths": [1, 1, 1], "num_heads": [2, 2, 2],
                                          "text_width": 64, "text_layers": 1, "text_heads": 2,
                                          "proj_hidden_dim": 64, "output_dim": 64}
    recipe["global_batch"], recipe["device_batch"] = 12, 6  # 2 steps per run, gradient caching
    recipe["train"].update(lr=2e-3, lr_batch=12)  # large enough for 2 steps to change predictions
    (root / "recipe.json").write_text(json.dumps(recipe))
    return root


def _smoke_path():
    from cocu.utils.configs import shipped_dir

    return shipped_dir("recipes") / "smoke.json"


def _args(world, kind, out, *extra):
    return ["experiment", kind, "--shards", str(world / "cc3m"), "--clip", f"local-dir:{world / 'clip'}",
            "--data-root", str(world / "data"), "--recipe", str(world / "recipe.json"),
            "--out", str(out), "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def nsweep(world, tmp_path_factory):
    """The N sweep (GroupViT + CoCu N=4, seeds 0 and 1), killed during its third training run,
    then re-run to completion."""
    out = world / "exp"
    loop = importlib.import_module("cocu.train.loop")
    real_train, calls = loop.train, []

    def dying_train(cfg, **kw):
        calls.append(cfg.out)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the experiment is killed here
        return real_train(cfg, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(loop, "train", dying_train)
    assert main(_args(world, "nsweep", out, "--seeds", *SEEDS, "--neighbours", "4")) == 130
    mp.undo()
    assert len(calls) == 3
    first = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("last.pt")}
    assert len(first) == 2
    resumed: list[str] = []
    mp.setattr(loop, "train", lambda cfg, **kw: resumed.append(cfg.out) or real_train(cfg, **kw))
    assert main(_args(world, "nsweep", out, "--seeds", *SEEDS, "--neighbours", "4")) == 0
    mp.undo()
    return {"out": out, "first": first, "resumed": resumed, "killed_at": calls[-1]}


def test_plan_checks_inputs_before_compute(world, capsys):
    out = world / "never"
    assert main(_args(world, "ablation", out, "--seeds", *SEEDS, "--plan")) == 0
    text = capsys.readouterr().out
    assert "✓ shards      2 shards, 24 samples (img2dataset _stats.json)" in text
    assert "✓ CLIP        local-dir:" in text and "64-d embeddings" in text
    for col in ("VOC", "Context", "Object", "IN-50", "IN-300", "City", "ADE", "Stuff"):
        assert f"✓ {col}" in text
    for step in ("embed", "index img", "index text", "curate language-naive-n8", "curate vision-naive-n8",
                 "curate vision-t2v-n8", "train caption-s0", "eval vision-t2v-cluster-n8-s1"):
        assert f"· {step}" in text, step
    assert "global batch 12 = 1 process(es) × 12, gradient caching in chunks of 6" in text
    assert "device-hours" in text and "the project's benchmark number" in text
    assert not out.exists()  # a dry run writes nothing

    bad = world / "bad_data"
    shutil.copytree(world / "data", bad)
    shutil.rmtree(bad / "cityscapes")
    args = _args(world, "ablation", out, "--plan")
    args[args.index(str(world / "data"))] = str(bad)
    args[args.index(f"local-dir:{world / 'clip'}")] = str(world / "missing.pt")
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "✗ City" in captured.out and "--clip" in captured.err + captured.out
    assert main(args[:args.index("--plan")] + ["--clip", f"local-dir:{world / 'clip'}", "--plan",
                                               "--skip-missing"]) == 0
    assert "– City" in capsys.readouterr().out


def test_plan_counts_the_checkpoints_a_run_keeps(world, capsys):
    import re

    recipe = json.loads((world / "recipe.json").read_text())
    counted = []
    for keep in (0, 1):
        recipe["train"].update(epochs=3, keep_checkpoints=keep)
        path = world / f"recipe_keep{keep}.json"
        path.write_text(json.dumps(recipe))
        args = _args(world, "nsweep", world / "never_k", "--seeds", "0", "--plan")
        args[args.index(str(world / "recipe.json"))] = str(path)
        assert main(args) == 0
        counted.append(int(re.search(r"checkpoints \(\d+ runs × (\d+) ×", capsys.readouterr().out).group(1)))
    assert counted == [4, 2]  # 3 epoch files + last.pt; the newest epoch file + last.pt


def test_recipes_match_the_released_configs():
    cc3m = load_recipe("cc3m")
    assert cc3m.global_batch == 1024 and cc3m.train["lr"] == 1.6e-3 and cc3m.train["lr_batch"] == 4096
    assert cc3m.train["epochs"] == 30 and cc3m.train["warmup_epochs"] == 2 and cc3m.train["multi_label"] == 3
    assert cc3m.train["model"] == "groupvit_gcc_yfcc_30e" and cc3m.clip["model"] == "ViT-B-16"
    assert cc3m.batch_plan(4) == (256, None)    # CoCu's 4 GPUs x 256
    assert cc3m.batch_plan(1) == (1024, 256)    # one GPU: gradient caching
    assert load_recipe("cc3m_cc12m_yfcc14m").batch_plan(16) == (256, None)  # GroupViT's 16 x 256
    with pytest.raises(CocuError, match="not divisible"):
        cc3m.batch_plan(3)
    assert [r.name for r in ablation_regimes(8)] == ["baseline", "#1", "#2", "#3", "#4"]
    assert [r.neighbours for r in nsweep_regimes([8, 16, 32])[1:]] == [8, 16, 32]


def test_real_flags_need_shards(capsys):
    assert main(["experiment", "nsweep", "--clip", "x.pt", "--plan"]) == 2
    assert "--clip, --plan belong to real-data experiments: add --shards" in capsys.readouterr().err


def test_torchrun_command(world):
    from cocu.experiments.real import RealExperiment

    exp = RealExperiment(world / "exp_t", shards=str(world / "cc3m"), clip=f"local-dir:{world / 'clip'}",
                         data_root=world / "data", recipe=load_recipe("cc3m"), gpus=4)
    cmd = exp.torchrun_command(world / "exp_t" / "runs" / "r" / "train_config.json")
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4", "-m"]
    assert cmd[6:9] == ["cocu", "train", "--preset"]
    assert exp.per_process == 256 and exp.grad_chunk is None


def test_the_objective_reaches_training_and_names_the_runs(world, capsys):
    from cocu.experiments.real import RealExperiment
    from cocu.experiments.regimes import REGIMES

    kw = dict(shards=str(world / "cc3m"), clip=f"local-dir:{world / 'clip'}", data_root=world / "data",
              recipe=load_recipe("cc3m"))
    paper = RealExperiment(world / "exp_o", **kw)
    grounded = RealExperiment(world / "exp_o", objective="grounded", **kw)
    cocu = REGIMES["#4"]
    assert paper.train_config(cocu, 1).objective == "paper"  # the default reproduces the paper
    assert grounded.train_config(cocu, 1).objective == "grounded"
    assert paper.run_dir(cocu, 1).name == "vision-t2v-cluster-n8-s1"
    assert grounded.run_dir(cocu, 1).name == "vision-t2v-cluster-n8-grounded-s1"
    assert grounded.eval_dir(cocu, 1).name == "vision-t2v-cluster-n8-grounded-s1"
    assert main(["experiment", "nsweep", "--shards", str(world / "cc3m"), "--clip", "x.pt",
                 "--data-root", str(world), "--objective", "paper", "grounded"]) == 2
    assert "one --objective" in capsys.readouterr().err


def test_nsweep_resumes_and_table_matches_cocu_eval(world, nsweep, tmp_path, capsys):
    out = nsweep["out"]
    # the killed run resumed; the two finished models were not trained again
    assert nsweep["resumed"][0] == nsweep["killed_at"] and len(nsweep["resumed"]) == 2
    for path, mtime in nsweep["first"].items():
        assert path.stat().st_mtime_ns == mtime
    table = json.loads((out / "nsweep.json").read_text())
    assert table["columns"] == ["VOC", "Context", "Object", "IN-50", "IN-300", "City", "ADE", "Stuff"]
    rows = {r["model"]: r for r in table["rows"]}
    assert set(rows) == {"GroupViT", "CoCu"} and rows["CoCu"]["N"] == 4 and rows["CoCu"]["seeds"] == 2
    md = (out / "nsweep.md").read_text()
    assert "| model | N | VOC | Context | Object | IN-50 | IN-300 | City | ADE | Stuff | Avg. |" in md
    assert "±" in md
    # one run's eight cells = independent per-benchmark `cocu eval` runs of its checkpoint
    ckpt = out / "runs" / "vision-t2v-cluster-n4-s1" / "checkpoints" / "last.pt"
    for name in PAPER:
        res = tmp_path / f"{name}.json"
        assert main(["eval", "--checkpoint", str(ckpt), "--benchmark", name, "--data-root",
                     str(world / "data"), "--mode", "whole", "--short-side", "64",
                     "--window-batch", "4", "--device", "cpu", "--out", str(res)]) == 0
        single = json.loads(res.read_text())
        cached = json.loads((out / "evals" / "vision-t2v-cluster-n4-s1" / f"{name}.json").read_text())
        assert cached["mIoU"] == single["mIoU"] and cached["per_class"] == single["per_class"], name
    # every table cell = mean / sample std over seeds of the runs' per-benchmark records
    for model, run_key in (("GroupViT", "caption"), ("CoCu", "vision-t2v-cluster-n4")):
        per_seed = [{n: json.loads((out / "evals" / f"{run_key}-s{seed}" / f"{n}.json").read_text())["mIoU"]
                     for n in PAPER} for seed in SEEDS]
        row = rows[model]
        for name in PAPER:
            col = COLUMNS[name]
            v = [s[name] for s in per_seed]
            assert row[col] == pytest.approx(np.mean(v)), (model, col)
            assert row[col + " std"] == pytest.approx(np.std(v, ddof=1)), (model, col)
        avgs = [np.mean(list(s.values())) for s in per_seed]
        assert row["Avg."] == pytest.approx(np.mean(avgs))
        assert row["Avg. std"] == pytest.approx(np.std(avgs, ddof=1))
    # the curated model trained on other prompts than the baseline (same seed, same init)
    import torch

    base = torch.load(out / "runs" / "caption-s0" / "checkpoints" / "last.pt", weights_only=False)["model"]
    cocu = torch.load(out / "runs" / "vision-t2v-cluster-n4-s0" / "checkpoints" / "last.pt",
                      weights_only=False)["model"]
    assert any(not torch.equal(base[k], cocu[k]) for k in base)
    capsys.readouterr()

    # a finished experiment: the plan shows every step done and uses the measured throughput
    assert main(_args(world, "nsweep", out, "--seeds", *SEEDS, "--neighbours", "4", "--plan")) == 0
    text = capsys.readouterr().out
    steps = text.split("· to do)\n")[1].split("disk needed")[0]
    assert "· " not in steps and "~ " not in steps and "✓ tables" in steps
    assert "0 run(s) to train" in text and "measured by" in text
    # the ablation shares the N sweep's baseline and CoCu (#4) runs and its vision-t2v curation
    assert main(_args(world, "ablation", out, "--seeds", *SEEDS, "--neighbours", "4", "--plan")) == 0
    text = capsys.readouterr().out
    assert "✓ train caption-s0" in text and "✓ train vision-t2v-cluster-n4-s1" in text
    assert "✓ curate vision-t2v-n4" in text and "· curate language-naive-n4" in text
    assert "· train vision-naive-plain-n4-s0" in text
