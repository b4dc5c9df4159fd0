"""Concept activation maps and their scores against a hand-made model output."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cocu.errors import CocuError
from cocu.viz import heatmap
from cocu.viz.heatmap import (ConceptSpec, activation_maps, compare_heatmaps,
                              concept_activation_maps, parse_concepts, pearson, region_contrast,
                              synonym_consistency)

# Two groups on a 2×2 grid; every pixel's weights sum to 1.
S = np.array([[[1.0, 0.5], [0.25, 0.0]],
              [[0.0, 0.5], [0.75, 1.0]]])
E = np.array([[1.0, 0.0], [0.0, 2.0]])           # group embeddings (unnormalised)
T = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, -1.0]])  # concept text embeddings
R2 = 1 / math.sqrt(2)


def test_activation_maps_hand_values():
    act = activation_maps(S, E, T)
    assert act.shape == (3, 2, 2) and act.dtype == np.float32
    # cos(t0, e) = (1, 0) -> S0;  cos(t1, e) = (1/√2, 1/√2) -> (S0 + S1)/√2 = 1/√2 everywhere;
    # cos(t2, e) = (0, -1) -> -S1
    np.testing.assert_allclose(act[0], [[1, 0.5], [0.25, 0]], atol=1e-7)
    np.testing.assert_allclose(act[1], [[R2, R2], [R2, R2]], atol=1e-7)
    np.testing.assert_allclose(act[2], [[0, -0.5], [-0.75, -1]], atol=1e-7)
    # torch inputs give the same
    np.testing.assert_allclose(activation_maps(torch.tensor(S), torch.tensor(E), torch.tensor(T)), act)


def test_activation_maps_bilinear_upsampling_by_hand():
    act = activation_maps(S, E, T[:1], out_size=(4, 4))[0]
    # align_corners=False: output rows/cols sample source 0, 0.25, 0.75, 1 (edges clamped)
    expected = [[1, 0.875, 0.625, 0.5],
                [0.8125, 0.703125, 0.484375, 0.375],
                [0.4375, 0.359375, 0.203125, 0.125],
                [0.25, 0.1875, 0.0625, 0]]
    np.testing.assert_allclose(act, expected, atol=1e-6)


def test_activation_maps_shape_errors():
    with pytest.raises(CocuError, match="groups"):
        activation_maps(S, E[:1], T)
    with pytest.raises(CocuError, match="dim"):
        activation_maps(S, E, np.ones((3, 5)))
    with pytest.raises(CocuError, match="3 dimensions"):
        activation_maps(S[0], E, T)


def test_region_contrast_hand_values():
    act = np.array([[1.0, 0.5], [0.25, 0.0]])
    assert region_contrast(act, np.array([[1, 0], [0, 0]], bool)) == pytest.approx(1 - 0.75 / 3)
    assert region_contrast(act, np.array([[1, 1], [0, 0]], bool)) == pytest.approx(0.75 - 0.125)
    assert region_contrast(-act, np.array([[1, 1], [0, 0]], bool)) == pytest.approx(-0.625)
    with pytest.raises(CocuError, match="some but not all"):
        region_contrast(act, np.zeros((2, 2), bool))
    with pytest.raises(CocuError, match="some but not all"):
        region_contrast(act, np.ones((2, 2), bool))
    with pytest.raises(CocuError, match="shape"):
        region_contrast(act, np.ones((2, 3), bool))


def test_synonym_consistency_hand_values():
    x = np.array([[1.0, 2.0, 3.0]])
    y = np.array([[1.0, 3.0, 2.0]])
    # centred (-1, 0, 1) and (-1, 1, 0): dot 1, norms √2 · √2 -> 0.5
    assert synonym_consistency(np.stack([x, y])) == pytest.approx(0.5)
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    # pairs (a, 2a+1) = 1, (a, -a) = -1, (2a+1, -a) = -1 -> mean -1/3
    assert synonym_consistency(np.stack([a, 2 * a + 1, -a])) == pytest.approx(-1 / 3)
    assert synonym_consistency(np.stack([a, a])) == pytest.approx(1.0)
    assert math.isnan(synonym_consistency(np.stack([a, np.full((2, 2), 0.3)])))
    with pytest.raises(CocuError, match="S >= 2"):
        synonym_consistency(a[None])
    assert pearson(x, y) == pytest.approx(0.5)
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert math.isnan(pearson(a, np.zeros((2, 2))))


# ----------------------------------------------------------------------------- fake model

VOCAB = {}  # prompt text -> row of the fake text table


class FakeGroupViT(torch.nn.Module):
    """seg_maps/encode_image/encode_text with fixed outputs, following the models contract."""

    def __init__(self, seg, groups, text_table, image_size=8, patch_size=4):
        super().__init__()
        self.config = SimpleNamespace(image_size=image_size, patch_size=patch_size)
        self.register_buffer("seg", torch.tensor(seg, dtype=torch.float32))
        self.register_buffer("groups", torch.tensor(groups, dtype=torch.float32))
        self.register_buffer("table", torch.tensor(text_table, dtype=torch.float32))
        self.seen_shapes = []

    def encode_image(self, images, *, return_feat=False, return_attn=False):
        assert not self.training
        self.seen_shapes.append(tuple(images.shape))
        feat = self.groups[None].expand(images.shape[0], -1, -1)
        seg = self.seg[None].expand(images.shape[0], -1, -1, -1)
        return SimpleNamespace(image_x=feat.mean(1), image_feat=feat if return_feat else None,
                               seg_maps=lambda: seg)

    def encode_text(self, ids):
        return self.table[ids[..., 0]]


def fake_tokenize(texts):
    ids = torch.zeros(len(texts), 77, dtype=torch.long)
    for k, t in enumerate(texts):
        ids[k, 0] = VOCAB[t]
    return ids


@pytest.fixture
def fake_tok(monkeypatch):
    VOCAB.clear()
    VOCAB.update({"a photo of a dog.": 0, "a photo of a puppy.": 1, "a photo of a kuvasz.": 2,
                  "a photo of a grass.": 3, "a {dog}": 4, "the dog": 5})
    monkeypatch.setattr(heatmap, "_tokenize", fake_tokenize)


TABLE = [[1.0, 0.0],   # dog
         [2.0, 0.0],   # puppy: same direction as dog
         [-1.0, 0.0],  # kuvasz: opposite (a model that did not learn the synonym)
         [0.0, 1.0],   # grass
         [1.0, 0.0],   # template 1 of "dog"
         [0.0, 1.0]]   # template 2 of "dog"


def test_concept_activation_maps_wrapper(fake_tok):
    seg = [[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]  # group 0 = top half
    model = FakeGroupViT(seg, [[1.0, 0.0], [0.0, 1.0]], TABLE)
    model.train()
    img = np.zeros((8, 8, 3), np.uint8)
    maps = concept_activation_maps(model, img, ["dog", "grass"])
    assert model.seen_shapes == [(1, 3, 8, 8)]
    assert model.training  # restored
    assert maps.shape == (2, 8, 8)
    # [[1, 1], [0, 0]] upsampled ×4: rows sample 0, 0, .125, .375, .625, .875, 1, 1
    col = [1, 1, 0.875, 0.625, 0.375, 0.125, 0, 0]
    np.testing.assert_allclose(maps[0], np.repeat(np.array(col)[:, None], 8, 1), atol=1e-6)
    np.testing.assert_allclose(maps[1], 1 - maps[0], atol=1e-6)
    # two templates: (1,0) and (0,1) averaged and normalised -> (1/√2, 1/√2)
    both = concept_activation_maps(model, img, ["dog"], templates=["a {{{}}}", "the {}"])
    np.testing.assert_allclose(both[0], np.full((8, 8), R2), atol=1e-6)


def test_concept_activation_maps_non_square_image(fake_tok):
    model = FakeGroupViT(S, E, TABLE)
    maps = concept_activation_maps(model, np.zeros((10, 21, 3), np.uint8), ["dog"])
    # short side 10 -> 8; long side 21 * 0.8 = 16.8 -> 16 (multiple of the patch 4)
    assert model.seen_shapes == [(1, 3, 8, 16)]
    assert maps.shape == (1, 10, 21)


def test_compare_heatmaps_scores(fake_tok):
    seg = [[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]
    good = FakeGroupViT(seg, [[1.0, 0.0], [0.0, 1.0]], TABLE)   # dog on top, grass below
    flat = FakeGroupViT(seg, [[1.0, 1.0], [1.0, 1.0]], TABLE)   # every group the same
    mask = np.zeros((8, 8), int)
    mask[:4] = 1   # class 1 = dog region (top half)
    mask[4:] = 2   # class 2 = grass
    specs = [ConceptSpec("dog", ["puppy"], mask_class=1), ConceptSpec("kuvasz", ["dog"], 1),
             ConceptSpec("grass", [], mask_class=2)]
    res = compare_heatmaps({"good": good, "flat": flat}, np.zeros((8, 8, 3), np.uint8), specs, mask)
    assert res.concepts == ["dog", "kuvasz", "grass"]
    assert res.maps["good"].shape == (3, 8, 8)
    by = {(s.checkpoint, s.concept): s for s in res.scores}
    # upsampled top-half map: inside mean (1+1+.875+.625)/4 = .875, outside .125
    assert by["good", "dog"].region_contrast == pytest.approx(0.75)
    assert by["good", "dog"].synonym_consistency == pytest.approx(1.0)
    assert by["good", "kuvasz"].region_contrast == pytest.approx(-0.75)
    assert by["good", "kuvasz"].synonym_consistency == pytest.approx(-1.0)
    assert by["good", "grass"].region_contrast == pytest.approx(0.75)
    assert by["good", "grass"].synonym_consistency is None
    # other r: dog vs grass (1 - dog map) = -1; kuvasz (-dog) vs grass = +1; grass vs both: 0
    assert by["good", "dog"].other_consistency == pytest.approx(-1.0)
    assert by["good", "kuvasz"].other_consistency == pytest.approx(1.0)
    assert by["good", "grass"].other_consistency == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(by["flat", "grass"].other_consistency)
    assert by["flat", "dog"].region_contrast == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(by["flat", "dog"].synonym_consistency)  # constant maps
    assert by["good", "dog"].as_row()["synonyms"] == "puppy"


def test_compare_heatmaps_errors(fake_tok):
    model = FakeGroupViT(S, E, TABLE)
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(CocuError, match="no checkpoints"):
        compare_heatmaps({}, img, ["dog"])
    with pytest.raises(CocuError, match="no concepts"):
        compare_heatmaps({"a": model}, img, [])
    with pytest.raises(CocuError, match="mask shape"):
        compare_heatmaps({"a": model}, img, ["dog"], mask=np.zeros((4, 4), int))


def test_parse_concepts():
    specs = parse_concepts(" dog | puppy|kuvasz ,grass,, race car ")
    assert [(s.name, s.synonyms) for s in specs] == [("dog", ["puppy", "kuvasz"]), ("grass", []),
                                                      ("race car", [])]
    assert specs[0].names == ["dog", "puppy", "kuvasz"]
    with pytest.raises(CocuError, match="no concepts"):
        parse_concepts(" , ")


def test_cli_heatmap_compare_with_mask_and_vocab(tmp_path, monkeypatch, capsys, fake_tok):
    import json

    from PIL import Image

    from cocu import cli
    from cocu.cli import viz as commands

    VOCAB["a photo of a lawn."] = 3   # lawn = grass's embedding
    seg = [[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]]]
    models = {"a.pt": FakeGroupViT(seg, [[1.0, 0.0], [0.0, 1.0]], TABLE),
              "b.pt": FakeGroupViT(seg, [[0.0, 1.0], [1.0, 0.0]], TABLE)}   # names swapped
    monkeypatch.setattr(commands, "_load_model", lambda path, device: models[path])
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 1
    mask[4:] = 2
    Image.fromarray(mask).save(tmp_path / "mask.png")
    (tmp_path / "vocab.txt").write_text("dog, puppy\ngrass, lawn\n")
    out = tmp_path / "fig" / "hm.png"
    rc = cli.main(["heatmap", str(tmp_path / "img.png"), "--checkpoint", "a.pt", "--compare", "b.pt",
                   "--concepts", "dog, grass", "--mask", str(tmp_path / "mask.png"),
                   "--mask-class", "1,2", "--vocab", str(tmp_path / "vocab.txt"), "--out", str(out)])
    assert rc == 0
    assert out.is_file()
    rows = {(r["checkpoint"], r["concept"]): r for r in json.loads(out.with_suffix(".json").read_text())["scores"]}
    assert rows["a", "dog"]["region_contrast"] == pytest.approx(0.75)
    assert rows["b", "dog"]["region_contrast"] == pytest.approx(-0.75)
    assert rows["a", "grass"]["region_contrast"] == pytest.approx(0.75)
    assert rows["a", "dog"]["synonyms"] == "puppy"
    assert rows["a", "grass"]["synonym_consistency"] == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "+0.7500" in printed and "-0.7500" in printed


def test_cli_heatmap_user_errors(tmp_path, monkeypatch, capsys, fake_tok):
    from PIL import Image

    from cocu import cli
    from cocu.cli import viz as commands

    monkeypatch.setattr(commands, "_load_model", lambda path, device: FakeGroupViT(S, E, TABLE))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "mask.png")
    base = ["heatmap", str(tmp_path / "img.png"), "--checkpoint", "a", "--no-synonyms",
            "--out", str(tmp_path / "h.png")]
    assert cli.main(base + ["--concepts", "dog", "--mask", str(tmp_path / "mask.png")]) == 2
    assert "go together" in capsys.readouterr().err
    assert cli.main(base + ["--concepts", "dog", "--mask", str(tmp_path / "mask.png"),
                            "--mask-class", "4"]) == 2
    assert "no pixel of class 4" in capsys.readouterr().err
    assert cli.main(base + ["--concepts", "dog, grass", "--mask", str(tmp_path / "mask.png"),
                            "--mask-class", "0,0,0"]) == 2
    assert "3 ids for 2 concepts" in capsys.readouterr().err
