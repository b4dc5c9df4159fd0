"""Naming counts of the synthetic diagnostics against a per-pixel loop."""

from __future__ import annotations

import numpy as np

from cocu.eval.diagnostics import majority_labels, naming_counts


def _naive(groups, label, major, group_class, is_object, ignore):
    right = total = obj_right = obj_total = 0
    for g, y in zip(groups.ravel(), label.ravel(), strict=True):
        if y == ignore or major[g] < 0:
            continue
        ok = group_class[g] == major[g]
        right, total = right + ok, total + 1
        if is_object[major[g]]:
            obj_right, obj_total = obj_right + ok, obj_total + 1
    return right, total, obj_right, obj_total


def test_naming_counts_by_hand():
    # groups 0 (majority class 2, an object, named 2) and 1 (majority 0, stuff, named 1)
    groups = np.array([[0, 0, 1], [1, 1, 1]])
    label = np.array([[2, 255, 0], [0, 2, 0]])
    major = majority_labels(groups, label, 2, 3)
    assert major.tolist() == [2, 0]
    got = naming_counts(groups, label, major, np.array([2, 1]), np.array([False, False, True]))
    assert got == (1, 5, 1, 1)  # right: the one labelled pixel of group 0; the ignored one not counted


def test_naming_counts_match_a_pixel_loop():
    rng = np.random.default_rng(0)
    for _ in range(20):
        groups = rng.integers(0, 4, size=(9, 7))
        label = rng.integers(0, 6, size=(9, 7))
        label[rng.random(label.shape) < 0.2] = 255
        major = majority_labels(groups, label, 5, 6)  # group 4 is empty: −1
        group_class = rng.integers(0, 6, size=5)
        group_class[:2] = major[:2]                   # some groups named right
        is_object = rng.random(6) < 0.5
        assert naming_counts(groups, label, major, group_class, is_object) == \
            _naive(groups, label, major, group_class, is_object, 255)
