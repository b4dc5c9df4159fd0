"""Shared pytest fixtures (tiny data made by the tests themselves)."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(2)

# The tiny synthetic world shared by all stages' tests: 3 shards x 40 samples, 16 val images.
TINY_WORLD = dict(seed=0, num_train=120, num_val=16, size=64, gap=0.8, shard_size=40)


@pytest.fixture(scope="session")
def synth_world(tmp_path_factory):
    """A tiny synthetic world (``cocu.data.synth.WorldInfo``), made once per test session.

    ``.out`` holds ``train/0000{0,1,2}.tar`` (40 samples each), ``voc_like/``, ``ade_like/``
    (16 images each), ``vocab.txt`` and ``world.json``. Treat it as read-only.
    """
    from cocu.data.synth import generate_world

    return generate_world(tmp_path_factory.mktemp("synth_world"), workers=1, **TINY_WORLD)


@pytest.fixture(scope="session")
def synth_world_dir(synth_world):
    """Path of the tiny synthetic world's folder."""
    return synth_world.out
