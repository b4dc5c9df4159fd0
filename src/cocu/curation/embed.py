"""``cocu embed``: CLIP image (and caption) embeddings of webdataset shards.

Per shard ``<stem>``: ``img_emb/<stem>.npy`` and ``text_emb/<stem>.npy`` (float16,
L2-normalised, [n, d]) and ``metadata/<stem>.parquet`` (``key``, ``caption``, and
``concept_ids`` when a vocabulary is given) — clip-retrieval's layout. The metadata is
written last, so a shard with metadata is complete; re-running skips it. Corrupt samples
are skipped and counted (``embed.json`` keeps the totals of the last run). A shard that cannot
be read, or yields no sample at all, gets no files (so a re-run tries it again) and is listed in
``EmbedResult.failed``; ``cocu embed`` then exits 2 after embedding the others.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cocu.curation.embstore import EMBED_INFO
from cocu.data.vocab import vocab_hash
from cocu.errors import CocuError
from cocu.utils.io import atomic_path, check_output, write_json
from cocu.utils.progress import progress

log = logging.getLogger(__name__)


@dataclass
class EmbedResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    samples: int = 0
    corrupt: int = 0  # samples skipped
    corrupt_shards: int = 0  # shards that ended early (their good samples are embedded)
    failed: list[str] = field(default_factory=list)  # "path: reason", shards left without files

    def last_run(self) -> dict[str, Any]:
        """The ``last_run`` record of ``embed.json``."""
        return {"shards": len(self.done), "samples": self.samples, "corrupt": self.corrupt,
                "corrupt_shards": self.corrupt_shards, "failed": self.failed}


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr)


def embed_shards(shards: list[Path], out_dir: str | os.PathLike, encoder, *, captions: bool = True,
                 vocab=None, batch_size: int = 256, shard_index: int = 0, num_shards: int = 1
                 ) -> EmbedResult:
    """Embed the shards assigned to this worker (every ``num_shards``-th from ``shard_index``)."""
    from cocu.data.shards import ShardStats, iter_samples, probe_shard, shard_split, shard_stem

    out = check_output(out_dir, "dir", "embedding folder")
    info_path = out / EMBED_INFO
    info = {"model": encoder.spec, "dim": encoder.dim, "captions": captions,
            "vocab_hash": vocab_hash(vocab) if vocab is not None else None}
    if info_path.exists():
        import json

        old = json.loads(info_path.read_text())
        clash = [k for k in ("model", "dim", "vocab_hash") if old.get(k) != info[k]]
        if clash:
            raise CocuError(f"{out} holds embeddings made with other settings ({', '.join(clash)}); "
                            "use another --out")
    else:
        write_json(info_path, info)
    result = EmbedResult()
    for shard in progress(shard_split(list(shards), shard_index, num_shards), desc="embed", unit="shard"):
        stem = shard_stem(shard)
        meta_path = out / "metadata" / f"{stem}.parquet"
        if meta_path.exists():
            result.skipped.append(stem)
            continue
        reason = probe_shard(shard)
        if reason is not None:
            log.warning("not embedding unreadable shard %s: %s", shard, reason)
            result.failed.append(f"{shard}: {reason}")
            continue
        stats = ShardStats()
        keys, caps, img_chunks, images = [], [], [], []
        for s in iter_samples([shard], stats=stats):
            keys.append(s.key)
            caps.append(s.caption)
            images.append(s.image)
            if len(images) == batch_size:
                img_chunks.append(encoder.encode_images(images))
                images = []
        if images:
            img_chunks.append(encoder.encode_images(images))
        result.corrupt += stats.corrupt
        result.corrupt_shards += stats.corrupt_shards
        if not keys:  # nothing to embed: leave it undone rather than mark an empty shard complete
            result.failed.append(f"{shard}: no readable sample ({stats.corrupt} corrupt)")
            continue
        d = encoder.dim
        img = np.concatenate(img_chunks) if img_chunks else np.zeros((0, d), np.float32)
        _save_npy(out / "img_emb" / f"{stem}.npy", _unit_f16(img))
        if captions:
            txt = encoder.encode_texts(caps) if caps else np.zeros((0, d), np.float32)
            _save_npy(out / "text_emb" / f"{stem}.npy", _unit_f16(txt))
        cols = {"key": pa.array(keys, pa.string()), "caption": pa.array(caps, pa.string())}
        if vocab is not None:
            cols["concept_ids"] = pa.array([vocab.extract(c) for c in caps], pa.list_(pa.int32()))
        with atomic_path(meta_path) as tmp:
            pq.write_table(pa.table(cols), tmp)
        result.done.append(stem)
        result.samples += len(keys)
    write_json(info_path, {**info, "last_run": result.last_run()})
    return result


def _unit_f16(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float16)
