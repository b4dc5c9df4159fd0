"""The batched segmenter equals a literal one-window-at-a-time restatement of the official
GroupViT inference (tests/eval/reference.py) on fake and tiny real models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cocu.errors import CocuError
from cocu.eval.pamr import pamr
from cocu.eval.protocol import TCL_TEMPLATES, Protocol
from cocu.eval.segmenter import (ZeroShotSegmenter, build_class_embeddings, infer_grid,
                                 slide_windows, windows_per_image)
from cocu.eval.transforms import normalize, rescale_size, resize_uint8
from tests.eval.fakes import FakeGroupViT, fake_tokenize
from tests.eval.reference import (naive_bilinear_uint8, naive_pamr, ref_slide, ref_text_embedding,
                                  ref_whole)

CLASSES = ["cat", "dog", "sky", "road", "tree", "car", "boat"]


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _prep(img, protocol):
    h, w = img.shape[:2]
    size = rescale_size(h, w, protocol.img_scale) if protocol.img_scale else (h, w)
    return normalize(resize_uint8(img, size))[None]


def test_class_embeddings_average_unnormalised_templates():
    model = FakeGroupViT()
    got = build_class_embeddings(model, CLASSES, TCL_TEMPLATES, tokenizer=fake_tokenize)
    want = ref_text_embedding(model, CLASSES, TCL_TEMPLATES, fake_tokenize)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    assert torch.allclose(got.norm(dim=-1), torch.ones(len(CLASSES)))
    alt = build_class_embeddings(model, CLASSES, TCL_TEMPLATES, tokenizer=fake_tokenize,
                                 normalize_templates=True)
    assert not torch.allclose(alt, got, atol=1e-4)  # the two averaging rules really differ


@pytest.mark.parametrize("with_bg", [True, False])
@pytest.mark.parametrize("shape", [(70, 100), (40, 150), (56, 56)])
def test_slide_matches_official_reference(with_bg, shape):
    model = FakeGroupViT(seed=1)
    protocol = Protocol("t", img_scale=(200, 48), crop=32, stride=16)
    thresh = 0.6 if with_bg else None
    seg = ZeroShotSegmenter(model, CLASSES, ("a photo of a {}.",), thresh, protocol=protocol,
                            window_batch=5, tokenizer=fake_tokenize)
    img = _image(*shape, seed=shape[0])
    got_logits = seg.logits(img)
    text = ref_text_embedding(model, CLASSES, ("a photo of a {}.",), fake_tokenize)
    want_logits, want_pred = ref_slide(model, _prep(img, protocol), text, with_bg, thresh or 0,
                                       32, 16, shape)
    torch.testing.assert_close(got_logits, want_logits, atol=1e-5, rtol=1e-5)
    assert torch.equal(seg.predict(img), want_pred)
    assert got_logits.shape[0] == len(CLASSES) + with_bg
    if with_bg:  # the threshold really made background somewhere, and not everywhere
        assert 0 < (want_pred == 0).float().mean() < 1


def test_window_smaller_than_crop_and_grid_inference():
    model = FakeGroupViT(seed=2, report_grid=False)  # grid inferred like resize_attn_map
    protocol = Protocol("t", img_scale=None, crop=64, stride=32)
    seg = ZeroShotSegmenter(model, CLASSES, bg_thresh=0.9, protocol=protocol,
                            tokenizer=fake_tokenize)
    img = _image(40, 96, seed=3)  # height < crop: windows 40 x 64
    text = ref_text_embedding(model, CLASSES, protocol.templates, fake_tokenize)
    want, _ = ref_slide(model, _prep(img, protocol), text, True, 0.9, 64, 32, (40, 96))
    torch.testing.assert_close(seg.logits(img), want, atol=1e-5, rtol=1e-5)
    assert infer_grid(40 // 8 * 64 // 8, 40, 64) == (5, 8)


def test_whole_mode_matches_reference():
    model = FakeGroupViT(seed=3)
    protocol = Protocol("t", img_scale=(100, 40), mode="whole")
    seg = ZeroShotSegmenter(model, CLASSES, bg_thresh=None, protocol=protocol,
                            tokenizer=fake_tokenize)
    img = _image(50, 75, seed=4)
    text = ref_text_embedding(model, CLASSES, protocol.templates, fake_tokenize)
    want, want_pred = ref_whole(model, _prep(img, protocol), text, False, 0, (50, 75))
    torch.testing.assert_close(seg.logits(img), want, atol=1e-5, rtol=1e-5)
    assert torch.equal(seg.predict(img), want_pred)


@pytest.mark.parametrize("with_bg", [True, False])
def test_groups_gate_matches_a_per_class_reference(with_bg):
    model = FakeGroupViT(seed=6)
    protocol = Protocol("t", img_scale=None, mode="whole", gate="groups")
    seg = ZeroShotSegmenter(model, CLASSES, bg_thresh=0.6 if with_bg else None, protocol=protocol,
                            tokenizer=fake_tokenize)
    official = ZeroShotSegmenter(model, CLASSES, bg_thresh=0.6 if with_bg else None,
                                 protocol=protocol.with_(gate="image"), tokenizer=fake_tokenize)
    text = ref_text_embedding(model, CLASSES, protocol.templates, fake_tokenize)
    differs = 0
    for i in range(6):
        img = _image(40, 56, seed=10 + i)
        want, want_pred = ref_whole(model, _prep(img, protocol), text, with_bg, 0.6, (40, 56), gate="groups")
        torch.testing.assert_close(seg.logits(img), want, atol=1e-5, rtol=1e-5)
        assert torch.equal(seg.predict(img), want_pred)
        differs += not torch.allclose(official.logits(img), want, atol=1e-5)
    assert differs > 0  # the two gates keep different classes on some images


@pytest.mark.parametrize("with_bg", [True, False])
def test_background_words_equal_naming_them_then_mapping_to_background(with_bg):
    """Labelling with all seven names and mapping the last three to background (the reference)
    gives the words segmenter's labels: class i → i + 1, a word → 0, the threshold's 0 → 0."""
    model = FakeGroupViT(seed=3)
    protocol = Protocol("t", img_scale=None, mode="whole", gate="groups")
    classes, words = CLASSES[:4], CLASSES[4:]
    seg = ZeroShotSegmenter(model, classes, bg_thresh=0.6 if with_bg else None, protocol=protocol,
                            tokenizer=fake_tokenize, background_words=words)
    assert seg.num_outputs == 5 and seg.has_background
    text = ref_text_embedding(model, CLASSES, protocol.templates, fake_tokenize)
    offset = int(with_bg)
    to_label = torch.tensor([0] * offset + [1, 2, 3, 4] + [0, 0, 0])  # reference channel → label
    words_won = 0
    for i in range(6):
        img = _image(40, 56, seed=20 + i)
        _, ref_pred = ref_whole(model, _prep(img, protocol), text, with_bg, 0.6, (40, 56), gate="groups")
        assert torch.equal(seg.predict(img), to_label[ref_pred])
        words_won += int((ref_pred >= offset + 4).sum())
    assert words_won > 0  # the words did take pixels


def test_background_words_errors():
    model = FakeGroupViT()
    for words, match in ((["sky", " "], "empty"), (["sky", "sky"], "twice"), (["cat", "sky"], "also classes"),
                         (["sky", "Sky"], "twice"), ([CLASSES[0].upper(), "sky"], "also classes")):
        with pytest.raises(CocuError, match=match):
            ZeroShotSegmenter(model, CLASSES[:2], tokenizer=fake_tokenize, background_words=words)
    with pytest.raises(CocuError, match="2 classes and 1 background words"):
        ZeroShotSegmenter(model, CLASSES[:2], tokenizer=fake_tokenize, background_words=["sky"],
                          text_embeddings=torch.zeros(2, 8))


def test_topk_keeps_at_most_five_classes_per_window():
    model = FakeGroupViT(seed=4)
    seg = ZeroShotSegmenter(model, CLASSES, protocol=Protocol("t", img_scale=None, mode="whole"),
                            tokenizer=fake_tokenize)
    x = _prep(_image(48, 48, 5), seg.protocol)
    scores = seg.encode_decode(x)[0]
    nonzero = (scores.flatten(1) > 0).any(dim=1)
    assert 1 <= int(nonzero.sum()) <= 5 < len(CLASSES)


def test_slide_windows_follow_mmseg():
    # 375 x 597 (VOC 500x375 at short side 448 would be 448 x 597)
    boxes = slide_windows(448, 597, 448, 224)
    assert boxes == [(0, 448, 0, 448), (0, 448, 149, 597)]
    boxes = slide_windows(1024, 2048, 448, 224)
    assert len(boxes) == 4 * 9 and boxes[-1] == (576, 1024, 1600, 2048)
    assert windows_per_image(375, 500, Protocol("v")) == 2


def test_rescale_size_like_mmcv():
    assert rescale_size(375, 500, (2048, 448)) == (448, 597)
    assert rescale_size(1024, 2048, (2048, 1024)) == (1024, 2048)
    assert rescale_size(100, 3000, (2048, 448)) == (68, 2048)  # long side bound wins


def test_resize_uint8_matches_naive_bilinear():
    img = _image(13, 17, seed=7)
    for size in [(29, 40), (7, 9), (13, 17)]:
        got = resize_uint8(img, size).permute(1, 2, 0).numpy()
        want = naive_bilinear_uint8(img.astype(np.float64), *size)
        assert np.abs(got - want).max() <= 1  # float rounding at exact .5 only
        assert (got == want).mean() > 0.99


def test_pamr_matches_conv_formulation():
    torch.manual_seed(0)
    image = torch.randn(2, 3, 20, 24)
    mask = torch.rand(2, 4, 10, 12)
    got = pamr(image, mask, num_iter=3, dilations=(1, 2))
    want = naive_pamr(image, mask, 3, (1, 2))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_errors():
    model = FakeGroupViT()
    with pytest.raises(CocuError, match="RGB"):
        ZeroShotSegmenter(model, CLASSES, tokenizer=fake_tokenize).predict(np.zeros((4, 4)))
    with pytest.raises(CocuError, match="stride"):
        Protocol("bad", stride=0)
    with pytest.raises(CocuError, match="placeholder"):
        Protocol("bad", templates=("no slot",))
    with pytest.raises(CocuError, match="gate"):
        Protocol("bad", gate="pixels")
