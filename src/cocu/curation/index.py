"""``cocu index``: a FAISS inner-product index (or the corpus's kNN graph) over an embedding folder.

``--factory auto`` chooses from the corpus size, the dimension and a memory budget
(``auto_factory``): exact search (``Flat``) up to ``EXACT_LIMIT`` vectors; above that an
inverted file with ~4·sqrt(n) lists whose codes are the stored float16 vectors
(``SQfp16``: distances inside a probed list are exact, so recall is bounded by the probes
only), ``SQ8`` when that does not fit the budget, 4-bit fast-scan PQ when neither does.
With a ``target_recall`` the search depth (``nprobe`` / ``efSearch``) is then *tuned*:
recall@N against exact search is measured on tuning queries for depths 1, 2, 4, ... until
the target is met, and the chosen depth is measured again on held-out queries. Both
measurements go into the sidecar ``<index>.json`` with the shard order that maps index ids
to samples; a target that cannot be met within the budget is recorded and warned about.

``--graph``: instead of a searchable index, the corpus's own kNN graph (``knngraph``),
which is what vision-driven curation of the corpus by itself needs; its ``nprobe`` is chosen
from the recall predicted on tuning queries and its recall measured on held-out ones.
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

from cocu.curation import knngraph
from cocu.curation.embstore import EmbeddingStore
from cocu.errors import CocuError
from cocu.utils.io import atomic_path, write_json
from cocu.utils.progress import progress

log = logging.getLogger(__name__)

EXACT_LIMIT = 200_000  # exact search of the corpus by itself: 2·n²·d FLOP, ≈ 5 min at 200k
GRAPH = "knn-graph"  # the factory name recorded for a kNN graph
DEPTHS = {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
          "efSearch": [16, 32, 64, 128, 256, 512, 1024, 2048]}


def auto_factory(n: int, d: int, memory_gb: float = 16.0) -> tuple[str, dict]:
    """The factory string and starting search parameters for ``n`` vectors of dimension ``d``
    within ``memory_gb`` of index memory."""
    if n <= EXACT_LIMIT and n * d * 4 <= memory_gb * 2**30:
        return "Flat", {}
    nlist = max(1, 2 ** round(math.log2(4 * math.sqrt(n))))
    nlist = min(nlist, max(1, n // 39))  # faiss wants ≥ 39 training vectors per list
    per_vec = {"SQfp16": 2 * d + 8, "SQ8": d + 8}
    for code, size in per_vec.items():
        if n * size * 1.1 <= memory_gb * 2**30:
            return f"IVF{nlist},{code}", {"nprobe": 16}
    m = d // 2 if d % 2 == 0 else d
    return f"IVF{nlist},PQ{m}x4fs", {"nprobe": 16}


def graph_memory_gb(n: int, d: int, k: int) -> float:
    """Peak memory of ``build_graph``: the vectors three times (float16 input, float16 and
    bf16 copies in list order) and the graph (int32 ids + float32 similarities)."""
    return (3 * n * d * 2 + n * k * 8) / 2**30


@dataclass
class IndexInfo:
    """What ``<index>.json`` records.

    recall: recall@``at`` on held-out queries (``{"at", "value", "queries"}``);
    tuning: how the search depth was chosen (target, depth → recall on tuning queries,
    whether the target was met), None when it was not tuned.
    """

    path: str
    factory: str
    params: dict
    modality: str
    n: int
    d: int
    emb_dir: str
    shards: list[list]  # [[stem, count], ...] in index id order
    recall: dict | None
    tuning: dict | None = None

    @classmethod
    def read(cls, index_path: str | os.PathLike) -> IndexInfo:
        p = Path(str(index_path) + ".json")
        if not Path(index_path).exists() or not p.exists():
            raise CocuError(f"index {index_path} (or its {p.name}) not found; run `cocu index` first")
        return cls(**json.loads(p.read_text()))


def default_index_path(emb_dir: str | os.PathLike, modality: str = "img", graph: bool = False) -> Path:
    return Path(emb_dir) / "index" / (f"{modality}.knn.npy" if graph else f"{modality}.index")


@dataclass
class KnnGraph:
    """A precomputed kNN graph of the corpus: ``ids`` int32 [n, k], best first (-1 = none)."""

    ids: np.ndarray

    @property
    def ntotal(self) -> int:
        return int(self.ids.shape[0])

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])

    def neighbours(self, rows: np.ndarray, k: int) -> np.ndarray:
        """int64 [len(rows), k]: the first k neighbours of the given corpus rows."""
        if k > self.k:
            raise CocuError(f"the kNN graph holds {self.k} neighbours per image, {k} asked; "
                            f"rebuild it with `cocu index --graph --recall-at {k}`")
        return np.asarray(self.ids[rows, :k], dtype=np.int64)


def load_index(index_path: str | os.PathLike) -> tuple[faiss.Index | KnnGraph, IndexInfo]:
    """The FAISS index with its stored search parameters applied (or the kNN graph), and its info."""
    info = IndexInfo.read(index_path)
    if info.factory == GRAPH:
        return KnnGraph(np.load(index_path, mmap_mode="r")), info
    index = faiss.read_index(str(index_path))
    apply_params(index, info.params)
    return index, info


def apply_params(index: faiss.Index, params: dict) -> None:
    ps = faiss.ParameterSpace()
    for k, v in params.items():
        ps.set_index_parameter(index, k, v)


def exact_knn(store: EmbeddingStore, queries: np.ndarray, k: int, modality: str = "img"
              ) -> np.ndarray:
    """Exact top-k inner-product ids of ``queries`` [q, d] over the whole store, streamed by
    shard (float32 GEMMs; -1 where the store has fewer than k rows)."""
    import torch

    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    best_s = torch.full((len(q), k), -torch.inf)
    best_i = torch.full((len(q), k), -1, dtype=torch.int64)
    for stem, off in zip(store.stems, store.offsets[:-1]):
        x = torch.from_numpy(np.ascontiguousarray(store.embeddings(stem, modality), dtype=np.float32))
        if not len(x):
            continue
        sims = torch.cat([best_s, q @ x.T], 1)
        ids = torch.cat([best_i, torch.arange(len(x), dtype=torch.int64).expand(len(q), -1) + int(off)], 1)
        best_s, pos = torch.topk(sims, k, dim=1)
        best_i = torch.gather(ids, 1, pos)
    return best_i.numpy()


@dataclass
class QuerySample:
    """Corpus rows used as queries, with their exact top-k neighbours."""

    ids: np.ndarray  # int64 [q] sorted global ids
    vectors: np.ndarray  # float32 [q, d]
    truth: np.ndarray  # int64 [q, k]

    @classmethod
    def draw(cls, store: EmbeddingStore, k: int, n_queries: int, modality: str = "img",
             seed: int = 0, exclude: np.ndarray | None = None) -> QuerySample:
        """``n_queries`` random image rows (none of ``exclude``) and their exact neighbours."""
        rng = np.random.default_rng(seed)
        pool = np.arange(store.total) if exclude is None else np.setdiff1d(np.arange(store.total), exclude)
        ids = np.sort(rng.choice(pool, size=min(n_queries, len(pool)), replace=False))
        vectors = gather_rows(store, ids, "img") if len(ids) else np.zeros((0, 1), np.float32)
        truth = exact_knn(store, vectors, k, modality) if len(ids) else np.zeros((0, k), np.int64)
        return cls(ids, vectors, truth)

    def recall(self, got: np.ndarray) -> dict:
        return {"at": int(self.truth.shape[1]), "value": knngraph.recall_at(self.truth, got),
                "queries": len(self.ids)}


def gather_rows(store: EmbeddingStore, ids: np.ndarray, modality: str = "img") -> np.ndarray:
    """float32 rows of the given sorted global ids."""
    offs = store.offsets
    shard = np.searchsorted(offs, ids, side="right") - 1
    out = []
    for s in np.unique(shard):
        emb = store.embeddings(store.stems[s], modality)
        out.append(np.asarray(emb[ids[shard == s] - offs[s]], dtype=np.float32))
    return np.concatenate(out)


def _depth_param(factory: str) -> str | None:
    if "HNSW" in factory:
        return "efSearch"
    if factory.startswith("IVF") or ",IVF" in factory:
        return "nprobe"
    return None


def _open_store(emb_dir, modality: str) -> tuple[EmbeddingStore, int, int]:
    if modality not in ("img", "text"):
        raise CocuError(f"modality must be img or text, got {modality!r}")
    store = EmbeddingStore.open(emb_dir, modality)
    n = store.total
    d = int(store.embeddings(store.stems[0], modality).shape[1])
    if n == 0:
        raise CocuError(f"{emb_dir} holds no {modality} vectors (all {len(store.stems)} shards are "
                        "empty); nothing to index")
    return store, n, d


def tune_depth(index: faiss.Index, factory: str, params: dict, tune: QuerySample,
               target: float) -> tuple[dict, dict]:
    """Raise ``nprobe`` / ``efSearch`` from the smallest value until recall on the tuning
    queries reaches ``target``; returns (params, tuning record)."""
    name = _depth_param(factory)
    if name is None:
        return params, {"target": target, "param": None, "curve": {}, "met": None}
    limit = faiss.extract_index_ivf(index).nlist if name == "nprobe" else max(DEPTHS[name])
    curve, chosen = {}, None
    for depth in [v for v in DEPTHS[name] if v <= limit] or [limit]:
        apply_params(index, {**params, name: depth})
        curve[depth] = tune.recall(index.search(tune.vectors, tune.truth.shape[1])[1])["value"]
        log.info("%s = %d: recall@%d = %.4f on %d tuning queries", name, depth, tune.truth.shape[1],
                 curve[depth], len(tune.ids))
        chosen = depth
        if curve[depth] >= target:
            break
    met = curve[chosen] >= target
    params = {**params, name: chosen}
    apply_params(index, params)
    return params, {"target": target, "param": name, "curve": curve, "met": met,
                    "queries": len(tune.ids)}


def build_index(emb_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                modality: str = "img", factory: str = "auto", recall_at: int = 8,
                recall_queries: int = 1000, train_size: int | None = None,
                params: dict | None = None, target_recall: float | None = None,
                memory_gb: float = 16.0, seed: int = 0) -> IndexInfo:
    """Build, save and describe an index over ``EMB_DIR/<modality>_emb``.

    factory: ``auto`` or any FAISS factory string (``Flat``, ``IVF4096,SQfp16``,
    ``HNSW32``...). target_recall: tune the search depth until recall@``recall_at`` on
    ``recall_queries`` tuning queries reaches it (then measure on as many held-out ones).
    The index and its ``.json`` sidecar are written atomically.
    """
    store, n, d = _open_store(emb_dir, modality)
    if target_recall is not None and not 0 < target_recall <= 1:
        raise CocuError(f"--target-recall must be in (0, 1], got {target_recall}")
    if factory == "auto":
        factory, auto_params = auto_factory(n, d, memory_gb)
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
        if n < max(nlist, 1):
            raise CocuError(f"{factory} has {nlist} inverted lists but the corpus has only {n} "
                            f"vectors to train them; use fewer lists or --factory Flat")
        size = train_size or max(50_000, 40 * nlist)
        ids = np.sort(rng.choice(n, size=min(n, size), replace=False))
        log.info("training %s on %d vectors", factory, len(ids))
        index.train(gather_rows(store, ids, modality))
    for stem in progress(store.stems, desc=f"index {modality}", unit="shard"):
        index.add(np.ascontiguousarray(store.embeddings(stem, modality), dtype=np.float32))
    apply_params(index, params)
    path = Path(out) if out else default_index_path(emb_dir, modality)
    recall, tuning = None, None
    k = min(recall_at, n)
    if recall_queries > 0:
        if factory == "Flat":
            recall = {"at": k, "value": 1.0, "queries": 0, "exact": True}
        else:
            held_out_seed = seed + 1
            if target_recall is not None:
                tune = QuerySample.draw(store, k, recall_queries, modality, seed)
                params, tuning = tune_depth(index, factory, params, tune, target_recall)
                held = QuerySample.draw(store, k, recall_queries, modality, held_out_seed, exclude=tune.ids)
            else:
                held = QuerySample.draw(store, k, recall_queries, modality, held_out_seed)
            recall = held.recall(index.search(held.vectors, k)[1])
        log.info("recall@%d = %.3f", k, recall["value"])
        _warn_unmet(tuning, recall, factory, memory_gb)
    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))
    info = IndexInfo(str(path), factory, params, modality, n, d, str(Path(emb_dir).resolve()),
                     [[s, c] for s, c in zip(store.stems, store.counts)], recall, tuning)
    write_json(str(path) + ".json", info.__dict__)
    return info


def _warn_unmet(tuning: dict | None, recall: dict | None, factory: str, memory_gb: float) -> None:
    if tuning is None or recall is None:
        return
    if not tuning["met"] or recall["value"] < tuning["target"]:
        log.warning("target recall@%d %.3f not reached by %s within %.1f GB: best %.4f on tuning "
                    "queries, %.4f on held-out ones (a larger --memory-gb allows finer codes)",
                    recall["at"], tuning["target"], factory, memory_gb,
                    max(tuning["curve"].values(), default=float("nan")), recall["value"])


def load_vectors(store: EmbeddingStore, modality: str = "img") -> np.ndarray:
    """All vectors of the store in id order as one float16 array [n, d]."""
    return np.concatenate([np.asarray(store.embeddings(s, modality), dtype=np.float16)
                           for s in store.stems])


def build_graph(emb_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                k: int = 8, target_recall: float = 0.95, recall_queries: int = 1000,
                nlist: int | None = None, nprobe: int | None = None, memory_gb: float = 16.0,
                bf16: bool | None = None, seed: int = 0) -> IndexInfo:
    """The corpus's kNN graph (image embeddings), saved as ``<out>`` (int32 [n, k]) + sidecar.

    nprobe: fixed, or (None) the smallest whose recall@k predicted on ``recall_queries``
    tuning queries reaches ``target_recall`` + 0.005; the built graph's recall is then
    measured on as many held-out queries (and nprobe doubled once if it fell short).
    """
    store, n, d = _open_store(emb_dir, "img")
    k = min(k, n)
    need = graph_memory_gb(n, d, k)
    if need > memory_gb:
        raise CocuError(f"a kNN graph over {n} × {d} vectors needs ≈ {need:.1f} GB, over the "
                        f"--memory-gb {memory_gb:g} budget; use a searchable index (no --graph)")
    bf16 = knngraph.native_bf16() if bf16 is None else bf16
    x = load_vectors(store)
    nlist = min(nlist or knngraph.default_nlist(n), n)
    lists = knngraph.assign_lists(x, knngraph.train_lists(x, nlist, seed=seed), bf16=bf16)
    tuning = None
    held = None
    if recall_queries > 0:
        tune = QuerySample.draw(store, k, recall_queries, "img", seed)
        held = QuerySample.draw(store, k, recall_queries, "img", seed + 1, exclude=tune.ids)
        if nprobe is None:
            depths = [p for p in DEPTHS["nprobe"] if p < lists.nlist] + [lists.nlist]
            curve = knngraph.predicted_recall(tune.truth, tune.ids, lists, depths)
            nprobe = next((p for p in depths if curve[p] >= min(1.0, target_recall + 0.005)), depths[-1])
            tuning = {"target": target_recall, "param": "nprobe", "curve": curve,
                      "met": curve[nprobe] >= target_recall, "queries": len(tune.ids),
                      "predicted": True}
    nprobe = min(nprobe or 16, lists.nlist)
    while True:
        ids, _ = knngraph.knn_graph(x, k, lists, nprobe, bf16=bf16)
        recall = held.recall(ids[held.ids]) if held is not None else None
        if (recall is None or tuning is None or recall["value"] >= target_recall
                or nprobe >= lists.nlist or tuning.get("retried")):
            break
        log.info("recall@%d = %.4f < %.3f at nprobe %d; rebuilding at %d", k, recall["value"],
                 target_recall, nprobe, 2 * nprobe)
        nprobe, tuning["retried"] = min(2 * nprobe, lists.nlist), True
    if tuning is not None:
        tuning["met"] = recall["value"] >= target_recall
        _warn_unmet(tuning, recall, GRAPH, memory_gb)
    path = Path(out) if out else default_index_path(emb_dir, "img", graph=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, ids)
    params = {"k": k, "nlist": lists.nlist, "nprobe": nprobe, "bf16": bool(bf16)}
    info = IndexInfo(str(path), GRAPH, params, "img", n, d, str(Path(emb_dir).resolve()),
                     [[s, c] for s, c in zip(store.stems, store.counts)], recall, tuning)
    write_json(str(path) + ".json", info.__dict__)
    return info
