"""The corpus's own k-nearest-neighbour graph, built around inverted lists.

Vision-driven curation queries the corpus with itself, so at web scale it is a kNN-*graph*
build, not n independent look-ups. Organised around the inverted lists of a coarse
quantiser it becomes dense matrix products:

1. spherical k-means (FAISS) on a sample gives ``nlist`` centroids; every vector goes to
   its nearest centroid (its list); the vectors are copied once in list order;
2. each list ``L`` probes the ``nprobe`` lists whose centroids are nearest to ``L``'s
   (itself first); its members (the queries) are multiplied against the members of those
   lists (the candidates) in one GEMM — bfloat16 when the CPU has native bf16, else fp32;
3. per query the best ``shortlist`` candidates are re-scored exactly (float32 dot products
   of the stored float16 vectors) and the top ``k`` kept.

Recall is lost only where a true neighbour sits in a list that is not probed (and, rarely,
where bf16 rounding pushes it out of the shortlist). ``predicted_recall`` computes the
first part from exact neighbours of a query sample, for any ``nprobe``, without building —
that is how ``cocu index --graph`` picks ``nprobe`` for a target recall.

Cost ≈ 2·n·nprobe·(n / nlist)·d FLOP for step 2, 2·n·nlist·d for the assignment.
Memory: two copies of the vectors (float16 and bfloat16, 2·n·d bytes each) plus the graph.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import faiss
import numpy as np
import torch

from cocu.utils.progress import progress

log = logging.getLogger(__name__)


def native_bf16() -> bool:
    """True when this CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    try:
        flags = open("/proc/cpuinfo").read()  # noqa: SIM115 - tiny file
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_nlist(n: int) -> int:
    """≈ n / 800 lists, a power of two (≥ 1): lists of ~800 members keep the GEMMs large,
    the graph build linear in n (n·nprobe·800·d) and the assignment (n·nlist·d) affordable."""
    return max(1, 2 ** round(math.log2(max(1.0, n / 800))))


@dataclass
class Lists:
    """The coarse quantiser and the vectors' list assignment.

    centroids: float32 [nlist, d]; assign: int32 [n] list of each vector;
    order: int64 [n] vector ids in list order; bounds: int64 [nlist + 1] list slices of ``order``.
    """

    centroids: np.ndarray
    assign: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    @property
    def nlist(self) -> int:
        return len(self.centroids)

    def probes(self, nprobe: int) -> np.ndarray:
        """int64 [nlist, nprobe]: per list, the lists with the nearest centroids (itself first)."""
        nprobe = min(nprobe, self.nlist)
        c = self.centroids
        sims = c @ c.T
        np.fill_diagonal(sims, np.inf)
        part = np.argpartition(-sims, nprobe - 1, axis=1)[:, :nprobe]
        return np.take_along_axis(part, np.argsort(-np.take_along_axis(sims, part, 1), axis=1), 1)


def _blocks(x, block: int = 1 << 16):
    for s in range(0, x.shape[0], block):
        yield s, np.asarray(x[s:s + block])


def train_lists(x, nlist: int, *, train_size: int | None = None, niter: int = 10,
                seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids [nlist, d] float32 from a random sample of ``x`` [n, d]."""
    n, d = x.shape
    size = min(n, train_size or 40 * nlist)
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(n, size=size, replace=False))
    sample = np.asarray(x[ids], dtype=np.float32)
    if nlist == 1:
        c = sample.mean(0, keepdims=True)
        return c / max(float(np.linalg.norm(c)), 1e-12)
    km = faiss.Kmeans(d, nlist, niter=niter, spherical=True, seed=seed, verbose=False,
                      max_points_per_centroid=max(1, size // nlist + 1))
    km.train(sample)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign_lists(x, centroids: np.ndarray, *, bf16: bool | None = None) -> Lists:
    """The list of every row of ``x`` [n, d] (its most similar centroid)."""
    bf16 = native_bf16() if bf16 is None else bf16
    dt = torch.bfloat16 if bf16 else torch.float32
    c = torch.from_numpy(np.ascontiguousarray(centroids)).to(dt)
    assign = np.empty(x.shape[0], dtype=np.int32)
    for s, blk in progress(list(_blocks(x)), desc="assign lists", unit="block"):
        q = torch.from_numpy(np.ascontiguousarray(blk)).to(dt)
        assign[s:s + len(blk)] = (q @ c.T).argmax(1).numpy()
    order = np.argsort(assign, kind="stable").astype(np.int64)
    bounds = np.zeros(len(centroids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(assign, minlength=len(centroids)), out=bounds[1:])
    return Lists(np.asarray(centroids, dtype=np.float32), assign, order, bounds)


def knn_graph(x, k: int, lists: Lists, nprobe: int, *, shortlist: int | None = None,
              bf16: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The approximate k nearest neighbours (inner product) of every row of ``x`` among all rows.

    x: [n, d] float16/float32 L2-normalised (a memmap is fine; it is read once);
    returns (ids int32 [n, k], sims float32 [n, k]), best first, -1 / -inf where a row has
    fewer than k candidates. A row is its own first neighbour (as in a search of the corpus).
    """
    bf16 = native_bf16() if bf16 is None else bf16
    n, d = x.shape
    shortlist = max(k, shortlist or k + max(8, k // 2))
    # one copy in list order: float16 for exact re-scoring, bf16 (or fp32) for the GEMMs
    xs16 = torch.empty((n, d), dtype=torch.float16)
    inv = np.empty(n, dtype=np.int64)
    inv[lists.order] = np.arange(n, dtype=np.int64)
    for s, blk in _blocks(x):
        xs16[torch.from_numpy(inv[s:s + len(blk)])] = torch.from_numpy(
            np.ascontiguousarray(blk, dtype=np.float16))
    xg = xs16.to(torch.bfloat16) if bf16 else None
    probes = lists.probes(nprobe)
    bounds = lists.bounds
    ids = np.full((n, k), -1, dtype=np.int32)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    for li in progress(range(lists.nlist), desc=f"kNN graph (nprobe {probes.shape[1]})", unit="list"):
        a, b = int(bounds[li]), int(bounds[li + 1])
        if a == b:
            continue
        cand = torch.from_numpy(np.concatenate(
            [np.arange(bounds[m], bounds[m + 1]) for m in probes[li]]))
        q32 = xs16[a:b].float()
        if bf16:
            s_approx = xg[a:b] @ xg.index_select(0, cand).T
        else:
            s_approx = q32 @ xs16.index_select(0, cand).float().T
        kk = min(shortlist, len(cand))
        top = cand[torch.topk(s_approx, kk, dim=1, sorted=False).indices]  # [q, kk] positions
        exact = torch.bmm(xs16[top].float(), q32.unsqueeze(2)).squeeze(2)  # [q, kk]
        kq = min(k, kk)
        best, pos = torch.topk(exact, kq, dim=1)
        rows = lists.order[a:b]
        ids[rows, :kq] = lists.order[torch.gather(top, 1, pos).numpy()].astype(np.int32)
        sims[rows, :kq] = best.numpy()
    return ids, sims


def predicted_recall(exact_ids: np.ndarray, query_ids: np.ndarray, lists: Lists,
                     nprobes: list[int]) -> dict[int, float]:
    """Recall@k the graph would reach at each ``nprobe`` (bf16 shortlist losses aside).

    exact_ids: int64 [q, k] exact neighbours of the corpus rows ``query_ids`` [q]. A true
    neighbour is found iff its list is among the ``nprobe`` probed by the query's list.
    """
    c = lists.centroids
    ql = lists.assign[query_ids]
    sims = c[ql] @ c.T  # [q, nlist]
    sims[np.arange(len(ql)), ql] = np.inf
    rank = np.empty_like(sims, dtype=np.int64)
    np.put_along_axis(rank, np.argsort(-sims, axis=1), np.arange(c.shape[0])[None], axis=1)
    valid = exact_ids >= 0
    nb_rank = np.take_along_axis(rank, lists.assign[np.where(valid, exact_ids, 0)].astype(np.int64), 1)
    return {p: float(((nb_rank < p) & valid).sum() / max(1, valid.sum())) for p in nprobes}


def recall_at(exact_ids: np.ndarray, got_ids: np.ndarray) -> float:
    """Mean |exact ∩ got| / |exact| over rows (both [q, k], -1 = none)."""
    hit = [len(set(t[t >= 0].tolist()) & set(g[g >= 0].tolist())) / max(1, int((t >= 0).sum()))
           for t, g in zip(exact_ids, got_ids)]
    return float(np.mean(hit)) if hit else float("nan")
