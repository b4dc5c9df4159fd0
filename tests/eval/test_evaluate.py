"""The whole eval path (loader → protocol → segmenter → metric) on every layout fixture,
against predictions of the reference implementation scored by the naive metric."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cocu.errors import CocuError
from cocu.eval.datasets import get_benchmark
from cocu.eval.datasets.base import read_image
from cocu.eval.evaluate import evaluate, match_label_size
from cocu.eval.protocol import get_protocol
from cocu.eval.transforms import normalize, rescale_size, resize_uint8
from tests.eval import layouts
from tests.eval.fakes import FakeGroupViT, fake_tokenize
from tests.eval.reference import ref_slide, ref_text_embedding, ref_whole
from tests.eval.test_metrics import naive_areas


def small(protocol):
    """The preset shrunk for 40-px fixtures (same code paths, smaller numbers)."""
    if protocol.mode == "whole":
        return protocol
    return protocol.with_(img_scale=(128, 32), crop=32, stride=16)


def reference_scores(model, bench, protocol):
    """Naive: reference predictions, naive per-pixel areas summed, mIoU in percent."""
    with_bg = bench.background
    text = ref_text_embedding(model, list(bench.prompt_classes), protocol.templates, fake_tokenize)
    totals = np.zeros((4, bench.num_classes), dtype=np.int64)
    for sample, image, label in bench:
        h, w = image.shape[:2]
        size = rescale_size(h, w, protocol.img_scale) if protocol.img_scale else (h, w)
        x = normalize(resize_uint8(image, size))[None]
        if protocol.mode == "whole":
            _, pred = ref_whole(model, x, text, with_bg, protocol.bg_thresh or 0, (h, w))
        else:
            _, pred = ref_slide(model, x, text, with_bg, protocol.bg_thresh or 0, protocol.crop,
                                protocol.stride, (h, w))
        if pred.shape != label.shape:  # nearest: src = floor(dst * src_size / dst_size)
            ys = np.arange(label.shape[0]) * pred.shape[0] // label.shape[0]
            xs = np.arange(label.shape[1]) * pred.shape[1] // label.shape[1]
            pred = pred[ys][:, xs]
        totals += np.array(naive_areas(pred.numpy(), label, bench.num_classes, bench.ignore_index,
                                       bench.reduce_zero_label))
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = totals[0] / totals[1]
    return 100 * np.nanmean(iou), iou


@pytest.mark.parametrize("name", sorted(layouts.WRITERS))
def test_evaluate_every_layout(tmp_path, name):
    layouts.WRITERS[name](tmp_path)
    bench = get_benchmark(name, tmp_path)
    protocol = small(get_protocol(bench.protocol))
    model = FakeGroupViT(seed=5)
    result = evaluate(model, bench, protocol=protocol, tokenizer=fake_tokenize)
    want_miou, want_iou = reference_scores(model, bench, protocol)
    assert result["num_images"] == len(bench) and result["benchmark"] == bench.name
    assert result["mIoU"] == pytest.approx(want_miou, abs=0.006)
    np.testing.assert_allclose(result["per_class"]["IoU"], want_iou, rtol=1e-5)
    assert result["protocol"]["bg_thresh"] == protocol.bg_thresh
    assert result["classes"] == list(bench.classes)


def test_subset_and_threshold_override(tmp_path):
    layouts.write_voc(tmp_path)
    bench = get_benchmark("voc", tmp_path)
    model = FakeGroupViT(seed=5)
    protocol = small(get_protocol("voc"))
    r1 = evaluate(model, bench, protocol=protocol, subset=1, threshold=0.0, tokenizer=fake_tokenize)
    assert r1["num_images"] == 1 and r1["protocol"]["bg_thresh"] == 0.0
    # threshold 0 → no pixel is background: IoU of class 0 is 0 (label has it) or NaN
    iou_bg = r1["per_class"]["IoU"][0]
    assert iou_bg == 0.0 or np.isnan(iou_bg)
    r2 = evaluate(model, bench, protocol=protocol, subset=1, threshold=1.0, tokenizer=fake_tokenize)
    assert r2["per_class"]["IoU"][0] > 0  # threshold 1 → background predicted somewhere


def test_predictions_are_scaled_back_to_label_size(tmp_path):
    """ImageNet-S style: image loaded smaller than its label, prediction upsampled (nearest)."""
    layouts.write_imagenet_s(tmp_path, 50)
    bench = get_benchmark("imagenet_s50", tmp_path)
    bench = dataclasses.replace(bench, image_loader=lambda p: read_image(p)[::2, ::2].copy())
    protocol = small(get_protocol(bench.protocol))
    model = FakeGroupViT(seed=6)
    result = evaluate(model, bench, protocol=protocol, tokenizer=fake_tokenize)
    want_miou, _ = reference_scores(model, bench, protocol)
    assert result["mIoU"] == pytest.approx(want_miou, abs=0.006)


def test_match_label_size_nearest():
    pred = torch.tensor([[0, 1], [2, 3]])
    assert match_label_size(pred, (4, 4)).tolist() == [[0, 0, 1, 1], [0, 0, 1, 1],
                                                       [2, 2, 3, 3], [2, 2, 3, 3]]
    big = torch.arange(12).view(3, 4)
    assert match_label_size(big, (3, 4)) is big


def test_background_benchmark_needs_threshold(tmp_path):
    layouts.write_voc(tmp_path)
    bench = get_benchmark("voc", tmp_path)
    protocol = dataclasses.replace(get_protocol("voc"), bg_thresh=None)
    with pytest.raises(CocuError, match="background class"):
        evaluate(FakeGroupViT(), bench, protocol=protocol, tokenizer=fake_tokenize)


def test_background_words_need_a_background_class(tmp_path):
    layouts.write_ade_like(tmp_path)
    bench = get_benchmark("ade_like", tmp_path)
    with pytest.raises(CocuError, match="no background class"):
        evaluate(FakeGroupViT(), bench, tokenizer=fake_tokenize, background_words=["grass"])
