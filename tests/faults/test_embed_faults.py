"""`cocu embed` under faults: an unreadable or empty shard is never marked done."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from cocu.cli import main

from .conftest import add_member, snapshot, write_shards


class FakeEncoder:
    """Stands in for the CLIP: a fixed 4-d embedding per image (mean colour + 1)."""

    spec = {"kind": "fake"}
    dim = 4
    batch_size = 8

    def encode_images(self, images):
        return np.stack([np.r_[np.asarray(im, np.float32).mean((0, 1)), 1.0] for im in images])

    def encode_texts(self, texts):
        return np.stack([[len(t), 1.0, 0.0, 0.0] for t in texts]).astype(np.float32)


@pytest.fixture()
def fake_clip(monkeypatch):
    import cocu.curation.encoder as encoder

    monkeypatch.setattr(encoder, "load_clip", lambda *a, **k: FakeEncoder())


def _shards(tmp_path):
    shards = write_shards(tmp_path / "s", n_shards=4, per_shard=5)
    (shards / "00001.tar").write_bytes(b"")  # empty file
    (shards / "00002.tar").write_bytes(b"\x00garbage" * 50)  # not a tar
    with tarfile.open(shards / "00003.tar", "w") as tf:  # a tar with no usable sample
        add_member(tf, "000030000.jpg", b"broken")
        add_member(tf, "000030000.txt", b"a dog")
    return shards


def test_unreadable_and_empty_shards_stay_undone_and_exit_2(tmp_path, fake_clip, capsys):
    shards = _shards(tmp_path)
    out = tmp_path / "emb"
    args = ["embed", "--shards", str(shards), "--out", str(out), "--model", "fake", "--captions"]
    assert main(args) == 2
    cap = capsys.readouterr()
    assert "embedded 1 shards (5 samples, 1 corrupt skipped" in cap.out and "3 failed" in cap.out
    err = cap.err.strip().splitlines()[-1]
    assert err.startswith("cocu embed: error: 3 shard(s) not embedded")
    assert "00001.tar: empty file" in err and "00002.tar" in err and "00003.tar: no readable sample" in err
    # only the good shard has files; no empty .npy that a re-run would take as done
    for sub in ("img_emb", "text_emb", "metadata"):
        assert sorted(p.stem for p in (out / sub).iterdir()) == ["00000"]
    assert json.loads((out / "embed.json").read_text())["last_run"]["failed"][0].endswith("empty file")
    done = snapshot(out / "metadata")

    # the re-run retries the failed shards (and keeps the done one as it was)
    assert main(args) == 2
    assert "1 already done; 3 failed" in capsys.readouterr().out
    assert snapshot(out / "metadata") == done
    # once a shard is fixed, the re-run embeds it
    write_shards(tmp_path / "fixed", n_shards=2, per_shard=5)
    (shards / "00001.tar").write_bytes((tmp_path / "fixed" / "00001.tar").read_bytes())
    assert main(args) == 2
    assert "embedded 1 shards (5 samples" in capsys.readouterr().out
    assert (out / "metadata" / "00001.parquet").is_file()
    assert np.load(out / "img_emb" / "00001.npy").shape == (5, 4)


def test_embed_output_that_is_a_file_is_refused(tmp_path, fake_clip, capsys):
    shards = write_shards(tmp_path / "s", n_shards=1, per_shard=3)
    (tmp_path / "emb").write_text("precious")
    assert main(["embed", "--shards", str(shards), "--out", str(tmp_path / "emb"), "--model", "fake"]) == 2
    assert "is an existing file" in capsys.readouterr().err
    assert (tmp_path / "emb").read_text() == "precious"
