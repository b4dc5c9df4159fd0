"""The synthetic semantic-gap world: determinism, exact masks, caption statistics, output formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cocu.cli import main as cli_main
from cocu.data.shards import ShardStats, iter_samples, list_shards
from cocu.data.synth import generate_world, make_render_config, make_sample
from cocu.utils.voc_colours import voc_palette
from cocu.data.synth_captions import object_name_probability, stuff_name_probability
from cocu.data.synth_classes import OBJECT_CLASSES, STUFF_CLASSES
from cocu.data.synth_render import render_sample
from cocu.data.vocab import Vocabulary
from cocu.errors import CocuError

N_OBJ, N_STUFF = 12, 6


def test_render_is_deterministic_per_seed():
    cfg = make_render_config(64, seed=3)
    a = make_sample(cfg, 3, 0, 17, 0.8)
    b = make_sample(make_render_config(64, seed=3), 3, 0, 17, 0.8)
    c = make_sample(cfg, 3, 0, 18, 0.8)
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["mask"], b["mask"])
    assert a["caption"] == b["caption"] and a["meta"] == b["meta"]
    assert not np.array_equal(a["image"], c["image"])
    d = make_sample(cfg, 3, 1, 17, 0.8)  # the val stream differs from train
    assert not np.array_equal(a["image"], d["image"])


def test_mask_is_exact_where_objects_are_drawn():
    """With noise and jitter off, every object pixel of the mask shows one of its class's 2 colours."""
    cfg = make_render_config(64, seed=0, noise_std=0.0, color_jitter=0.0)
    rng = np.random.default_rng(0)
    n_checked = 0
    for _ in range(60):
        image, mask, meta = render_sample(rng, cfg)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8 and mask.shape == (64, 64)
        present_obj = sorted(set(np.unique(mask[mask < N_OBJ]).tolist()))
        assert present_obj == sorted(o["id"] for o in meta["objects"])
        assert 1 <= len(meta["objects"]) <= 3
        for o in meta["objects"]:
            sel = mask == o["id"]
            cols = image[sel]
            a, b = (np.array(c, np.uint8) for c in OBJECT_CLASSES[o["id"]].colors)
            ok = np.all(cols == a, axis=1) | np.all(cols == b, axis=1)
            assert ok.all(), o
            assert o["area"] == pytest.approx(sel.sum() / 64 ** 2)
            y0, x0, y1, x1 = o["box"]
            ys, xs = np.nonzero(sel)
            assert ys.min() >= y0 and ys.max() < y1 and xs.min() >= x0 and xs.max() < x1
            # objects span at least 2 patches (16 px) both ways, boxes at most 34 px
            assert 20 <= x1 - x0 <= 34 and y1 - y0 == x1 - x0
            assert xs.max() - xs.min() + 1 >= 16 and ys.max() - ys.min() + 1 >= 16
            n_checked += sel.sum()
        stuff_ids = sorted(np.unique(mask[mask >= N_OBJ]).tolist())
        assert stuff_ids == sorted(s + N_OBJ for s in meta["stuff_ids"])
        areas = [o["area"] for o in meta["objects"]]
        assert areas == sorted(areas, reverse=True)
    assert n_checked > 10000


def test_objects_do_not_touch():
    cfg = make_render_config(64, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(80):
        _, _, meta = render_sample(rng, cfg)
        boxes = [o["box"] for o in meta["objects"]]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                (ay0, ax0, ay1, ax1), (by0, bx0, by1, bx1) = boxes[i], boxes[j]
                apart = ay1 + 2 <= by0 or by1 + 2 <= ay0 or ax1 + 2 <= bx0 or bx1 + 2 <= ax0
                assert apart, (boxes[i], boxes[j])


def test_naming_probability_formula():
    # hand values: p1(q) = 0.12 + 0.73 q; p = p1 ** gap; q = (side - 0.31) / 0.22
    assert object_name_probability(0.31, 1.0) == pytest.approx(0.12)
    assert object_name_probability(0.20, 1.0) == pytest.approx(0.12)  # clipped
    assert object_name_probability(0.53, 1.0) == pytest.approx(0.85)
    assert object_name_probability(0.42, 0.5) == pytest.approx(0.485 ** 0.5)
    assert object_name_probability(0.30, 0.0) == 1.0 and stuff_name_probability(0.0) == 1.0
    assert stuff_name_probability(1.0) == pytest.approx(0.04)


def _samples(gap: float, n: int, seed: int = 0):
    cfg = make_render_config(64, seed=seed)
    return [make_sample(cfg, seed, 0, i, gap) for i in range(n)]


def test_gap_captions_name_salient_and_big_objects_more():
    samples = _samples(0.8, 700)
    named_by_size = {"small": [], "big": []}
    stuff_named = []
    for s in samples:
        objs = s["meta"]["objects"]
        assert objs[0]["class"] in s["named"]  # the most salient object is always named
        for o in objs[1:]:
            named_by_size["big" if o["side"] >= 0.42 * 64 else "small"].append(o["class"] in s["named"])
        stuff_named += [st in s["named"] for st in s["meta"]["stuff"]]
    small, big = np.mean(named_by_size["small"]), np.mean(named_by_size["big"])
    assert len(named_by_size["small"]) > 100 and len(named_by_size["big"]) > 50
    assert big > small + 0.2, (small, big)
    assert np.mean(stuff_named) == pytest.approx(stuff_name_probability(0.8), abs=0.03)


def test_gap_zero_names_everything():
    for s in _samples(0.0, 60):
        truth = [o["class"] for o in s["meta"]["objects"]] + s["meta"]["stuff"]
        assert sorted(s["named"]) == sorted(truth)


def test_caption_text_names_exactly_the_named_classes():
    """Read back with the world's own vocabulary: gap caption -> `named`, complete -> all classes."""
    groups = [c.synonyms for c in OBJECT_CLASSES[:N_OBJ] + STUFF_CLASSES[:N_STUFF]]
    vocab = Vocabulary(groups)
    for s in _samples(0.8, 200, seed=5):
        assert sorted(vocab.extract_names(s["caption"])) == sorted(s["named"]), s["caption"]
        truth = [o["class"] for o in s["meta"]["objects"]] + s["meta"]["stuff"]
        assert sorted(vocab.extract_names(s["caption_complete"])) == sorted(truth)


def test_world_files_and_shards(synth_world):
    out = synth_world.out
    shards = list_shards(out / "train")
    assert [p.name for p in shards] == ["00000.tar", "00001.tar", "00002.tar"]
    stats = ShardStats()
    samples = list(iter_samples(shards, stats=stats))
    assert stats.seen == 120 and stats.corrupt == 0 and len(samples) == 120
    assert samples[41].key == "000010001" and samples[0].key == "000000000"
    s = samples[0]
    assert s.image.size == (64, 64) and s.image.mode == "RGB"
    assert set(s.meta) >= {"classes", "caption_complete", "objects", "stuff", "named"}
    assert s.meta["classes"] == [o["class"] for o in s.meta["objects"]] + s.meta["stuff"]
    world = json.loads((out / "world.json").read_text())
    assert [c["name"] for c in world["classes"]] == synth_world.classes
    assert world["counts"] == {"train": 120, "val": 16, "shards": 3}
    # caption statistics recomputed from the shards
    per = world["caption_stats"]["per_class"]
    for name in ("dog", "sky"):
        present = sum(name in x.meta["classes"] for x in samples)
        named = sum(name in x.meta["named"] for x in samples)
        assert per[name]["present"] == present and per[name]["named"] == named
    vocab = Vocabulary.from_file(out / "vocab.txt")
    assert vocab.concepts == synth_world.classes
    assert vocab.synonyms(0) == ["dog", "puppy", "kuvasz"]


def test_benchmark_folders_read_with_plain_pil(synth_world):
    voc, ade = synth_world.voc_dir, synth_world.ade_dir
    keys = (voc / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert len(keys) == 16
    assert json.loads((voc / "classes.json").read_text()) == {
        "classes": synth_world.object_classes, "background": True}
    ade_meta = json.loads((ade / "classes.json").read_text())
    assert ade_meta["classes"] == synth_world.object_classes + synth_world.stuff_classes
    assert ade_meta["reduce_zero_label"] is True and ade_meta["background"] is False
    cfg = make_render_config(64, seed=0)
    for i, key in enumerate(keys[:8]):
        img = Image.open(voc / "JPEGImages" / f"{key}.jpg")
        assert img.size == (64, 64) and img.mode == "RGB"
        lab_img = Image.open(voc / "SegmentationClass" / f"{key}.png")
        assert lab_img.mode == "P" and lab_img.getpalette()[: 3 * 256] == voc_palette()
        voc_lab = np.array(lab_img)
        ade_lab = np.array(Image.open(ade / "annotations" / "validation" / f"{key}.png"))
        assert Image.open(ade / "images" / "validation" / f"{key}.jpg").size == (64, 64)
        mask = make_sample(cfg, 0, 1, i, 0.8)["mask"]  # val stream = split 1
        assert np.array_equal(ade_lab, mask + 1)  # 1..C, reduce_zero_label semantics
        obj = mask < N_OBJ
        assert np.array_equal(voc_lab[obj], mask[obj] + 1)
        # 255 exactly on the 1-px (8-neighbour) outer ring of objects, 0 elsewhere
        ring = np.zeros_like(obj)
        for y, x in zip(*np.nonzero(~obj)):
            ring[y, x] = obj[max(0, y - 1):y + 2, max(0, x - 1):x + 2].any()
        assert np.array_equal(voc_lab == 255, ring)
        assert np.all(voc_lab[~obj & ~ring] == 0)


def test_generate_world_is_byte_identical_and_worker_independent(tmp_path, synth_world):
    kw = dict(seed=0, num_train=80, num_val=4, shard_size=40)
    a = generate_world(tmp_path / "a", workers=1, **kw)
    b = generate_world(tmp_path / "b", workers=2, **kw)
    for pa, pb in zip(a.train_shards, b.train_shards):
        assert pa.read_bytes() == pb.read_bytes()
    # the first 80 samples equal the fixture world's (same seed, same shard size)
    assert a.train_shards[0].read_bytes() == synth_world.train_shards[0].read_bytes()
    c = generate_world(tmp_path / "c", seed=1, num_train=40, num_val=0, shard_size=40)
    assert c.train_shards[0].read_bytes() != a.train_shards[0].read_bytes()


def test_refuses_non_empty_output_and_bad_args(tmp_path):
    out = tmp_path / "w"
    out.mkdir()
    (out / "note.txt").write_text("mine")
    with pytest.raises(CocuError, match="not empty"):
        generate_world(out, num_train=2, num_val=1)
    generate_world(out, num_train=2, num_val=1, overwrite=True)
    assert (out / "note.txt").exists() and (out / "world.json").exists()
    with pytest.raises(CocuError, match="gap"):
        generate_world(tmp_path / "x", gap=1.5)
    with pytest.raises(CocuError, match="num_object_classes"):
        generate_world(tmp_path / "y", num_object_classes=99)


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = cli_main(["synth", "--out", str(out), "--seed", "2", "--num-train", "30", "--num-val", "3",
                   "--shard-size", "20", "--gap", "0", "--num-object-classes", "6",
                   "--num-stuff-classes", "4", "--workers", "1"])
    assert rc == 0
    assert sorted(p.name for p in (out / "train").iterdir()) == ["00000.tar", "00001.tar"]
    world = json.loads((out / "world.json").read_text())
    assert len(world["classes"]) == 10 and world["gap"] == 0.0
    assert world["caption_stats"]["stuff_named_rate"] == 1.0
    assert "wrote" in capsys.readouterr().out
    rc = cli_main(["synth", "--out", str(out), "--num-train", "2"])
    assert rc == 2 and "--overwrite" in capsys.readouterr().err
