"""mmseg 0.18 metric semantics, checked against hand-computed confusion matrices and a naive
per-pixel reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cocu.errors import CocuError
from cocu.eval.metrics import IoUAccumulator, format_table, intersect_and_union


def naive_areas(pred, label, num_classes, ignore_index=255, reduce_zero_label=False, label_map=None):
    """Pixel-by-pixel restatement of mmseg's rules, in plain Python."""
    inter = [0] * num_classes
    p_area = [0] * num_classes
    l_area = [0] * num_classes
    for p, lab in zip(np.asarray(pred).ravel().tolist(), np.asarray(label).ravel().tolist()):
        for old, new in (label_map or {}).items():
            if lab == old:
                lab = new
        if reduce_zero_label:
            lab = 255 if lab == 0 else lab - 1
            lab = 255 if lab == 254 else lab
        if lab == ignore_index:
            continue
        if 0 <= p < num_classes:
            p_area[p] += 1
        if 0 <= lab < num_classes:
            l_area[lab] += 1
        if p == lab and 0 <= p < num_classes:
            inter[p] += 1
    union = [p_area[c] + l_area[c] - inter[c] for c in range(num_classes)]
    return inter, union, p_area, l_area


def test_hand_computed_confusion_matrix_with_ignore():
    pred = np.array([[0, 0, 1], [1, 2, 2]])
    label = np.array([[0, 1, 1], [255, 2, 0]], dtype=np.uint8)
    # kept pairs (pred, label): (0,0) (0,1) (1,1) (2,2) (2,0); (1,255) ignored
    a = intersect_and_union(pred, label, 3)
    assert a.intersect.tolist() == [1, 1, 1]
    assert a.pred.tolist() == [2, 1, 2]
    assert a.label.tolist() == [2, 2, 1]
    assert a.union.tolist() == [3, 2, 2]
    acc = IoUAccumulator(3)
    acc.update(pred, label)
    r = acc.compute()
    assert r["per_class"]["IoU"] == pytest.approx([1 / 3, 1 / 2, 1 / 2])
    assert r["per_class"]["Acc"] == pytest.approx([1 / 2, 1 / 2, 1.0])
    assert r["mIoU"] == 44.44 and r["mAcc"] == 66.67 and r["aAcc"] == 60.0


def test_reduce_zero_label_out_of_range_and_unmasked_high_labels():
    # raw label -> after reduce_zero_label: 0->255 (ignored), 1->0, 2->1, 3->2, 4->3 (>= C=3,
    # NOT masked), 255 stays ignored
    label = np.array([[0, 1, 2, 3], [4, 4, 255, 3]], dtype=np.uint8)
    pred = np.array([[2, 0, 1, 7], [1, -1, 0, 2]])
    # kept (pred, label): (0,0) (1,1) (7,2) (1,3) (-1,3) (2,2)
    # pred 7 / -1 dropped from pred areas; label 3 counted nowhere; pred 1 on label 3 = FP of 1
    a = intersect_and_union(pred, label, 3, reduce_zero_label=True)
    assert a.pred.tolist() == [1, 2, 1]
    assert a.label.tolist() == [1, 1, 2]
    assert a.intersect.tolist() == [1, 1, 1]
    assert a.union.tolist() == [1, 2, 2]
    acc = IoUAccumulator(3, reduce_zero_label=True)
    acc.update(pred, label)
    r = acc.compute()
    assert r["per_class"]["IoU"] == pytest.approx([1.0, 0.5, 0.5])
    assert r["aAcc"] == 75.0  # 3 of the 4 in-range label pixels


def test_nan_class_excluded_and_predicted_only_class_counts():
    label = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 2], [1, 1]])  # class 2 only predicted, class 3 absent everywhere
    acc = IoUAccumulator(4)
    acc.update(pred, label)
    r = acc.compute()
    iou = r["per_class"]["IoU"]
    assert iou[:3] == pytest.approx([0.5, 1.0, 0.0]) and math.isnan(iou[3])
    assert r["mIoU"] == 50.0  # (0.5 + 1 + 0) / 3, NaN left out
    acc_ = r["per_class"]["Acc"]
    assert math.isnan(acc_[2]) and math.isnan(acc_[3])  # no label pixels: 0/0
    assert r["mAcc"] == 75.0


def test_label_map_runs_before_reduce_zero_label():
    label = np.array([[5, 1, 0]], dtype=np.uint8)
    pred = np.array([[1, 0, 0]])
    # label_map 5 -> 2, then reduce: [2,1,0] -> [1,0,255]
    a = intersect_and_union(pred, label, 2, label_map={5: 2}, reduce_zero_label=True)
    assert a.intersect.tolist() == [1, 1] and a.label.tolist() == [1, 1]


def test_split_accumulation_differs_from_mean_of_images():
    acc = IoUAccumulator(2)
    acc.update(np.array([[0, 0, 0, 1]]), np.array([[0, 0, 0, 0]]))  # IoU0 3/4, class1 0/1
    acc.update(np.array([[1]]), np.array([[1]]))                    # class1 1/1
    r = acc.compute()
    # split totals: class0 inter 3 union 4; class1 inter 1 union 2
    assert r["per_class"]["IoU"] == pytest.approx([0.75, 0.5])
    assert r["mIoU"] == 62.5 and r["num_images"] == 2
    assert acc.counts().union.tolist() == [4, 2]


@pytest.mark.parametrize("reduce_zero_label", [False, True])
def test_matches_naive_reference_on_random_maps(reduce_zero_label):
    rng = np.random.default_rng(0)
    c = 7
    acc = IoUAccumulator(c, reduce_zero_label=reduce_zero_label, label_map={9: 3})
    totals = np.zeros((4, c), dtype=np.int64)
    for _ in range(5):
        h, w = rng.integers(5, 30, size=2)
        label = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 255], size=(h, w)).astype(np.uint8)
        pred = rng.integers(-2, c + 3, size=(h, w))
        acc.update(torch.from_numpy(pred), label)
        totals += np.array(naive_areas(pred, label, c, 255, reduce_zero_label, {9: 3}))
    got = acc.counts()
    assert got.intersect.tolist() == totals[0].tolist()
    assert got.union.tolist() == totals[1].tolist()
    assert got.pred.tolist() == totals[2].tolist()
    assert got.label.tolist() == totals[3].tolist()
    r = acc.compute()
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = totals[0] / totals[1]
    assert r["raw"]["mIoU"] == pytest.approx(np.nanmean(iou), rel=1e-6)
    assert r["mIoU"] == round(100 * float(np.nanmean(iou)), 2)


def test_float32_accumulation_follows_mmseg_pre_eval_sum():
    acc = IoUAccumulator(3)
    rng = np.random.default_rng(1)
    per_image = []
    for _ in range(4):
        p, lab = rng.integers(0, 3, (9, 9)), rng.integers(0, 3, (9, 9))
        a = acc.update(p, lab)
        per_image.append(np.stack([a.intersect, a.union, a.pred, a.label]).astype(np.float32))
    want = per_image[0]
    for x in per_image[1:]:
        want = (want + x).astype(np.float32)
    np.testing.assert_array_equal(acc._f32.numpy(), want)
    iou32 = (want[0] / want[1]).astype(np.float32)
    assert acc.compute()["mIoU"] == float(np.round(np.nanmean(iou32) * 100, 2))


def test_ignore_index_other_than_255_and_errors():
    acc = IoUAccumulator(2, ignore_index=1000)
    acc.update(np.array([[0, 1]]), np.array([[1000, 1]], dtype=np.int32))
    assert acc.counts().label.tolist() == [0, 1]
    with pytest.raises(CocuError, match="shape"):
        acc.update(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(CocuError):
        IoUAccumulator(0)


def test_format_table_lists_classes_and_summary():
    acc = IoUAccumulator(2, class_names=["bg", "cat"])
    acc.update(np.array([[0, 1]]), np.array([[0, 0]]))
    text = format_table(acc.compute())
    assert "cat" in text and "nan" in text and "mIoU 25.00" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors():
    pred = torch.randint(0, 4, (50, 50), device="cuda")
    label = torch.randint(0, 4, (50, 50), device="cuda")
    a = intersect_and_union(pred, label, 4)
    b = naive_areas(pred.cpu().numpy(), label.cpu().numpy(), 4)
    assert a.intersect.cpu().tolist() == b[0]
