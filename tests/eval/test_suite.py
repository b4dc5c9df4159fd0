"""`cocu eval --benchmark all`: the eight-benchmark table against per-benchmark `cocu eval` runs."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from cocu.cli import main
from cocu.errors import CocuError
from cocu.eval.suite import (COLUMNS, SuiteResult, average, markdown, resolve_suite, result_row)
from tests.eval import layouts

PAPER = ["voc", "context", "coco_object", "imagenet_s50", "imagenet_s300", "cityscapes", "ade20k",
         "coco_stuff"]
FAST = ["--mode", "whole", "--short-side", "64", "--window-batch", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from cocu.models import create_model
    from cocu.models.checkpoint import save_model

    root = tmp_path_factory.mktemp("suite")
    torch.manual_seed(0)
    ckpt = root / "tiny.safetensors"
    save_model(create_model("groupvit_tiny", embed_dim=64, depths=[1, 1, 1], num_heads=[2, 2, 2],
                            text_width=64, text_layers=1, text_heads=2, proj_hidden_dim=64,
                            output_dim=64).eval(), ckpt)
    data = root / "data"
    for name in PAPER:
        layouts.WRITERS[name](data)
    return ckpt, data


def test_resolve_suite_names_and_order():
    assert resolve_suite("all") == PAPER
    assert [COLUMNS[n] for n in resolve_suite("all")] == ["VOC", "Context", "Object", "IN-50", "IN-300",
                                                          "City", "ADE", "Stuff"]
    assert resolve_suite("stuff") == ["cityscapes", "ade20k", "coco_stuff"]
    assert resolve_suite("VOC, ade, voc") == ["voc", "ade20k"]
    with pytest.raises(CocuError, match="unknown benchmark"):
        resolve_suite("voc,nope")


def test_average_and_markdown_mark_gaps():
    res = SuiteResult(PAPER, results={"voc": {"mIoU": 10.0}, "ade20k": {"mIoU": 4.0}})
    row = result_row("m", res, PAPER)
    assert row["Avg."] == 7.0 and row["averaged"] == 2 and math.isnan(row["City"])
    text = markdown([row], PAPER)
    assert "| m | 10.0 | — |" in text and "7.0*" in text and "average over 2 of 8" in text
    assert average({"voc": 1.0, "ade20k": float("nan")}, PAPER) == (1.0, 1)


def test_suite_table_equals_single_benchmark_runs(tmp_path, setup, capsys):
    ckpt, data = setup
    out = tmp_path / "suite"
    assert main(["eval", "--checkpoint", str(ckpt), "--benchmark", "all", "--data-root", str(data),
                 "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "| model | VOC | Context | Object | IN-50 | IN-300 | City | ADE | Stuff | Avg. |" in printed
    table = json.loads((out / "table.json").read_text())
    assert table["columns"] == ["VOC", "Context", "Object", "IN-50", "IN-300", "City", "ADE", "Stuff"]
    row = table["rows"][0]
    singles = {}
    for name in PAPER:  # independent per-benchmark `cocu eval` runs with the same flags
        single = tmp_path / f"{name}.json"
        assert main(["eval", "--checkpoint", str(ckpt), "--benchmark", name, "--data-root", str(data),
                     "--out", str(single), *FAST]) == 0
        singles[name] = json.loads(single.read_text())
        assert row[COLUMNS[name]] == singles[name]["mIoU"], name
        assert json.loads((out / f"{name}.json").read_text())["per_class"]["IoU"] == \
            singles[name]["per_class"]["IoU"]
    assert row["Avg."] == pytest.approx(sum(s["mIoU"] for s in singles.values()) / 8)
    with open(out / "table.csv", newline="") as fh:
        csv_row = next(csv.DictReader(fh))
    assert float(csv_row["Avg."]) == pytest.approx(row["Avg."])
    with open(out / "ade20k_per_class.csv", newline="") as fh:
        per_class = list(csv.DictReader(fh))
    assert len(per_class) == 150 and per_class[0]["class"] == "wall"
    assert "| VOC |" in (out / "table.md").read_text()


def test_missing_named_up_front_skip_missing_and_resume(tmp_path, setup, capsys, monkeypatch):
    ckpt, data = setup
    import shutil

    partial = tmp_path / "data"
    shutil.copytree(data, partial)
    shutil.rmtree(partial / "cityscapes")
    shutil.rmtree(partial / "ADEChallengeData2016")
    out = tmp_path / "res"
    args = ["eval", "--checkpoint", str(ckpt), "--benchmark", "all", "--data-root", str(partial),
            "--out", str(out), *FAST]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 benchmark(s) not found" in err and "City" in err and "ADE" in err and "--skip-missing" in err
    assert not out.exists()  # nothing was evaluated
    assert main(args + ["--skip-missing"]) == 0
    printed = capsys.readouterr().out
    assert "skipped (not found): cityscapes, ade20k" in printed
    row = json.loads((out / "table.json").read_text())["rows"][0]
    assert row["City"] is None and row["ADE"] is None and row["averaged"] == 6

    # resumable per benchmark: only the deleted one is evaluated again
    (out / "voc.json").unlink()
    import importlib

    ev = importlib.import_module("cocu.eval.evaluate")  # the module (the package exports the function)
    calls = []
    real = ev.evaluate
    monkeypatch.setattr(ev, "evaluate", lambda model, bench, **kw: calls.append(bench.name) or real(model, bench, **kw))
    assert main(args + ["--skip-missing"]) == 0
    assert calls == ["voc"]
    assert "from the cache: context, coco_object" in capsys.readouterr().out
    # a changed setting invalidates the cache
    calls.clear()
    assert main(args + ["--skip-missing", "--threshold", "0.5"]) == 0
    assert len(calls) == 6
