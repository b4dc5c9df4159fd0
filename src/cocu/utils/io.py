"""Atomic file writing: a file appears complete under its final name or not at all.

Files get the permissions ``open()`` would give them (0666 minus the umask), not mkstemp's 0600.
A failed write (full or read-only disk, no permission) raises CocuError with one line naming the
file and the reason; nothing is left under the final name and the temporary file is removed.
Output paths are checked with :func:`check_output` before a long job computes anything.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cocu.errors import CocuError


def _umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_failure(path: str | os.PathLike, exc: BaseException) -> CocuError:
    """One-line CocuError for a failed write of ``path`` (disk full, read-only, permissions)."""
    path = Path(path)
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            reason += f" ({_free(path)} free)"
        return CocuError(f"cannot write {path}: {reason}")
    # writers in C++ (torch.save: 'inline_container.cc: unexpected pos', pyarrow) lose errno
    first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    return CocuError(f"cannot write {path}: {first} (disk full? {_free(path)} free)")


def _free(path: Path) -> str:
    for parent in (path, *path.parents):
        if parent.exists():
            try:
                n = shutil.disk_usage(parent).free
            except OSError:
                break
            return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.1f} GiB"
    return "unknown space"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Use for writers that want a file name (torch.save, pyarrow, numpy.save).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_failure(path, exc) from exc
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except (OSError, RuntimeError) as exc:  # the writer failed: full disk, I/O error
            if isinstance(exc, RuntimeError) and not _looks_like_io(exc):
                raise
            raise write_failure(path, exc) from exc
        try:
            os.chmod(tmp_path, 0o666 & ~_umask())
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            if path.is_dir():
                raise CocuError(f"cannot write {path}: it is a folder")
            os.replace(tmp_path, path)
        except OSError as exc:
            raise write_failure(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            if tmp_path.exists():
                tmp_path.unlink()


def _looks_like_io(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("unexpected pos", "write", "space", "i/o", "file"))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only when closed cleanly."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=False)
        fh.write("\n")


def check_output(path: str | os.PathLike, kind: str, what: str = "output") -> Path:
    """Check before computing that ``path`` can be written as a ``"file"`` or a ``"dir"``.

    CocuError (one line) when it exists as the other kind, when a parent is a file, or when the
    nearest existing folder is not writable (read-only disk, permissions). Creates nothing.
    """
    if kind not in ("file", "dir"):
        raise ValueError(kind)
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise CocuError(f"{what} {path} is an existing folder (give a file name)")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise CocuError(f"{what} {path} is an existing file (give a folder)")
    existing = path if path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CocuError(f"{what} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(existing) else "permission denied"
        raise CocuError(f"{what} {path} cannot be written: {existing} is not writable ({reason})")
    return path


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
