"""`cocu eval` end to end with a saved tiny GroupViT on synthetic layouts."""

from __future__ import annotations

import json

import pytest
import torch

from cocu.cli import main
from cocu.eval.datasets import get_benchmark
from cocu.eval.evaluate import evaluate
from tests.eval import layouts


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from cocu.models import create_model
    from cocu.models.checkpoint import save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_model(create_model("groupvit_tiny").eval(), path)
    return path


def test_cli_voc_like_writes_json_and_table(tmp_path, checkpoint, capsys):
    bench_dir = layouts.write_voc_like(tmp_path)
    out = tmp_path / "res" / "voc.json"
    rc = main(["eval", "--checkpoint", str(checkpoint), "--benchmark-dir", str(bench_dir),
               "--subset", "2", "--threshold", "0.5", "--out", str(out), "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "circle" in printed and "mIoU" in printed and "voc_like" in printed
    res = json.loads(out.read_text())
    assert res["num_images"] == 2 and res["protocol"]["bg_thresh"] == 0.5
    assert res["protocol"]["gate"] == "groups"  # the synthetic splits' default top-k gate
    assert main(["eval", "--checkpoint", str(checkpoint), "--benchmark-dir", str(bench_dir), "--subset", "2",
                 "--threshold", "0.5", "--gate", "image", "--out", str(out), "--device", "cpu"]) == 0
    assert json.loads(out.read_text())["protocol"]["gate"] == "image"
    assert res["classes"] == ["background", "circle", "square", "star"]
    assert len(res["per_class"]["IoU"]) == 4
    # the CLI's numbers equal the Python API's on the same model and settings
    from cocu.models.checkpoint import load_model

    api = evaluate(load_model(checkpoint), get_benchmark("voc_like", bench_dir), subset=2,
                   threshold=0.5)
    assert api["mIoU"] == res["mIoU"] and api["aAcc"] == res["aAcc"]


def test_cli_background_words(tmp_path, checkpoint, capsys):
    """--background-words reaches evaluate (the CLI's numbers equal the API's); bad words exit 2."""
    bench_dir = layouts.write_voc_like(tmp_path)
    out = tmp_path / "words.json"
    args = ["eval", "--checkpoint", str(checkpoint), "--benchmark-dir", str(bench_dir), "--device", "cpu"]
    assert main(args + ["--threshold", "0", "--background-words", "sky, grass", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["background_words"] == ["sky", "grass"]
    from cocu.models.checkpoint import load_model

    api = evaluate(load_model(checkpoint), get_benchmark("voc_like", bench_dir), threshold=0.0,
                   background_words=["sky", "grass"])
    assert api["mIoU"] == res["mIoU"]
    capsys.readouterr()
    assert main(args + ["--background-words", "circle"]) == 2
    assert "also classes: circle" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(args + ["--background-words", " , "])
    assert exc.value.code == 2 and "comma-separated words" in capsys.readouterr().err


def test_cli_ade_like_by_name_and_errors(tmp_path, checkpoint, capsys):
    layouts.write_ade_like(tmp_path)
    rc = main(["eval", "--checkpoint", str(checkpoint), "--benchmark", "ade_like",
               "--data-root", str(tmp_path), "--templates", "tcl", "--device", "cpu"])
    assert rc == 0
    assert "grass" in capsys.readouterr().out
    rc = main(["eval", "--checkpoint", str(checkpoint), "--benchmark", "voc",
               "--data-root", str(tmp_path / "missing")])
    assert rc == 2
    assert "data root not found" in capsys.readouterr().err
    rc = main(["eval", "--checkpoint", str(checkpoint)])
    assert rc == 2
    assert "--benchmark NAME --data-root DIR" in capsys.readouterr().err
