"""Reading webdataset shards (img2dataset layout: ``KEY.jpg``, ``KEY.txt``, optional ``KEY.json``).

Members are grouped by key (the file name up to its first dot, as webdataset does);
consecutive members with the same key form one sample. Corrupt samples — a truncated
tar member, an undecodable image, a missing caption or image, bad JSON — are skipped,
counted in :class:`ShardStats` and logged with their key; a shard that cannot be opened
or ends early is logged and counted too. Nothing is dropped silently.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from braceexpand import braceexpand
from PIL import Image

from cocu.errors import CocuError

log = logging.getLogger(__name__)

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
MAX_RECORDED_KEYS = 1000


@dataclass
class Sample:
    """One training sample; ``image`` is an RGB PIL image, or the raw bytes with ``decode=False``."""

    key: str
    image: Image.Image | bytes
    caption: str
    meta: dict[str, Any]
    shard: str  # path of the shard it came from


@dataclass
class ShardStats:
    """Counters filled in by :func:`iter_samples` (pass one in to read them afterwards)."""

    seen: int = 0  # samples encountered, corrupt ones included
    corrupt: int = 0  # samples skipped
    corrupt_shards: int = 0  # shards that could not be opened or ended early
    corrupt_keys: list[str] = field(default_factory=list)  # "shard:key: reason" (first 1000)

    @property
    def good(self) -> int:
        return self.seen - self.corrupt

    def _record(self, shard: str, key: str, reason: str) -> None:
        self.corrupt += 1
        if len(self.corrupt_keys) < MAX_RECORDED_KEYS:
            self.corrupt_keys.append(f"{shard}:{key}: {reason}")
        log.warning("skipping corrupt sample %s in %s: %s", key, shard, reason)


def list_shards(path_or_pattern: str | Path) -> list[Path]:
    """Shards named by a folder (its ``*.tar``), a file, a glob or a brace pattern, sorted.

    Raises CocuError when nothing matches.
    """
    spec = str(path_or_pattern)
    p = Path(spec)
    if p.is_dir():
        found = sorted(p.glob("*.tar"))
    else:
        found = []
        if Path(spec).is_file():  # a file name may hold '[', '{' or '*': it is not a pattern then
            return [Path(spec)]
        for pat in braceexpand(spec):
            if Path(pat).is_file():
                found.append(Path(pat))
            elif glob.has_magic(pat):
                found += [Path(x) for x in sorted(glob.glob(pat))]
        found = sorted(dict.fromkeys(found))
    if not found:
        raise CocuError(f"no .tar shards found at {spec!r} (give a folder, a glob or a brace pattern)")
    return found


def probe_shard(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a tar shard (``None`` when its first header reads).

    Cheap (one header block): run it over every shard before a long job starts, so that an
    unreadable shard is named up front instead of being met, and silently lost, mid-run.
    """
    path = Path(path)
    try:
        if not path.is_file():
            return "not a file"
        if path.stat().st_size == 0:
            return "empty file"
        with tarfile.open(path, mode="r|*") as tar:
            tar.next()
    except (OSError, tarfile.TarError, EOFError) as exc:
        return str(exc) or type(exc).__name__
    return None


def readable_shards(shards: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Split ``shards`` into the readable ones and ``"path: reason"`` for each unreadable one."""
    good, bad = [], []
    for shard in map(Path, shards):
        reason = probe_shard(shard)
        if reason is None:
            good.append(shard)
        else:
            bad.append(f"{shard}: {reason}")
    return good, bad


def shard_stem(shard: str | Path) -> str:
    """A shard's name up to its first dot (``00042.tar`` → ``00042``): embedding files and
    curation sidecars of the shard are named after it."""
    return Path(shard).name.split(".")[0]


def shard_split(shards: list[Path], index: int, num: int) -> list[Path]:
    """The shards process ``index`` of ``num`` handles (``--shard-index/--num-shards``): every num-th."""
    if num < 1 or not 0 <= index < num:
        raise CocuError(f"--shard-index must be in [0, --num-shards), got {index} of {num}")
    return list(shards[index::num])


def _split_name(name: str) -> tuple[str, str]:
    base = name.rsplit("/", 1)
    prefix = base[0] + "/" if len(base) == 2 else ""
    stem, _, ext = base[-1].partition(".")
    return prefix + stem, ext.lower()


def decode_image(data: bytes, min_side: int | None = None) -> Image.Image:
    """Encoded image bytes → RGB PIL image.

    ``min_side``: JPEGs are decoded at the smallest DCT scale (1, 1/2, 1/4, 1/8) that keeps both
    sides ≥ ``min_side`` (PIL ``draft``), several times faster for photos much larger than
    the training resolution; other formats and smaller images decode at full size.
    """
    with Image.open(io.BytesIO(data)) as im:
        if min_side:
            im.draft("RGB", (min_side, min_side))
        im.load()
        return im.convert("RGB")


def _build_sample(key: str, files: dict[str, bytes], shard: str, decode: bool,
                  stats: ShardStats) -> Sample | None:
    img_ext = next((e for e in IMAGE_EXTS if e in files), None)
    if img_ext is None:
        stats._record(shard, key, "no image member")
        return None
    if "txt" not in files:
        stats._record(shard, key, "no caption (.txt) member")
        return None
    try:
        caption = files["txt"].decode("utf-8").strip()
    except UnicodeDecodeError:
        stats._record(shard, key, "caption is not UTF-8")
        return None
    meta: dict[str, Any] = {}
    if "json" in files:
        try:
            meta = json.loads(files["json"])
        except (ValueError, UnicodeDecodeError) as exc:
            stats._record(shard, key, f"bad json ({exc})")
            return None
    image: Image.Image | bytes = files[img_ext]
    if decode:
        try:
            image = decode_image(files[img_ext])
        except Exception as exc:  # PIL raises many types for broken files
            stats._record(shard, key, f"undecodable image ({type(exc).__name__}: {exc})")
            return None
    return Sample(key=key, image=image, caption=caption, meta=meta, shard=shard)


def _iter_shard(path: Path, decode: bool, stats: ShardStats) -> Iterator[Sample]:
    shard = str(path)
    key: str | None = None
    files: dict[str, bytes] = {}
    try:
        tar = tarfile.open(path, mode="r|*")
    except (OSError, tarfile.TarError) as exc:
        stats.corrupt_shards += 1
        log.warning("skipping unreadable shard %s: %s", shard, exc)
        return
    with tar:
        try:
            for member in tar:
                if not member.isfile():
                    continue
                k, ext = _split_name(member.name)
                if k != key:
                    if key is not None:
                        stats.seen += 1
                        sample = _build_sample(key, files, shard, decode, stats)
                        if sample is not None:
                            yield sample
                    key, files = k, {}
                fh = tar.extractfile(member)
                files[ext] = fh.read() if fh is not None else b""
        except (OSError, tarfile.TarError, EOFError) as exc:
            stats.corrupt_shards += 1
            log.warning("shard %s ends early (%s)", shard, exc)
            if key is not None:
                stats.seen += 1
                stats._record(shard, key, f"truncated tar member ({exc})")
            return
    if key is not None:
        stats.seen += 1
        sample = _build_sample(key, files, shard, decode, stats)
        if sample is not None:
            yield sample


def iter_samples(shards: Iterable[str | Path], *, decode: bool = True,
                 stats: ShardStats | None = None) -> Iterator[Sample]:
    """Yield the good samples of ``shards`` in order; corrupt ones are skipped and counted in ``stats``."""
    stats = stats if stats is not None else ShardStats()
    for path in shards:
        yield from _iter_shard(Path(path), decode, stats)
