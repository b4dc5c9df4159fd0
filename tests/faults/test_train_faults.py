"""`cocu train` under faults: unreadable shards (no hang), counters through workers, the run folder."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cocu.cli import main

from .conftest import add_member, snapshot, write_shards

pytestmark = pytest.mark.timeout(240)  # the hang this file guards against would otherwise spin forever


def _train(shards: Path, out: Path, model_json: Path, *extra: str) -> int:
    return main(["train", "--shards", str(shards), "--out", str(out), "--preset", "tiny", "--model",
                 str(model_json), "--batch-size", "4", "--samples", "16", "--epoch-samples", "16",
                 "--multi-label", "2", "--log-every", "1", *extra])


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


@pytest.mark.parametrize("layout", ["epoch_samples", "stats_json"])
def test_unreadable_shard_is_named_and_left_out_not_spun_on(tmp_path, model_json, caplog, layout):
    shards = write_shards(tmp_path / "s", n_shards=2, per_shard=12)
    (shards / "00001.tar").write_bytes(b"not a tar file " * 64)  # slot 1 of 2 would own only this one
    extra = ["--workers", "2"]
    if layout == "stats_json":  # img2dataset's counts: the shard itself is never opened to count
        for stem in ("00000", "00001"):
            (shards / f"{stem}_stats.json").write_text(json.dumps({"successes": 12}))
    rc = _train(shards, tmp_path / "run", model_json, *extra)
    assert rc == 0
    s = _summary(tmp_path / "run")
    assert s["steps"] == 4
    assert [u.split(":")[0] for u in s["extra"]["unreadable_shards"]] == [str(shards / "00001.tar")]
    assert "leaving out unreadable shard" in caplog.text
    assert caplog.text.count("skipping unreadable shard") == 0  # met once, up front, not per pass


def test_all_shards_unreadable_is_one_line_exit_2(tmp_path, model_json, capsys):
    shards = tmp_path / "s"
    shards.mkdir()
    (shards / "00000.tar").write_bytes(b"")
    (shards / "00001.tar").write_bytes(b"garbage" * 100)
    assert _train(shards, tmp_path / "run", model_json, "--workers", "0") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("cocu train: error: none of the 2 shard(s)") and "00000.tar: empty file" in err
    assert not (tmp_path / "run" / "config.json").exists()  # refused before anything was written


@pytest.mark.parametrize("fault", ["undecodable_images", "no_captions"])
def test_slot_without_one_usable_sample_stops_with_an_error(tmp_path, model_json, capsys, fault):
    """A shard that opens but yields nothing usable, owned alone by a worker: error, not a spin."""
    shards = write_shards(tmp_path / "s", n_shards=2, per_shard=12)
    with tarfile.open(shards / "00001.tar", "w") as tf:
        for i in range(6):
            key = f"00001{i:04d}"
            if fault == "undecodable_images":  # read fine, fail to decode (the decode-side counter)
                add_member(tf, f"{key}.jpg", b"\xff\xd8 not really a jpeg")
                add_member(tf, f"{key}.txt", b"a photo of a dog")
            else:  # no .txt: the shard reader skips every sample (the reader-side counter)
                add_member(tf, f"{key}.json", b"{}")
    rc = _train(shards, tmp_path / "run", model_json, "--workers", "2")
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "data slot 1 (rank 0, worker 1)" in err and "00001.tar" in err and "without one usable sample" in err


def _sidecar(path: Path, keys: list[str]) -> None:
    from cocu.data.sidecar import write_sidecar

    n = len(keys)
    write_sidecar(path, keys, np.arange(n + 1), np.zeros(n, np.int64), np.ones(n), np.ones(n), np.ones(n),
                  np.full(n, -1), np.ones(n), ["dog"])


@pytest.mark.parametrize("workers", [0, 2])
def test_missing_curation_is_counted_through_workers_and_warned(tmp_path, model_json, caplog, workers):
    """Shard 00000 fully curated, shard 00001's sidecar holds other keys: of the 24 samples drawn
    (one pass over both shards, with 0 or 2 workers), exactly the 12 of shard 00001 have no entry."""
    shards = write_shards(tmp_path / "s", n_shards=2, per_shard=12)
    cur = tmp_path / "cur"
    _sidecar(cur / "00000.parquet", [f"00000{i:04d}" for i in range(12)])
    _sidecar(cur / "00001.parquet", [f"x00001{i:04d}" for i in range(12)])
    rc = main(["train", "--shards", str(shards), "--out", str(tmp_path / "run"), "--preset", "tiny",
               "--model", str(model_json), "--batch-size", "4", "--samples", "24", "--epoch-samples", "24",
               "--multi-label", "2", "--workers", str(workers), "--prompts", "curated", "--curation", str(cur)])
    assert rc == 0
    s = _summary(tmp_path / "run")
    assert s["samples_seen"] == 24 and s["extra"]["missing_curation"] == 12
    assert "12 sample draws had no entry in the curation" in caplog.text


def test_curation_covering_no_training_shard_is_refused(tmp_path, model_json, capsys):
    shards = write_shards(tmp_path / "s", n_shards=2, per_shard=12)
    _sidecar(tmp_path / "cur" / "99999.parquet", ["999990000"])
    rc = _train(shards, tmp_path / "run", model_json, "--workers", "2", "--prompts", "curated",
                "--curation", str(tmp_path / "cur"))
    assert rc == 2
    assert "covers none of the 2 training shards" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One finished run shared by the tests below; each proves it left the run untouched."""
    from cocu.models import get_config

    from .conftest import TINY

    root = tmp_path_factory.mktemp("finished")
    get_config("groupvit_tiny", **TINY).save_json(root / "model.json")
    shards = write_shards(root / "s", n_shards=2, per_shard=12)
    run = root / "run"
    assert _train(shards, run, root / "model.json", "--workers", "0", "--save-every", "2") == 0
    return shards, run, root / "model.json"


def test_finished_run_is_never_overwritten_without_overwrite(finished_run, tmp_path, capsys):
    import shutil

    shards, original, model_json = finished_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    before = snapshot(run)
    assert _train(shards, run, model_json, "--workers", "0") == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume auto" in err and "--overwrite" in err
    assert snapshot(run) == before  # not a byte changed
    assert _train(shards, run, model_json, "--workers", "0", "--resume", "auto", "--overwrite") == 2
    assert snapshot(run) == before
    assert _train(shards, run, model_json, "--workers", "0", "--overwrite", "--seed", "7") == 0
    assert json.loads((run / "config.json").read_text())["seed"] == 7
    assert [r["step"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())] == [1, 2, 3, 4]


@pytest.mark.parametrize("change", [["--lr", "0.01"], ["--preset", "gcc_yfcc_30e"], ["--multi-label", "3"]])
def test_resume_with_other_settings_is_refused_before_config_json(finished_run, capsys, change):
    shards, run, model_json = finished_run
    before = snapshot(run)
    args = ["train", "--shards", str(shards), "--out", str(run), "--preset", "tiny", "--model", str(model_json),
            "--batch-size", "4", "--samples", "16", "--epoch-samples", "16", "--multi-label", "2",
            "--log-every", "1", "--workers", "0", "--resume", "auto"]
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i:i + 2]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume from" in err[0] and "checkpoint" in err[0]
    assert snapshot(run) == before  # config.json still names the run's real settings


class Killed(Exception):
    pass


def _killed_run(shards: Path, run: Path, model_json: Path, at: int) -> None:
    from cocu.train.config import make_config
    from cocu.train.loop import train

    from .conftest import TINY

    cfg = make_config("tiny", shards=str(shards), out=str(run), model="groupvit_tiny", model_overrides=TINY,
                      batch_size=4, samples=20, epoch_samples=16, multi_label=2, log_every=1, save_every=2,
                      workers=0)

    def kill(step, _):
        if step == at:
            raise Killed

    with pytest.raises(Killed):
        train(cfg, on_step=kill)
    return cfg


def test_torn_log_line_and_all_corrupt_checkpoints(tmp_path):
    from cocu.train.loop import train

    shards = write_shards(tmp_path / "s", n_shards=2, per_shard=12)
    run = tmp_path / "run"
    cfg = _killed_run(shards, run, tmp_path / "m.json", at=3)
    with open(run / "log.jsonl", "a") as fh:  # killed mid-write: half a record, no newline
        fh.write('{"step": 4, "loss": 1.2')
    cfg.resume = "auto"
    res = train(cfg)  # resumes from last.pt at step 2
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert res.resumed_from.endswith("last.pt") and steps == [1, 2, 3, 4, 5]
    # every checkpoint corrupt: a fresh start, whose log does not repeat steps
    for p in (run / "checkpoints").glob("*.pt"):
        p.write_bytes(p.read_bytes()[:100])
    res = train(cfg)
    steps = [json.loads(ln)["step"] for ln in (run / "log.jsonl").read_text().splitlines()]
    assert res.resumed_from is None and steps == [1, 2, 3, 4, 5]
