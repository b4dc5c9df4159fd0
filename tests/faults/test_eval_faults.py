"""`cocu eval` and the metric under faults: broken files named before the compute, wrong mask
sizes refused, bad numbers refused, mmseg's label_map dtype semantics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cocu.cli import main
from tests.eval import layouts
from tests.eval.test_commands import checkpoint  # noqa: F401  (the tiny saved model fixture)


def _eval(checkpoint, bench, *extra):
    return main(["eval", "--checkpoint", str(checkpoint), "--benchmark-dir", str(bench), "--threshold", "0.5",
                 "--device", "cpu", *extra])


def _last_err(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("fault", ["garbage_png", "truncated_png", "wrong_size_mask", "garbage_jpeg"])
def test_broken_benchmark_files_are_named_before_any_image_is_segmented(tmp_path, checkpoint, capsys, fault):
    bench = layouts.write_voc_like(tmp_path)
    label = bench / "SegmentationClass" / "000000001.png"
    image = bench / "JPEGImages" / "000000001.jpg"
    if fault == "garbage_png":
        label.write_bytes(b"\x89PNG garbage")
    elif fault == "truncated_png":
        label.write_bytes(label.read_bytes()[:40])
    elif fault == "wrong_size_mask":
        Image.fromarray(np.zeros((32, 48), np.uint8)).save(label)
    else:
        image.write_bytes(b"\xff\xd8\xff\xe0 junk")
    out = tmp_path / "res.json"
    assert _eval(checkpoint, bench, "--out", str(out)) == 2
    err = _last_err(capsys)
    named = image if fault == "garbage_jpeg" else label
    assert err.startswith("cocu eval: error:") and str(named) in err
    if fault == "wrong_size_mask":
        assert "48x32" in err and "64x64" in err
    assert not out.exists()


def test_truncated_jpeg_names_the_file(tmp_path, checkpoint, capsys):
    bench = layouts.write_voc_like(tmp_path)
    image = bench / "JPEGImages" / "000000002.jpg"
    image.write_bytes(image.read_bytes()[:400])  # the header reads, the pixels do not
    assert _eval(checkpoint, bench) == 2
    err = _last_err(capsys)
    assert f"cannot read image {image}" in err


@pytest.mark.parametrize("flag,value", [("--window-batch", "-1"), ("--window-batch", "0"), ("--short-side", "0"),
                                        ("--subset", "0"), ("--crop", "-4"), ("--threshold", "nan")])
def test_bad_numbers_are_refused_by_the_parser(tmp_path, checkpoint, capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        _eval(checkpoint, tmp_path, flag, value)
    assert exc.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_window_batch_checked_in_the_library_too(tmp_path):
    from cocu.errors import CocuError
    from cocu.eval.datasets.synthetic import load_synthetic
    from cocu.eval.evaluate import evaluate

    with pytest.raises(CocuError, match="window-batch must be >= 1, got -1"):
        evaluate(None, load_synthetic(layouts.write_voc_like(tmp_path)), threshold=0.5, window_batch=-1)


@pytest.mark.parametrize("kind", ["dir", "file_parent"])
def test_eval_out_that_cannot_be_a_file_is_refused_before_the_compute(tmp_path, checkpoint, capsys, kind):
    bench = layouts.write_voc_like(tmp_path)
    if kind == "dir":
        out = tmp_path / "existing"
        out.mkdir()
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "res.json"
    assert _eval(checkpoint, bench, "--out", str(out)) == 2
    assert "--out" in _last_err(capsys)


def test_label_map_acts_in_the_labels_dtype_like_mmseg():
    """mmseg 0.18 maps ``torch.from_numpy(label)`` in place: on uint8 a class mapped to -1 becomes
    255 (ignored); on int64 it stays -1, which is counted nowhere as a label but the pixel's
    prediction still counts in the predicted class's area. Areas below are counted by hand."""
    from cocu.eval.metrics import intersect_and_union

    label = np.array([[0, 1, 1, 2]])
    pred = np.array([[0, 1, 2, 2]])
    a8 = intersect_and_union(pred, label.astype(np.uint8), 3, label_map={1: -1})
    # uint8: both 1-pixels become 255 = ignored; left: pixel 0 (pred 0, label 0), pixel 3 (2, 2)
    assert a8.pred.tolist() == [1, 0, 1] and a8.label.tolist() == [1, 0, 1] and a8.intersect.tolist() == [1, 0, 1]
    a64 = intersect_and_union(pred, label.astype(np.int64), 3, label_map={1: -1})
    # int64: the 1-pixels are -1, not ignored: their predictions (1 and 2) count, their labels do not
    assert a64.pred.tolist() == [1, 1, 2] and a64.label.tolist() == [1, 0, 1] and a64.intersect.tolist() == [1, 0, 1]
