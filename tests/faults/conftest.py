"""Fault-injection fixtures: every fault is crafted here, from scratch, by the test that needs it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.train.conftest import TINY, write_shards  # noqa: F401  (re-exported for the fault tests)


def add_member(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def jpeg_bytes(seed: int = 0, size: int = 40) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG")
    return buf.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes): to prove nothing was lost or changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def model_json(tmp_path: Path) -> Path:
    from cocu.models import get_config

    path = tmp_path / "model.json"
    get_config("groupvit_tiny", **TINY).save_json(path)
    return path
