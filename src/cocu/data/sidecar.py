"""The curation sidecar: the hand-over from ``cocu curate`` to ``cocu train``.

``CURATION_DIR/<shard stem>.parquet`` (one per training shard, keyed by sample key) with
columns ``key: string``, ``concepts: list<string>`` (canonical names, score order high → low),
``concept_ids: list<int32>``, ``s_a``, ``s_b``, ``score: list<float32>``,
``cluster: list<int32>`` (-1 when not clustered), ``n_refs: list<int32>``;
``CURATION_DIR/manifest.json`` records the settings, among them ``vocab_hash``
(:func:`cocu.data.vocab.vocab_hash` of the curation's vocabulary).
Curation writes through :func:`write_sidecar`; training reads one shard at a time with
:func:`read_sidecar` (memory: one shard), reports use :func:`load_curation` (all shards).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cocu.data.shards import shard_stem
from cocu.data.vocab import EXTRACTIONS, Vocabulary, vocab_hash
from cocu.errors import CocuError
from cocu.utils.io import atomic_path

MANIFEST = "manifest.json"

SCHEMA = pa.schema([
    ("key", pa.string()),
    ("concepts", pa.list_(pa.string())),
    ("concept_ids", pa.list_(pa.int32())),
    ("s_a", pa.list_(pa.float32())),
    ("s_b", pa.list_(pa.float32())),
    ("score", pa.list_(pa.float32())),
    ("cluster", pa.list_(pa.int32())),
    ("n_refs", pa.list_(pa.int32())),
])


@dataclass
class ConceptArchive:
    """One anchor's curated concept archive, sorted by score (high → low); arrays [|archive|]."""

    concepts: list[str]
    concept_ids: np.ndarray  # int32
    s_a: np.ndarray  # float32
    s_b: np.ndarray  # float32
    score: np.ndarray  # float32
    cluster: np.ndarray  # int32, -1 = not clustered
    n_refs: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.concepts)


def sidecar_path(curation_dir: str | os.PathLike, shard: str | os.PathLike) -> Path:
    """Where the sidecar of training shard ``shard`` lives: ``CURATION_DIR/<shard stem>.parquet``."""
    return Path(curation_dir) / f"{shard_stem(shard)}.parquet"


def _list_array(indptr: np.ndarray, values: np.ndarray, typ: pa.DataType) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(indptr.astype(np.int32)), pa.array(values, type=typ))


def write_sidecar(path: str | os.PathLike, keys: list[str], indptr: np.ndarray,
                  concept_ids: np.ndarray, s_a: np.ndarray, s_b: np.ndarray, score: np.ndarray,
                  cluster: np.ndarray, n_refs: np.ndarray, concept_names: list[str]) -> None:
    """Write one shard's sidecar atomically from CSR arrays (indptr [n + 1], the rest [P])."""
    names = np.asarray(concept_names, dtype=object)[concept_ids] if len(concept_ids) else []
    cols = [
        pa.array(keys, type=pa.string()),
        pa.ListArray.from_arrays(pa.array(indptr.astype(np.int32)),
                                 pa.array(list(names), type=pa.string())),
        _list_array(indptr, concept_ids.astype(np.int32), pa.int32()),
        _list_array(indptr, s_a.astype(np.float32), pa.float32()),
        _list_array(indptr, s_b.astype(np.float32), pa.float32()),
        _list_array(indptr, score.astype(np.float32), pa.float32()),
        _list_array(indptr, cluster.astype(np.int32), pa.int32()),
        _list_array(indptr, n_refs.astype(np.int32), pa.int32()),
    ]
    table = pa.Table.from_arrays(cols, schema=SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def sidecar_files(curation_dir: str | os.PathLike) -> list[Path]:
    """The sidecar parquet files of a curation folder (sorted); CocuError when there are none."""
    d = Path(curation_dir)
    if not d.is_dir():
        raise CocuError(f"curation folder {d} does not exist")
    files = sorted(p for p in d.glob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise CocuError(f"no curation sidecars (*.parquet) in {d}; run `cocu curate` first")
    return files


def read_manifest(curation_dir: str | os.PathLike) -> dict:
    """The settings a curation folder was made with (empty dict when there is no manifest)."""
    p = Path(curation_dir) / MANIFEST
    return json.loads(p.read_text()) if p.exists() else {}


def check_sidecar(path: str | os.PathLike) -> None:
    """CocuError unless ``path`` is a readable parquet file with every sidecar column
    (reads the footer only)."""
    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise CocuError(f"cannot read curation sidecar {path}: {exc}") from exc
    missing = set(SCHEMA.names) - set(names)
    if missing:
        raise CocuError(f"curation sidecar {path} lacks columns {sorted(missing)}")


def read_sidecar(path: str | os.PathLike) -> dict[str, ConceptArchive]:
    """One sidecar file: sample key → its :class:`ConceptArchive`."""
    check_sidecar(path)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types
        raise CocuError(f"cannot read curation sidecar {path}: {exc}") from exc
    flat = {}
    for name in SCHEMA.names[1:]:
        col = table.column(name).combine_chunks()
        flat[name] = (col.offsets.to_numpy(), col.values.to_numpy(zero_copy_only=False))
    indptr, names = flat["concept_ids"][0], flat["concepts"][1]
    out: dict[str, ConceptArchive] = {}
    for i, key in enumerate(table.column("key").to_pylist()):
        a, b = int(indptr[i]), int(indptr[i + 1])
        out[key] = ConceptArchive(
            concepts=[str(x) for x in names[a:b]],
            concept_ids=flat["concept_ids"][1][a:b].astype(np.int32),
            s_a=flat["s_a"][1][a:b].astype(np.float32),
            s_b=flat["s_b"][1][a:b].astype(np.float32),
            score=flat["score"][1][a:b].astype(np.float32),
            cluster=flat["cluster"][1][a:b].astype(np.int32),
            n_refs=flat["n_refs"][1][a:b].astype(np.int32),
        )
    return out


def load_curation(curation_dir: str | os.PathLike) -> dict[str, ConceptArchive]:
    """Every sample key of a curation folder → its archive (all shards in memory: for
    reports and tests; training reads one shard at a time)."""
    out: dict[str, ConceptArchive] = {}
    for f in sidecar_files(curation_dir):
        out.update(read_sidecar(f))
    return out


def check_vocabulary(curation_dir: str | os.PathLike, vocab: Vocabulary) -> None:
    """CocuError when the manifest's ``vocab_hash`` is not ``vocab``'s (under either
    extraction semantics: training does not extract); no check without a recorded hash."""
    manifest = read_manifest(curation_dir)
    recorded = manifest.get("vocab_hash")
    if not recorded or recorded in {vocab_hash(vocab, e) for e in EXTRACTIONS}:
        return
    raise CocuError(f"the curation {curation_dir} was made with another vocabulary "
                    f"({manifest.get('n_concepts', '?')} concepts, hash {recorded}) than this run's "
                    f"{vocab.source} ({len(vocab)} concepts, hash {vocab_hash(vocab)}); pass the "
                    "curation's vocabulary with --vocab")
