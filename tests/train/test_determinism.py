"""The same command with the same seed gives the same log.jsonl at the default thread count.

Two separate `cocu train` processes (DataLoader workers, torch's default threads, the grounded
objective) must write byte-identical logs: that is the reproducibility claim in the README.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import TINY


def _run(shards: Path, model_json: Path, out: Path) -> bytes:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cmd = [sys.executable, "-m", "cocu", "train", "--shards", str(shards), "--out", str(out),
           "--model", str(model_json), "--prompts", "oracle", "--batch-size", "8", "--lr-batch", "8",
           "--samples", "48", "--epoch-samples", "48", "--workers", "2", "--log-every", "1",
           "--seed", "5", "--objective", "grounded"]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    return (out / "log.jsonl").read_bytes()


def test_same_seed_same_log_at_default_threads(synth_world_dir, tmp_path):
    model_json = tmp_path / "model.json"
    model_json.write_text(json.dumps({**TINY, "image_size": 64}))
    shards = Path(synth_world_dir) / "train"
    a = _run(shards, model_json, tmp_path / "a")
    b = _run(shards, model_json, tmp_path / "b")
    assert len(a.splitlines()) == 6
    assert a == b
