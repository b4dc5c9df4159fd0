"""Writing under faults (full or read-only disk, outputs that are folders/files), permissions,
shard names that look like patterns, numeric flags of every command, faiss log noise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cocu.cli import main
from cocu.errors import CocuError
from cocu.utils.io import atomic_path, check_output, write_json

from .conftest import write_shards

REPO_SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run_py(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO_SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.mark.parametrize("writer", ["checkpoint", "json", "npy"])
def test_full_disk_is_one_line_and_the_old_file_survives(tmp_path, writer):
    """RLIMIT_FSIZE makes writes past 64 KiB fail (EFBIG), as a full disk makes them fail (ENOSPC)."""
    target = tmp_path / f"out.{writer}"
    target.write_bytes(b"the previous, complete version")
    r = _run_py(f"""
        import resource, signal, sys
        import numpy as np, torch
        from cocu.errors import CocuError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        big = torch.zeros(100_000)
        try:
            if "{writer}" == "checkpoint":
                from cocu.train.checkpoint import save_checkpoint
                save_checkpoint({str(target)!r}, {{"model": {{"w": big}}}})
            elif "{writer}" == "json":
                from cocu.utils.io import write_json
                write_json({str(target)!r}, list(range(100_000)))
            else:
                from cocu.utils.io import atomic_path
                with atomic_path({str(target)!r}) as tmp, open(tmp, "wb") as fh:
                    np.save(fh, big.numpy())  # as cocu embed writes its .npy files
        except CocuError as exc:
            print("CocuError:", exc)
            sys.exit(2)
    """)
    assert r.returncode == 2, r.stderr[-2000:]
    line = r.stdout.strip()
    assert "\n" not in line and line.startswith(f"CocuError: cannot write {target}") and "free" in line
    assert target.read_bytes() == b"the previous, complete version"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder")
def test_unwritable_folder_is_refused_up_front(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(CocuError, match=r"is not writable \(permission denied\)"):
        check_output(locked / "run", "dir", "run folder")


def test_read_only_write_is_one_line(tmp_path, monkeypatch):
    import errno
    import tempfile

    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(CocuError) as exc:
        write_json(tmp_path / "x.json", {})
    assert str(exc.value) == f"cannot write {tmp_path / 'x.json'}: Read-only file system"


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        write_json(tmp_path / "a.json", {})
        with atomic_path(tmp_path / "b.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("a.json", "b.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_writing_onto_a_folder_is_refused(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(CocuError, match="existing folder"):
        check_output(tmp_path / "x.json", "file")
    with pytest.raises(CocuError, match="is a folder"):
        write_json(tmp_path / "x.json", {})


@pytest.mark.parametrize("name", ["a[1].tar", "b*.tar", "c{0}.tar", "d?.tar"])
def test_shard_names_that_look_like_patterns(tmp_path, name):
    from cocu.data.shards import list_shards

    write_shards(tmp_path / "w", n_shards=1, per_shard=2)
    shard = tmp_path / name
    (tmp_path / "w" / "00000.tar").rename(shard)
    assert list_shards(shard) == [shard]


@pytest.mark.parametrize("argv,flag", [
    (["train", "--shards", "S", "--out", "O", "--lr", "-1"], "--lr"),
    (["train", "--shards", "S", "--out", "O", "--epochs", "nan"], "--epochs"),
    (["train", "--shards", "S", "--out", "O", "--warmup", "-1"], "--warmup-epochs"),
    (["train", "--shards", "S", "--out", "O", "--samples", "0"], "--samples"),
    (["train", "--shards", "S", "--out", "O", "--max-steps", "0"], "--max-steps"),
    (["train", "--shards", "S", "--out", "O", "--logit-scale-lr", "0"], "--logit-scale-lr"),
])
def test_training_numbers_are_refused_before_anything(tmp_path, capsys, argv, flag):
    argv = [a.replace("S", str(tmp_path / "s")).replace("O", str(tmp_path / "o")) if len(a) == 1 else a
            for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cocu train: error: {flag} must be") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_batch_of_one_is_refused(tmp_path, capsys):
    shards = write_shards(tmp_path / "s", n_shards=1, per_shard=4)
    assert main(["train", "--shards", str(shards), "--out", str(tmp_path / "o"), "--batch-size", "1"]) == 2
    assert "global batch of 1; contrastive training needs at least 2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv,flag", [
    (["curate", "--emb", "E", "--out", "O", "--block-size", "0"], "--block-size"),
    (["curate", "--emb", "E", "--out", "O", "--neighbours", "0"], "--neighbours"),
    (["embed", "--shards", "S", "--out", "O", "--model", "m", "--batch-size", "0"], "--batch-size"),
    (["embed", "--shards", "S", "--out", "O", "--model", "m", "--num-shards", "0"], "--num-shards"),
    (["segment", "img.jpg", "--checkpoint", "c", "--labels", "a", "--short-side", "0"], "--short-side"),
    (["heatmap", "img.jpg", "--checkpoint", "c", "--concepts", "a", "--input-size", "-3"], "--input-size"),
    (["train-clip", "--shards", "S", "--out", "O", "--lr", "0"], "--lr"),
])
def test_numbers_of_other_commands_are_refused_by_the_parser(capsys, argv, flag):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "curate", "segment", "heatmap", "embed"])
def test_outputs_of_the_wrong_kind_are_refused_before_compute(tmp_path, capsys, command):
    existing_file = tmp_path / "taken"
    existing_file.write_text("precious")
    existing_dir = tmp_path / "taken_dir"
    existing_dir.mkdir()
    shards = write_shards(tmp_path / "s", n_shards=1, per_shard=4)
    argv = {
        "train": ["train", "--shards", str(shards), "--out", str(existing_file)],
        "curate": ["curate", "--emb", str(tmp_path), "--out", str(existing_file)],
        "segment": ["segment", str(tmp_path / "no.jpg"), "--checkpoint", "groupvit_tiny", "--labels", "a",
                    "--out", str(existing_file)],
        "heatmap": ["heatmap", str(tmp_path / "no.jpg"), "--checkpoint", "groupvit_tiny", "--concepts", "a",
                    "--out", str(existing_dir)],
        "embed": ["embed", "--shards", str(shards), "--out", str(existing_file), "--model", "nothing"],
    }[command]
    if command == "embed":  # the folder check comes before loading the model
        import cocu.curation.encoder as encoder

        orig = encoder.load_clip
        encoder.load_clip = lambda *a, **k: type("E", (), {"spec": {}, "dim": 2, "batch_size": 1})()
    try:
        assert main(argv) == 2
    finally:
        if command == "embed":
            encoder.load_clip = orig
    err = capsys.readouterr().err.strip()
    assert "existing file" in err or "existing folder" in err
    assert existing_file.read_text() == "precious" and not any(existing_dir.iterdir())


def test_faiss_loader_info_lines_are_quiet(capsys):
    import logging

    assert main(["index", "--emb", "/nonexistent"]) == 2
    assert logging.getLogger("faiss.loader").getEffectiveLevel() >= logging.WARNING
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("cocu index: error:")
