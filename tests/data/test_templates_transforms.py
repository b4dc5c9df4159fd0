"""Prompt templates and image transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cocu.data.templates import GROUPVIT_EVAL_TEMPLATES, IMAGENET_TEMPLATES, format_prompt
from cocu.data.transforms import train_transform


def test_templates():
    assert len(IMAGENET_TEMPLATES) == 80 and len(set(IMAGENET_TEMPLATES)) == 80
    assert all(t.count("{}") == 1 for t in IMAGENET_TEMPLATES)
    assert "itap of a {}." in IMAGENET_TEMPLATES and "a photo of many {}." in IMAGENET_TEMPLATES
    assert GROUPVIT_EVAL_TEMPLATES == ("a photo of a {}.",)
    assert format_prompt(GROUPVIT_EVAL_TEMPLATES[0], " race car ") == "a photo of a race car."
    assert format_prompt("the {} in a video game.", "dog") == "the dog in a video game."
    with pytest.raises(ValueError):
        format_prompt("no placeholder", "dog")


def test_train_transform_is_mild_and_flips():
    # left half red, right half blue: a mild crop keeps both; flips swap them
    arr = np.zeros((64, 64, 3), np.uint8)
    arr[:, :32] = (255, 0, 0)
    arr[:, 32:] = (0, 0, 255)
    img = Image.fromarray(arr)
    tf = train_transform(64)
    torch.manual_seed(0)
    left_red = []
    for _ in range(40):
        x = tf(img)
        assert x.shape == (3, 64, 64)
        red = x[0] > x[2]
        assert 0.3 < red.float().mean() < 0.7  # both halves survive the crop
        left_red.append(bool(red[:, :8].all()))
    assert 5 < sum(left_red) < 35  # flipped about half the time
