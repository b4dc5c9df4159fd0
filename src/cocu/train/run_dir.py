"""The run folder's integrity: never overwritten without ``--overwrite``, never mixed by a
resume with other settings, its ``log.jsonl`` readable after a kill.

Every check here runs before the first step (before ``config.json`` is written), so a refused
run leaves the folder exactly as it was.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from cocu.errors import CocuError
from cocu.utils.io import atomic_open, check_output

log = logging.getLogger(__name__)

RUN_ENTRIES = ("checkpoints", "log.jsonl", "summary.json", "config.json", "tb")
# settings that may change between the run and its resumption: they do not change what is
# trained (paths may move; workers change the data order, which the stream warns about)
RESUMABLE = frozenset({"out", "resume", "overwrite", "max_steps", "workers", "device", "log_every",
                       "save_every", "keep_checkpoints", "snapshot_every", "compile", "shards", "curation", "vocab"})


def _holds_run(run_dir: Path) -> list[str]:
    found = []
    for name in RUN_ENTRIES:
        p = run_dir / name
        if p.is_dir() and any(p.iterdir()) or p.is_file():
            found.append(name)
    return found


def prepare_run_dir(run_dir: str | Path, *, resume: str | None, overwrite: bool, main: bool = True) -> None:
    """Refuse to start a fresh run over an existing one unless ``overwrite`` (then its files —
    only the entries a run writes — are removed, by the main process)."""
    run_dir = check_output(run_dir, "dir", "run folder")
    if resume and overwrite:
        raise CocuError("--resume and --overwrite contradict each other (continue the run, or replace it)")
    existing = _holds_run(run_dir)
    if not existing or resume:
        return
    if not overwrite:
        raise CocuError(f"run folder {run_dir} already holds a run ({', '.join(existing)}); continue it "
                        "with --resume auto, replace it with --overwrite, or choose another --out")
    if main:
        log.warning("--overwrite: removing %s from %s", ", ".join(existing), run_dir)
        for name in existing:
            p = run_dir / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def check_resume_config(saved: dict[str, Any] | None, current: dict[str, Any], ckpt: str | Path,
                        defaults: dict[str, Any]) -> None:
    """CocuError listing every setting that differs between the checkpoint's run and this one.

    A resumed run must train what the checkpoint's run trained: the schedule, the model and the
    data recipe are fixed when a run starts. Settings in :data:`RESUMABLE` may change.
    Keys a checkpoint predates count as their default value.
    """
    if saved is None:
        raise CocuError(f"checkpoint {ckpt} does not record its training settings; cannot resume from it")
    diffs = []
    for key, value in current.items():
        if key in RESUMABLE:
            continue
        old = saved.get(key, defaults.get(key))
        if _norm(old) != _norm(value):
            diffs.append(f"{key}: checkpoint {old!r}, now {value!r}")
    if diffs:
        raise CocuError(f"cannot resume from {ckpt} with other settings ({'; '.join(diffs)}); resume with "
                        "the run's settings (see its config.json), or start a new run")


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in sorted(v.items())}
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of ``log.jsonl``; a torn or garbled line (a kill mid-write) is dropped with a warning."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            int(rec["step"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s line %d is torn or not a log record; dropping it: %.80r", path, n, line)
            continue
        records.append(rec)
    return records


def truncate_log(path: str | Path, step: int) -> None:
    """Keep the ``log.jsonl`` records up to ``step`` (the ones the resumed checkpoint had written)."""
    path = Path(path)
    if not path.is_file():
        return
    keep = [r for r in read_log(path) if int(r["step"]) <= step]
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in keep))
