"""``cocu index``: a FAISS inner-product index over an embedding folder.

Exact search (``IndexFlatIP``) up to ``EXACT_LIMIT`` vectors; above that an approximate
factory chosen by size (an inverted file with ~2·sqrt(n) lists, 16 probes, and 4-bit
fast-scan product quantisation with d/8 sub-quantisers), trained on a sample. Its recall@N against exact search on a sample of
queries is measured and stored in the JSON sidecar ``<index>.json`` together with the
shard order that maps index ids to samples.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from cocu.curation.embstore import EmbeddingStore
from cocu.errors import CocuError
from cocu.utils.io import atomic_path, write_json
from cocu.utils.progress import progress

log = logging.getLogger(__name__)

EXACT_LIMIT = 1_000_000


def auto_factory(n: int, d: int) -> tuple[str, dict]:
    """The factory string and search parameters for ``n`` vectors of dimension ``d``."""
    if n <= EXACT_LIMIT:
        return "Flat", {}
    # ≈ 2·sqrt(n) lists (not the usual 4–16·sqrt(n)): k-means training and the coarse
    # assignment of every vector dominate on a 2-core CPU, and 16 probes keep recall up
    nlist = 2 ** round(math.log2(2 * math.sqrt(n)))
    m = d // 8 if d % 8 == 0 else d // 4
    return f"IVF{nlist},PQ{m}x4fs", {"nprobe": 16}


@dataclass
class IndexInfo:
    """What ``<index>.json`` records."""

    path: str
    factory: str
    params: dict
    modality: str
    n: int
    d: int
    emb_dir: str
    shards: list[list]  # [[stem, count], ...] in index id order
    recall: dict | None

    @classmethod
    def read(cls, index_path: str | os.PathLike) -> IndexInfo:
        p = Path(str(index_path) + ".json")
        if not Path(index_path).exists() or not p.exists():
            raise CocuError(f"index {index_path} (or its {p.name}) not found; run `cocu index` first")
        return cls(**json.loads(p.read_text()))


def default_index_path(emb_dir: str | os.PathLike, modality: str = "img") -> Path:
    return Path(emb_dir) / "index" / f"{modality}.index"


def load_index(index_path: str | os.PathLike) -> tuple[faiss.Index, IndexInfo]:
    """The FAISS index with its stored search parameters applied, and its info."""
    info = IndexInfo.read(index_path)
    index = faiss.read_index(str(index_path))
    apply_params(index, info.params)
    return index, info


def apply_params(index: faiss.Index, params: dict) -> None:
    ps = faiss.ParameterSpace()
    for k, v in params.items():
        ps.set_index_parameter(index, k, v)


def exact_knn(store: EmbeddingStore, queries: np.ndarray, k: int, modality: str = "img"
              ) -> np.ndarray:
    """Exact top-k inner-product ids of ``queries`` [q, d] over the whole store, streamed by shard."""
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    for stem, off in zip(store.stems, store.offsets[:-1]):
        x = np.ascontiguousarray(store.embeddings(stem, modality), dtype=np.float32)
        sims = q @ x.T
        kk = min(k, x.shape[0])
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        d = np.take_along_axis(sims, part, axis=1)
        pad = k - kk
        if pad:
            d = np.pad(d, ((0, 0), (0, pad)), constant_values=-np.inf)
            part = np.pad(part, ((0, 0), (0, pad)), constant_values=-1 - off)
        heap.add_result(np.ascontiguousarray(d, dtype=np.float32),
                        np.ascontiguousarray(part + off, dtype=np.int64))
    heap.finalize()
    return heap.I


def measure_recall(index: faiss.Index, store: EmbeddingStore, k: int, n_queries: int,
                   modality: str = "img", seed: int = 0) -> dict:
    """recall@k of ``index`` vs exact search, for random image queries from the store."""
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(store.total, size=min(n_queries, store.total), replace=False))
    queries = gather_rows(store, ids, "img")
    truth = exact_knn(store, queries, k, modality)
    _, got = index.search(queries, k)
    hit = [len(set(t[t >= 0].tolist()) & set(g[g >= 0].tolist())) / max(1, (t >= 0).sum())
           for t, g in zip(truth, got)]
    return {"at": k, "value": float(np.mean(hit)), "queries": len(ids)}


def gather_rows(store: EmbeddingStore, ids: np.ndarray, modality: str = "img") -> np.ndarray:
    """float32 rows of the given sorted global ids."""
    offs = store.offsets
    shard = np.searchsorted(offs, ids, side="right") - 1
    out = []
    for s in np.unique(shard):
        emb = store.embeddings(store.stems[s], modality)
        out.append(np.asarray(emb[ids[shard == s] - offs[s]], dtype=np.float32))
    return np.concatenate(out)


def build_index(emb_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                modality: str = "img", factory: str = "auto", recall_at: int = 8,
                recall_queries: int = 1000, train_size: int | None = None,
                params: dict | None = None, seed: int = 0) -> IndexInfo:
    """Build, save and describe an index over ``EMB_DIR/<modality>_emb``.

    factory: ``auto`` or any FAISS factory string (``Flat``, ``IVF4096,PQ64x4fs``,
    ``HNSW32``...). The index and its ``.json`` sidecar are written atomically.
    """
    if modality not in ("img", "text"):
        raise CocuError(f"modality must be img or text, got {modality!r}")
    store = EmbeddingStore.open(emb_dir, modality)
    n = store.total
    d = int(store.embeddings(store.stems[0], modality).shape[1])
    if factory == "auto":
        factory, auto_params = auto_factory(n, d)
        params = {**auto_params, **(params or {})}
    params = params or {}
    try:
        index = faiss.index_factory(d, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise CocuError(f"bad FAISS factory {factory!r}: {exc}") from exc
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        try:
            nlist = faiss.extract_index_ivf(index).nlist
        except RuntimeError:  # not an IVF index
            nlist = 0
        size = train_size or max(50_000, 40 * nlist)
        ids = np.sort(rng.choice(n, size=min(n, size), replace=False))
        log.info("training %s on %d vectors", factory, len(ids))
        index.train(gather_rows(store, ids, modality))
    for stem in progress(store.stems, desc=f"index {modality}", unit="shard"):
        index.add(np.ascontiguousarray(store.embeddings(stem, modality), dtype=np.float32))
    apply_params(index, params)
    path = Path(out) if out else default_index_path(emb_dir, modality)
    recall = None
    if recall_queries > 0:
        recall = ({"at": recall_at, "value": 1.0, "queries": 0, "exact": True} if factory == "Flat"
                  else measure_recall(index, store, recall_at, recall_queries, modality, seed))
        log.info("recall@%d = %.3f", recall_at, recall["value"])
    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))
    info = IndexInfo(str(path), factory, params, modality, n, d, str(Path(emb_dir).resolve()),
                     [[s, c] for s, c in zip(store.stems, store.counts)], recall)
    write_json(str(path) + ".json", info.__dict__)
    return info
