"""``cocu segment`` on real photographs (scikit-image's samples) in every format and size, with a
random tiny GroupViT: the point is that everything goes through with the right geometry and
bounded memory, not mask quality."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skdata

from cocu import cli
from cocu.models import create_model
from cocu.cli import viz as commands
from cocu.viz.segment import PhotoSegmenter, bilinear_strips, segment_image, upsample_argmax
from tests.viz.test_segment import ColourGroupModel

LABELS = "cat, grass, sky, person"


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("groupvit_tiny").eval()


def test_strips_equal_full_bilinear_resize():
    scores = torch.randn(5, 30, 45, generator=torch.Generator().manual_seed(0))
    full = F.interpolate(scores[None], size=(97, 131), mode="bilinear", align_corners=False)[0]
    strips = list(bilinear_strips(scores, (97, 131), budget=5 * 131 * 7))
    assert len(strips) > 1 and all(s.numel() <= 5 * 131 * 7 for _, _, s in strips)
    torch.testing.assert_close(torch.cat([s for _, _, s in strips], dim=1), full, atol=1e-5, rtol=1e-5)
    labels = upsample_argmax(scores, (97, 131), offset=1, budget=1000)
    assert labels.dtype == np.uint8 and np.array_equal(labels, full.argmax(0).numpy() + 1)


def _formats(tmp_path):
    cat, astro, cam = skdata.chelsea(), skdata.astronaut(), skdata.camera()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(cat, 1)).save(tmp_path / "exif_rotated.jpg", exif=exif)
    Image.fromarray(np.dstack([astro, np.full(astro.shape[:2], 128, np.uint8)])).save(tmp_path / "alpha.png")
    Image.fromarray(cam).save(tmp_path / "grey.png")
    Image.fromarray(cam.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    Image.fromarray(astro).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(skdata.coffee()).save(tmp_path / "coffee.webp")
    frames = [Image.fromarray(x).quantize(64) for x in (cat, skdata.rocket()[:300, :451])]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(cat[:3, :2]).save(tmp_path / "tiny.png")  # 3 x 2 pixels
    return {"exif_rotated.jpg": (300, 451), "alpha.png": (512, 512), "grey.png": (512, 512),
            "grey16.png": (512, 512), "cmyk.jpg": (512, 512), "coffee.webp": (400, 600), "anim.gif": (300, 451),
            "tiny.png": (3, 2)}


def test_every_format_through_the_python_function(tiny, tmp_path):
    seg = PhotoSegmenter(tiny, LABELS)
    for name, size in _formats(tmp_path).items():
        res = seg.segment(tmp_path / name)
        assert res.mask.shape == size, name
        assert res.mask.dtype == np.uint8 and 1 <= res.mask.min() and res.mask.max() <= 4, name
        assert sum(res.fractions().values()) == pytest.approx(1.0)
        assert res.overlay.shape[0] >= size[0] and res.overlay.shape[1] > size[1], name  # legend on the right
        assert res.info["image_size"] == list(size)


def test_same_photo_same_mask_from_path_array_and_bytes(tiny, tmp_path):
    coffee = skdata.coffee()
    coffee = skdata.chelsea()
    Image.fromarray(coffee).save(tmp_path / "coffee.png")
    a = segment_image(tiny, tmp_path / "coffee.png", LABELS, 0.5)
    b = segment_image(tiny, coffee, LABELS, 0.5)
    c = segment_image(tiny, (tmp_path / "coffee.png").read_bytes(), LABELS, 0.5)
    assert np.array_equal(a.mask, b.mask) and np.array_equal(a.mask, c.mask)
    assert a.scores == pytest.approx(b.scores)


def test_background_threshold_and_pamr(tiny):
    cat = skdata.chelsea()
    plain = segment_image(tiny, cat, LABELS)
    assert plain.fractions()["background"] == 0.0
    everything_bg = segment_image(tiny, cat, LABELS, bg_thresh=1.0)
    assert everything_bg.fractions()["background"] == 1.0  # no class reaches a score of 1 with 4 labels
    # PAMR on a model whose groups follow colour (a random tiny GroupViT paints one label everywhere)
    colour = ColourGroupModel(patch=8, image_size=64)
    astro = skdata.astronaut()
    before = segment_image(colour, astro, "cat, sofa, floor")
    after = segment_image(colour, astro, "cat, sofa, floor", pamr=True)
    assert after.info["pamr"] and len(before.present()) >= 2
    changed = float((before.mask != after.mask).mean())
    assert 0.0 < changed < 0.5  # PAMR moves boundaries, it does not repaint the photo


def test_cli_folder_glob_progress_and_a_broken_file(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(commands, "_load_model", lambda path, device: tiny)
    photos = tmp_path / "photos"
    photos.mkdir()
    sizes = {"cat.jpg": (300, 451), "coffee.webp": (400, 600), "cam.png": (512, 512)}
    Image.fromarray(skdata.chelsea()).save(photos / "cat.jpg")
    Image.fromarray(skdata.coffee()).save(photos / "coffee.webp")
    Image.fromarray(skdata.camera()).save(photos / "cam.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "out"
    rc = cli.main(["segment", str(photos), "--checkpoint", "x", "--labels", LABELS, "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2 and "broken.jpg" in captured.err and "1 of 4 images could not be segmented" in captured.err
    for name, size in sizes.items():
        stem = name.rsplit(".", 1)[0]
        with Image.open(out / f"{stem}_mask.png") as im:
            assert im.mode == "P" and im.size == size[::-1]
        meta = json.loads((out / f"{stem}_segment.json").read_text())
        assert sum(meta["fractions"].values()) == pytest.approx(1.0)
        assert set(meta["present"]) <= {"cat", "grass", "sky", "person"}
        assert (out / f"{stem}_overlay.png").is_file()
    # a glob, resuming: everything already there is skipped
    rc = cli.main(["segment", str(photos / "c*"), "--checkpoint", "x", "--labels", LABELS, "--out", str(out),
                   "--skip-existing"])
    assert rc == 0 and capsys.readouterr().out.count("skipped") == 3
