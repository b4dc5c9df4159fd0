"""segment_image / cocu segment with a hand-made model whose groups follow pixel colour."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cocu import cli
from cocu.errors import CocuError
from cocu.models.tokenizer import tokenize
from cocu.cli import viz as commands
from cocu.viz.segment import parse_labels, segment_image

LABELS = ["cat", "sofa", "floor"]
TEXT = {"cat": [1.0, 0.0, 0.0], "sofa": [0.0, 1.0, 0.0], "floor": [0.0, 0.0, 1.0]}
# group of a patch = its dominant colour channel: red → "cat", green → between all three, blue → "floor"
GROUPS = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]])


class ColourGroupModel(torch.nn.Module):
    """encode_image/encode_text/logit_scale as cocu.models.GroupViT, with fixed semantics."""

    def __init__(self, patch=4, image_size=8):
        super().__init__()
        self.config = SimpleNamespace(image_size=image_size, patch_size=patch)
        self.patch = patch
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(100.0)))
        self.table = {tuple(tokenize(f"a photo of a {n}.")[0].tolist()): v for n, v in TEXT.items()}

    def encode_image(self, images, *, return_feat=False, return_attn=False):
        b, _, h, w = images.shape
        means = F.avg_pool2d(images, self.patch)                 # [B, 3, gh, gw]
        group = means.argmax(1).flatten(1)                        # 0 red, 1 green, 2 blue
        onehot = F.one_hot(group, 3).float()                      # [B, L, G]
        per_patch = onehot @ GROUPS                               # [B, L, D]
        image_x = per_patch.mean(1)
        feat = GROUPS[None].expand(b, -1, -1) if return_feat else None
        attn = [onehot.transpose(1, 2)] if return_attn else []
        return SimpleNamespace(image_x=image_x, image_feat=feat, attn_soft=attn,
                               grid=(h // self.patch, w // self.patch))

    def encode_text(self, ids):
        return torch.tensor([self.table[tuple(r.tolist())] for r in ids])


def stripes(h=16, w=24):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 3, 0] = 255            # red
    img[:, w // 3: 2 * w // 3, 2] = 255  # blue
    img[:, 2 * w // 3:, 1] = 255         # green
    return img


def test_segment_image_without_background():
    res = segment_image(ColourGroupModel(), stripes(), "cat, sofa, floor")
    assert res.labels == ["background", *LABELS]
    assert res.mask.shape == (16, 24) and res.mask.dtype == np.uint8
    assert (res.mask[:, :6] == 1).all()      # red stripe interior → cat
    assert (res.mask[:, 10:14] == 3).all()   # blue stripe → floor
    assert (res.mask != 0).all()             # no background without a threshold
    # whole-image embedding = mean of (1,0,0), (0,0,1), (1,1,1) = (2/3, 1/3, 2/3), unit norm
    assert res.scores == pytest.approx({"cat": 2 / 3, "sofa": 1 / 3, "floor": 2 / 3}, abs=1e-5)
    fr = res.fractions()
    assert sum(fr.values()) == pytest.approx(1.0) and fr["background"] == 0.0


def test_segment_image_background_threshold_and_any_size():
    res = segment_image(ColourGroupModel(), stripes(37, 61), ["cat", "sofa", "floor"], bg_thresh=0.9)
    assert res.mask.shape == (37, 61)
    # green group is equally similar to all classes → weak score → background
    assert (res.mask[:, 45:] == 0).all()
    assert (res.mask[:, :15] == 1).all()
    assert (res.mask[:, 24:36] == 3).all()


def test_segment_image_background_words():
    """The blue stripe named by a background word becomes background; the others keep their labels."""
    res = segment_image(ColourGroupModel(), stripes(), "cat, sofa", background_words=["floor"])
    assert res.labels == ["background", "cat", "sofa"]
    assert (res.mask[:, :6] == 1).all() and (res.mask[:, 10:14] == 0).all()
    assert res.info["background_words"] == ["floor"]
    assert set(res.scores) == {"cat", "sofa"}


def test_parse_labels_errors():
    assert parse_labels(" cat ,sofa,, floor ") == LABELS
    with pytest.raises(CocuError, match="empty label list"):
        parse_labels(" , ")
    with pytest.raises(CocuError, match="twice"):
        parse_labels("cat, Cat")
    with pytest.raises(CocuError, match="background"):
        parse_labels("background, cat")
    with pytest.raises(CocuError, match="threshold"):
        segment_image(ColourGroupModel(), stripes(), "cat", bg_thresh=1.5)


def test_cli_segment_writes_mask_overlay_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(commands, "_load_model", lambda path, device: ColourGroupModel())
    Image.fromarray(stripes()).save(tmp_path / "img.png")
    rc = cli.main(["segment", str(tmp_path / "img.png"), "--checkpoint", "fake",
                   "--labels", "cat, sofa, floor", "--background-threshold", "0.9",
                   "--out", str(tmp_path / "out")])
    assert rc == 0
    with Image.open(tmp_path / "out" / "img_mask.png") as im:
        assert im.mode == "P"
        mask = np.asarray(im)
    assert (mask[:, :6] == 1).all() and (mask[:, 10:14] == 3).all() and (mask[:, 18:] == 0).all()
    overlay = np.asarray(Image.open(tmp_path / "out" / "img_overlay.png").convert("RGB"))
    assert overlay.shape[1] > 24    # legend panel on the right
    meta = json.loads((tmp_path / "out" / "img_segment.json").read_text())
    assert meta["labels"] == ["background", *LABELS]
    assert meta["mask_ids"]["floor"] == 3
    out = capsys.readouterr().out
    assert "floor" in out and "img_overlay.png" in out


def test_cli_segment_user_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(commands, "_load_model", lambda path, device: ColourGroupModel())
    (tmp_path / "bad.jpg").write_text("not an image")
    assert cli.main(["segment", str(tmp_path / "bad.jpg"), "--checkpoint", "x", "--labels", "cat"]) == 2
    assert "cannot read image" in capsys.readouterr().err
    Image.fromarray(stripes()).save(tmp_path / "img.png")
    assert cli.main(["segment", str(tmp_path / "img.png"), "--checkpoint", "x", "--labels", ","]) == 2
    assert "empty label list" in capsys.readouterr().err


def test_cli_segment_gate(tmp_path, monkeypatch):
    """--gate groups reaches the protocol (GroupViT's image-embedding gate stays the default)."""
    monkeypatch.setattr(commands, "_load_model", lambda path, device: ColourGroupModel())
    Image.fromarray(stripes()).save(tmp_path / "img.png")
    for gate, want in ((None, "image"), ("groups", "groups")):
        out = tmp_path / f"out-{want}"
        args = ["segment", str(tmp_path / "img.png"), "--checkpoint", "fake", "--labels", "cat, sofa, floor",
                "--out", str(out)] + (["--gate", gate] if gate else [])
        assert cli.main(args) == 0
        meta = json.loads((out / "img_segment.json").read_text())
        assert meta["protocol"]["gate"] == want
        with Image.open(out / "img_mask.png") as im:  # three labels, three groups: both gates keep all
            assert (np.asarray(im)[:, :6] == 1).all()
