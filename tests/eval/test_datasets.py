"""Every benchmark loader on a tiny fixture in its real layout, and clear layout errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from cocu.errors import CocuError, DataLayoutError
from cocu.eval.datasets import BENCHMARKS, PAPER_BENCHMARKS, canonical_name, get_benchmark
from cocu.eval.datasets.real import decode_imagenet_s_label
from cocu.eval.protocol import PRESETS
from cocu.eval.transforms import downsample_large
from tests.eval import layouts

EXPECTED = {  # name: (num classes, background, ignore, reduce_zero_label, num images)
    "voc": (21, True, 255, False, 3),
    "context": (60, True, 255, False, 2),
    "context59": (59, False, 255, True, 2),
    "coco_object": (81, True, 255, False, 2),
    "coco_stuff": (171, False, 255, False, 2),
    "imagenet_s50": (51, True, 1000, False, 2),
    "imagenet_s300": (301, True, 1000, False, 2),
    "cityscapes": (19, False, 255, False, 2),
    "ade20k": (150, False, 255, True, 2),
    "voc_like": (4, True, 255, False, 3),
    "ade_like": (4, False, 255, True, 2),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_reads_its_layout(tmp_path, name):
    layouts.WRITERS[name](tmp_path)
    bench = get_benchmark(name, tmp_path)  # a parent folder of the dataset is fine
    n_cls, bg, ignore, rzl, n_img = EXPECTED[name]
    assert (bench.num_classes, bench.background, bench.ignore_index, bench.reduce_zero_label,
            len(bench)) == (n_cls, bg, ignore, rzl, n_img)
    assert bench.protocol in PRESETS
    assert len(bench.prompt_classes) == n_cls - bg
    for sample, image, label in bench:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert label.shape == image.shape[:2]
    assert len(bench.subset(1)) == 1


def test_voc_order_follows_split_and_palette_indices_are_read(tmp_path):
    base = layouts.write_voc(tmp_path)
    bench = get_benchmark("voc", base)  # the dataset folder itself works too
    assert [s.key for s in bench.samples] == ["2007_000033", "2007_000042", "2007_000061"]
    label = bench.load_label(bench.samples[0])
    assert set(np.unique(label)) <= {0, 1, 15, 20, 255}  # palette indices, not RGB
    assert bench.classes[11] == "table" and bench.classes[20] == "monitor"  # GroupViT names


def test_scan_order_is_sorted_by_relative_path(tmp_path):
    layouts.write_coco_object(tmp_path)
    bench = get_benchmark("coco_object", tmp_path)
    assert [s.key for s in bench.samples] == ["000000000139", "000000000285"]
    assert bench.samples[0].label.name == "000000000139_instanceTrainIds.png"
    layouts.write_cityscapes(tmp_path)
    city = get_benchmark("cityscapes", tmp_path)
    assert [s.key for s in city.samples] == ["frankfurt/frankfurt_000000_000294",
                                             "lindau/lindau_000000_000019"]


def test_imagenet_s_label_is_r_plus_256_g(tmp_path):
    layouts.write_imagenet_s(tmp_path, 300)
    bench = get_benchmark("imagenet_s300", tmp_path)
    label = bench.load_label(bench.samples[0])
    assert label.dtype == np.int32 and set(np.unique(label)) <= {0, 1, 2, 300, 1000}
    rgb = np.array([[[232, 3, 0], [44, 1, 9]]], dtype=np.uint8)  # 232 + 768 = 1000; 44 + 256 = 300
    assert decode_imagenet_s_label(Image.fromarray(rgb)).tolist() == [[1000, 300]]


def test_imagenet_s_large_images_are_downsampled(tmp_path):
    img = np.zeros((1200, 900, 3), np.uint8)
    assert downsample_large(img).shape == (1000, 750, 3)
    img = np.zeros((1000, 1001, 3), np.uint8)
    assert downsample_large(img).shape == (999, 1000, 3)  # int(1000 * 1000 / 1001)
    small = np.zeros((1000, 1000, 3), np.uint8)
    assert downsample_large(small) is small  # exactly 1000² is kept


def test_names_and_aliases():
    assert set(PAPER_BENCHMARKS) <= set(BENCHMARKS)
    assert canonical_name("PASCAL-VOC") == "voc" and canonical_name("imagenet-s-50") == "imagenet_s50"
    with pytest.raises(CocuError, match="unknown benchmark 'nope'"):
        canonical_name("nope")


# ------------------------------------------------------------------- malformed layouts

def test_missing_root(tmp_path):
    with pytest.raises(DataLayoutError, match="data root not found: .*nowhere"):
        get_benchmark("voc", tmp_path / "nowhere")


def test_wrong_folder_names_the_expected_places(tmp_path):
    (tmp_path / "VOC2012").mkdir()
    with pytest.raises(DataLayoutError, match="'SegmentationClass' folder in one of: .*VOCdevkit/VOC2012"):
        get_benchmark("voc", tmp_path)


def test_missing_split_file(tmp_path):
    base = layouts.write_voc(tmp_path)
    (base / "ImageSets/Segmentation/val.txt").unlink()
    with pytest.raises(DataLayoutError, match="file not found: .*ImageSets/Segmentation/val.txt"):
        get_benchmark("voc", tmp_path)


def test_missing_label_file_is_named(tmp_path):
    base = layouts.write_voc(tmp_path)
    (base / "SegmentationClass/2007_000042.png").unlink()
    with pytest.raises(DataLayoutError, match=r"1 label file\(s\) missing, e.g. .*2007_000042.png"):
        get_benchmark("voc", tmp_path)


def test_missing_image_folder(tmp_path):
    base = layouts.write_context(tmp_path)
    shutil.rmtree(base / "JPEGImages")
    with pytest.raises(DataLayoutError, match="PASCAL Context: folder not found: .*JPEGImages"):
        get_benchmark("context", tmp_path)


def test_empty_image_folder(tmp_path):
    base = layouts.write_ade20k(tmp_path)
    for p in (base / "images/validation").iterdir():
        p.unlink()
    with pytest.raises(DataLayoutError, match=r"no '\*.jpg' images under .*images/validation"):
        get_benchmark("ade20k", tmp_path)


def test_cityscapes_needs_label_train_ids(tmp_path):
    base = layouts.write_cityscapes(tmp_path)
    for p in (base / "gtFine").rglob("*_labelTrainIds.png"):
        p.rename(p.with_name(p.name.replace("labelTrainIds", "labelIds")))
    with pytest.raises(DataLayoutError, match="_gtFine_labelTrainIds.png"):
        get_benchmark("cityscapes", tmp_path)


def test_synthetic_layout_errors(tmp_path):
    base = layouts.write_voc_like(tmp_path)
    (base / "classes.json").write_text("{not json")
    with pytest.raises(DataLayoutError, match="classes.json is not valid JSON"):
        get_benchmark("synthetic", base)
    (base / "classes.json").write_text(json.dumps({"names": []}))
    with pytest.raises(DataLayoutError, match='needs a non-empty "classes" list'):
        get_benchmark("voc_like", base)
    (base / "classes.json").unlink()
    with pytest.raises(DataLayoutError, match="file not found: .*classes.json"):
        get_benchmark("voc_like", base)
    other = tmp_path / "empty"
    other.mkdir()
    with pytest.raises(DataLayoutError, match="neither a VOC-like benchmark"):
        get_benchmark("synthetic", other)


def test_synthetic_autodetect(tmp_path):
    assert get_benchmark("synthetic", layouts.write_voc_like(tmp_path)).name == "voc_like"
    bench = get_benchmark("synthetic", layouts.write_ade_like(tmp_path))
    assert bench.name == "ade_like" and bench.classes == ("circle", "square", "sky", "grass")


def test_synth_output_folder(tmp_path):
    layouts.write_voc_like(tmp_path)
    layouts.write_ade_like(tmp_path)
    assert get_benchmark("voc_like", tmp_path).name == "voc_like"
    assert get_benchmark("ade_like", tmp_path).name == "ade_like"
    with pytest.raises(DataLayoutError, match="several synthetic benchmarks; pass one of: .*voc_like"):
        get_benchmark("synthetic", tmp_path)
