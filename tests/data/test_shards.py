"""Shard listing, splitting and reading, including corrupt input (counted, logged, never silent)."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cocu.data.shards import ShardStats, decode_image, iter_samples, list_shards, shard_split
from cocu.data.transforms import decode_side
from cocu.errors import CocuError


def _jpg(color=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="JPEG")
    return buf.getvalue()


def _write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A plain tar written with tarfile (independent of our webdataset writer)."""
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_list_shards_folder_glob_brace_and_errors(tmp_path):
    for i in range(4):
        _write_tar(tmp_path / f"{i:05d}.tar", [])
    (tmp_path / "notes.txt").write_text("x")
    names = lambda ps: [p.name for p in ps]  # noqa: E731
    assert names(list_shards(tmp_path)) == ["00000.tar", "00001.tar", "00002.tar", "00003.tar"]
    assert names(list_shards(str(tmp_path / "0000[13].tar"))) == ["00001.tar", "00003.tar"]
    assert names(list_shards(str(tmp_path / "{00000..00002}.tar"))) == ["00000.tar", "00001.tar", "00002.tar"]
    assert names(list_shards(tmp_path / "00002.tar")) == ["00002.tar"]
    with pytest.raises(CocuError, match="no .tar shards"):
        list_shards(tmp_path / "missing")
    with pytest.raises(CocuError, match="no .tar shards"):
        list_shards(tmp_path / "*.tgz")


def test_shard_split_partitions():
    shards = [Path(f"{i}.tar") for i in range(7)]
    parts = [shard_split(shards, i, 3) for i in range(3)]
    assert parts[0] == [Path("0.tar"), Path("3.tar"), Path("6.tar")]
    assert sorted(p for part in parts for p in part) == sorted(shards)
    assert shard_split(shards, 0, 1) == shards
    with pytest.raises(CocuError):
        shard_split(shards, 3, 3)
    with pytest.raises(CocuError):
        shard_split(shards, 0, 0)


def test_corrupt_samples_are_skipped_counted_and_logged(tmp_path, caplog):
    good = tmp_path / "00000.tar"
    _write_tar(good, [
        ("a0.jpg", _jpg()), ("a0.txt", b"a red square"), ("a0.json", json.dumps({"classes": ["x"]}).encode()),
        ("a1.jpg", b"this is not a jpeg"), ("a1.txt", b"broken image"),
        ("a2.jpg", _jpg()),  # no caption
        ("a3.txt", b"no image"),
        ("a4.jpg", _jpg((0, 0, 255))), ("a4.txt", "caf\u00e9 caption".encode()),
        ("a5.jpg", _jpg()), ("a5.txt", b"bad json"), ("a5.json", b"{not json"),
        ("a6.jpg", _jpg()), ("a6.txt", b"last good"),
    ])
    # a copy cut in the middle of its last members' data: a truncated tar member
    data = good.read_bytes()
    truncated = tmp_path / "00001.tar"
    cut = data.index(b"last good") - 700
    truncated.write_bytes(data[:cut])
    garbage = tmp_path / "00002.tar"
    garbage.write_bytes(b"\x00garbage" * 10)

    stats = ShardStats()
    with caplog.at_level(logging.WARNING, logger="cocu.data.shards"):
        samples = list(iter_samples([good], stats=stats))
    assert [s.key for s in samples] == ["a0", "a4", "a6"]
    assert (stats.seen, stats.corrupt, stats.good) == (7, 4, 3)
    assert samples[0].meta == {"classes": ["x"]} and samples[1].meta == {}
    assert samples[1].caption == "caf\u00e9 caption" and samples[1].image.getpixel((4, 4))[2] > 200
    for key in ("a1", "a2", "a3", "a5"):
        assert any(key in r.getMessage() for r in caplog.records), key
    assert any("a1" in k and "undecodable" in k for k in stats.corrupt_keys)

    stats = ShardStats()
    samples = list(iter_samples([truncated, garbage], stats=stats))
    assert [s.key for s in samples] == ["a0", "a4"]  # a5/a6 lie past the cut
    assert stats.corrupt_shards == 2
    # a1, a2, a3, a5 as before, and a6 whose image member the cut truncates
    assert (stats.seen, stats.corrupt) == (7, 5)
    assert stats.corrupt_keys[-1].endswith("a6: truncated tar member (unexpected end of data)")


def test_decode_false_returns_bytes(synth_world):
    s = next(iter_samples(synth_world.train_shards[:1], decode=False))
    assert isinstance(s.image, bytes) and s.image[:2] == b"\xff\xd8"
    assert s.shard == str(synth_world.train_shards[0]) and s.caption


def _encoded(size: tuple[int, int], fmt: str) -> bytes:
    """A smooth colour gradient (so reduced-size decoding is close to resizing) encoded as ``fmt``."""
    w, h = size
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    arr = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def test_decode_image_reduced_size_jpeg():
    data = _encoded((1024, 768), "JPEG")
    assert decode_image(data).size == (1024, 768)
    side = decode_side(224)  # ceil(224 / sqrt(0.9)) = 237: a 90 % crop of 237² is 224.8 px wide
    assert side == 237
    # 768 // 237 = 3 → the largest DCT scale ≤ 3 is 1/2
    small = decode_image(data, side)
    assert small.size == (512, 384) and small.mode == "RGB"
    full_resized = np.asarray(decode_image(data).resize((512, 384), Image.BILINEAR), dtype=float)
    assert np.abs(np.asarray(small, dtype=float) - full_resized).mean() < 1.0
    # never below the requested side; small images and other formats decode at full size
    assert decode_image(_encoded((300, 250), "JPEG"), side).size == (300, 250)
    assert decode_image(_encoded((1024, 768), "PNG"), side).size == (1024, 768)
