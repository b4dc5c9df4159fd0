"""Batched segmentation with the real (randomly initialised) tiny GroupViT equals the literal
official restatement in tests/eval/reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cocu.eval.protocol import Protocol
from cocu.eval.segmenter import ZeroShotSegmenter
from cocu.eval.transforms import normalize, rescale_size, resize_uint8
from tests.eval.reference import ref_slide, ref_text_embedding, ref_whole

NAMES = ["cat", "dog", "sky", "road", "tree", "car"]


@pytest.fixture(scope="module")
def tiny():
    from cocu.models import create_model
    from cocu.models.tokenizer import tokenize

    torch.manual_seed(0)
    return create_model("groupvit_tiny").eval(), tokenize


def _prep(img, protocol):
    h, w = img.shape[:2]
    size = rescale_size(h, w, protocol.img_scale) if protocol.img_scale else (h, w)
    return normalize(resize_uint8(img, size))[None]


def test_slide_with_background(tiny):
    model, tokenize = tiny
    protocol = Protocol("t", img_scale=(256, 96), crop=64, stride=32)
    seg = ZeroShotSegmenter(model, NAMES, bg_thresh=0.5, protocol=protocol, window_batch=4)
    img = np.random.default_rng(6).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    with torch.no_grad():
        text = ref_text_embedding(model, NAMES, protocol.templates, tokenize)
        want, want_pred = ref_slide(model, _prep(img, protocol), text, True, 0.5, 64, 32, (90, 120))
    torch.testing.assert_close(seg.text, text, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(seg.logits(img), want, atol=1e-5, rtol=1e-5)
    assert torch.equal(seg.predict(img), want_pred)


def test_whole_image_synthetic_protocol(tiny):
    model, tokenize = tiny
    protocol = Protocol("t", img_scale=None, mode="whole")
    seg = ZeroShotSegmenter(model, NAMES, bg_thresh=None, protocol=protocol)
    img = np.random.default_rng(7).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        text = ref_text_embedding(model, NAMES, protocol.templates, tokenize)
        want, want_pred = ref_whole(model, _prep(img, protocol), text, False, 0, (64, 64))
    torch.testing.assert_close(seg.logits(img), want, atol=1e-5, rtol=1e-5)
    assert torch.equal(seg.predict(img), want_pred)
