"""Palette, mask PNG writer and overlay with legend, against hand-computed values."""

import numpy as np
import pytest
from PIL import Image

from cocu.errors import CocuError
from cocu.viz.images import load_image, load_mask
from cocu.viz.masks import legend_entries, overlay, save_mask_png, save_overlay
from cocu.utils.voc_colours import voc_colour
from cocu.viz.palette import flat_palette, palette


def test_palette_voc_head_void_and_distinct():
    pal = palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    # VOC devkit colours, written out by hand
    expected = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128),
                8: (64, 0, 0), 15: (192, 128, 128), 20: (0, 64, 128)}
    for i, rgb in expected.items():
        assert tuple(pal[i]) == rgb
        assert voc_colour(i) == rgb
    assert tuple(pal[255]) == (224, 224, 192)
    assert len({tuple(c) for c in pal.tolist()}) == 256
    assert np.array_equal(palette(), pal)  # deterministic
    assert palette(21).shape == (21, 3)
    flat = flat_palette()
    assert len(flat) == 768 and flat[3:6] == [128, 0, 0]


def test_save_mask_png_roundtrip(tmp_path):
    mask = np.array([[0, 1, 2], [20, 21, 255]], dtype=np.int64)
    path = save_mask_png(mask, tmp_path / "sub" / "m.png")
    with Image.open(path) as im:
        assert im.mode == "P"
        assert np.array_equal(np.asarray(im), mask)
        pal = np.array(im.getpalette()[: 3 * 256]).reshape(-1, 3)
    assert tuple(pal[1]) == (128, 0, 0) and tuple(pal[255]) == (224, 224, 192)
    assert np.array_equal(load_mask(path), mask)
    assert not list((tmp_path / "sub").glob(".*tmp"))  # no temp files left


def test_save_mask_png_rejects_bad_masks(tmp_path):
    with pytest.raises(CocuError, match="0..255"):
        save_mask_png(np.array([[0, 300]]), tmp_path / "a.png")
    with pytest.raises(CocuError, match="integer"):
        save_mask_png(np.array([[0.5, 1.0]]), tmp_path / "b.png")
    with pytest.raises(CocuError, match=r"\[H, W\]"):
        save_mask_png(np.zeros((2, 2, 2), int), tmp_path / "c.png")


def test_overlay_blend_values_without_legend():
    img = np.zeros((2, 2, 3), np.uint8)
    img[:] = (100, 40, 200)
    mask = np.array([[1, 0], [255, 3]])
    out = overlay(img, mask, alpha=0.25, legend=False)
    assert out.shape == (2, 2, 3)
    # 0.75 * image + 0.25 * colour, by hand
    assert tuple(out[0, 0]) == (107, 30, 150)   # id 1 = (128, 0, 0)
    assert tuple(out[0, 1]) == (75, 30, 150)    # id 0 = (0, 0, 0)
    assert tuple(out[1, 0]) == (100, 40, 200)   # ignore keeps the image
    assert tuple(out[1, 1]) == (107, 62, 150)   # id 3 = (128, 128, 0): 0.75*40 + 32 = 62


def test_overlay_blend_id3_exact():
    img = np.full((1, 1, 3), (100, 40, 200), np.uint8)
    out = overlay(img, np.array([[3]]), alpha=0.25, legend=False)
    assert tuple(out[0, 0]) == (107, 62, 150)
    assert tuple(overlay(img, np.array([[3]]), alpha=0.0, legend=False)[0, 0]) == (100, 40, 200)
    assert tuple(overlay(img, np.array([[3]]), alpha=1.0, legend=False)[0, 0]) == (128, 128, 0)


def test_overlay_legend_lists_only_present_classes():
    labels = ["background", "cat", "dog", "sofa"]
    img = np.full((64, 48, 3), 200, np.uint8)
    mask = np.zeros((64, 48), int)
    mask[10:30, 10:30] = 3
    assert legend_entries(mask, labels) == [(0, "background"), (3, "sofa")]
    assert legend_entries(np.array([[7, 255]]), labels) == [(7, "class 7")]
    out = overlay(img, mask, labels=labels, alpha=0.5)
    assert out.shape[0] == 64 and out.shape[1] > 48
    assert np.array_equal(out[:, :48], overlay(img, mask, labels=labels, alpha=0.5, legend=False))
    panel = out[:, 48:].reshape(-1, 3)
    colours = {tuple(c) for c in panel.tolist()}
    assert (128, 128, 0) in colours       # sofa swatch
    assert (0, 0, 0) in colours           # background swatch
    assert (128, 0, 0) not in colours     # cat is absent: no swatch
    assert (0, 128, 0) not in colours     # dog is absent


def test_overlay_legend_taller_than_image_pads_white():
    img = np.zeros((8, 8, 3), np.uint8)
    mask = np.arange(64).reshape(8, 8) % 6
    out = overlay(img, mask)
    assert out.shape[0] > 8
    assert (out[8:, :8] == 255).all()


def test_overlay_errors(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(CocuError, match="does not match"):
        overlay(img, np.zeros((3, 4), int))
    with pytest.raises(CocuError, match="alpha"):
        overlay(img, np.zeros((4, 4), int), alpha=1.5)
    with pytest.raises(CocuError, match="no colour"):
        overlay(img, np.full((4, 4), 5), palette=palette(3))


def test_save_overlay_and_load_image(tmp_path):
    img = np.full((16, 16, 3), 90, np.uint8)
    Image.fromarray(img).save(tmp_path / "img.jpg", quality=95)
    mask = np.ones((16, 16), int)
    path = save_overlay(tmp_path / "img.jpg", mask, tmp_path / "ov.png", labels=["bg", "cat"])
    arr = np.asarray(Image.open(path))
    assert arr.shape[0] >= 16 and arr.shape[1] > 16
    # 0.5 * ~90 + 0.5 * (128, 0, 0), the JPEG may be off by a level or two
    assert np.abs(arr[8, 8].astype(int) - [109, 45, 45]).max() <= 2
    assert load_image(tmp_path / "img.jpg").shape == (16, 16, 3)
    assert load_image(np.zeros((3, 5), np.uint8)).shape == (3, 5, 3)
    assert load_image(np.ones((2, 2, 3), np.float32))[0, 0, 0] == 255


def test_load_image_errors(tmp_path):
    with pytest.raises(CocuError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(CocuError, match="cannot read image"):
        load_image(bad)
    with pytest.raises(CocuError, match="shape"):
        load_image(np.zeros((2, 2, 5), np.uint8))
