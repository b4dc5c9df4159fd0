"""Fixtures for training tests: tiny webdataset shards written here, a small GroupViT."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ["dog", "cat", "car", "tree", "sky", "road"]
SYNONYMS = {"dog": ["dog", "puppy"], "cat": ["cat", "kitty"], "car": ["car", "automobile"],
            "tree": ["tree"], "sky": ["sky"], "road": ["road", "street"]}
TINY = dict(image_size=32, patch_size=8, embed_dim=32, depths=[1, 1, 1], num_heads=[2, 2, 2],
            num_group_tokens=[8, 4, 0], num_output_groups=[8, 4], text_width=32, text_layers=1,
            text_heads=2, proj_hidden_dim=64, output_dim=32, drop_path_rate=0.0)


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def write_shards(root: Path, n_shards: int = 3, per_shard: int = 12, corrupt: tuple[str, ...] = (),
                 seed: int = 0, size: int = 40) -> Path:
    """``root/{00000..}.tar`` with jpg/txt/json samples; keys in ``corrupt`` get broken jpg bytes."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for s in range(n_shards):
        with tarfile.open(root / f"{s:05d}.tar", "w") as tf:
            for i in range(per_shard):
                key = f"{s:05d}{i:04d}"
                classes = list(rng.choice(CLASSES, size=int(rng.integers(1, 4)), replace=False))
                arr = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
                buf = io.BytesIO()
                Image.fromarray(arr).save(buf, format="JPEG")
                jpg = b"not a jpeg" if key in corrupt else buf.getvalue()
                caption = f"a photo of a {classes[0]}"
                _add(tf, f"{key}.jpg", jpg)
                _add(tf, f"{key}.txt", caption.encode())
                _add(tf, f"{key}.json", json.dumps({"classes": classes}).encode())
    (root / "vocab.txt").write_text("".join(", ".join(SYNONYMS[c]) + "\n" for c in CLASSES))
    return root


@pytest.fixture()
def shards(tmp_path: Path) -> Path:
    return write_shards(tmp_path / "shards", corrupt=("000010003",))
