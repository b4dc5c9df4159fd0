"""Vectorised CoCu scoring (DESIGN §2 ②③④) on plain arrays.

Everything here is pure numpy: no files, no FAISS. A block of anchors is curated at once:

1. the neighbours' concept lists are gathered from a CSR table (``ConceptLists``) into
   (anchor, concept, similarity) triples — a sparse anchor × concept membership matrix;
2. the triples are sorted by ``anchor * C + concept`` and reduced per (anchor, concept) with
   ``reduceat`` (sum, count, max of cos(t_c, v_r) over the reference images);
3. ``s_a`` comes from one matrix product ``v_anchor @ T^T``;
4. ``s_b``, the per-anchor normaliser ``M`` and the final score follow elementwise.

Official semantics (xing0047/rewrite ``curation.py``), reproduced exactly:
``v_c = [cos(t_c, v_r) for r in refs(c)] + [cos(t_c, v_a)]``,
``s_a = cos(t_c, v_a)``, ``s_b = s_a / mean(v_c)``,
``M = max(0, max over the archive of max(v_c))``, ``score = s_a / M + s_b`` (t2v) or
``score = s_a`` (naive). Ties are broken by concept id (the official order of a Python
``set`` is arbitrary). One deliberate deviation: when ``M == 0`` (every similarity ≤ 0,
where the official code divides by zero) the ``s_a / M`` term is taken as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANKINGS = ("naive", "t2v")


def concat_indptr(indptrs: list[np.ndarray]) -> np.ndarray:
    """Row pointers of CSR blocks stacked row-wise: int64 [1 + total rows]."""
    out, offset = [np.zeros(1, dtype=np.int64)], 0
    for indptr in indptrs:
        out.append(np.asarray(indptr[1:], dtype=np.int64) + offset)
        offset += int(indptr[-1])
    return np.concatenate(out)


@dataclass(frozen=True)
class ConceptLists:
    """Concept ids per image in CSR form: image ``i`` names ``ids[indptr[i]:indptr[i+1]]``.

    indptr: int64 [n + 1]; ids: int32 [nnz] (deduplicated within an image).
    """

    indptr: np.ndarray
    ids: np.ndarray

    @classmethod
    def from_lists(cls, lists: list[list[int]] | list[np.ndarray]) -> ConceptLists:
        """Build from one list of concept ids per image."""
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        ids = (np.concatenate([np.asarray(x, dtype=np.int32) for x in lists])
               if int(indptr[-1]) else np.zeros(0, dtype=np.int32))
        return cls(indptr, ids.astype(np.int32, copy=False))

    @classmethod
    def concat(cls, parts: list[ConceptLists]) -> ConceptLists:
        """Concatenate image-wise (shard after shard)."""
        if not parts:
            return cls(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32))
        return cls(concat_indptr([p.indptr for p in parts]), np.concatenate([p.ids for p in parts]).astype(np.int32))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.indptr[i]:self.indptr[i + 1]]

    def to_lists(self) -> list[list[int]]:
        return [self.row(i).tolist() for i in range(len(self))]

    def expand(self, closure: list[list[int]]) -> tuple[ConceptLists, np.ndarray]:
        """Official substring membership: per image, the union of ``closure[c]`` over its
        concepts c (``Vocabulary.substring_closure``), sorted by id, with a bool [nnz] mask of
        the concepts the image names itself (only those enter an archive)."""
        lens = np.fromiter((len(c) for c in closure), dtype=np.int64, count=len(closure))
        cptr = np.zeros(len(closure) + 1, dtype=np.int64)
        np.cumsum(lens, out=cptr[1:])
        cids = np.fromiter((b for c in closure for b in c), dtype=np.int64, count=int(cptr[-1]))
        rows = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))
        ln = lens[self.ids]
        total = int(ln.sum())
        seg = np.cumsum(ln) - ln
        pos = np.repeat(cptr[self.ids] - seg, ln) + np.arange(total, dtype=np.int64)
        own = pos == np.repeat(cptr[self.ids], ln)  # closure[a][0] is a itself
        key = np.repeat(rows, ln) * len(closure) + cids[pos]
        order = np.lexsort((~own, key))
        key, own = key[order], own[order]
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if total else np.zeros(0, np.int64)
        ukey, uown = key[first], own[first]  # own sorts first within a key
        indptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ukey // len(closure), minlength=len(self)), out=indptr[1:])
        return ConceptLists(indptr, (ukey % len(closure)).astype(np.int32)), uown


def reference_similarities(concepts: ConceptLists, image_emb: np.ndarray,
                           concept_emb: np.ndarray, *, chunk: int = 1 << 16) -> np.ndarray:
    """cos(t_c, v_r) for every (image r, concept c it names), aligned with ``concepts.ids``.

    image_emb: [n, d] (any float dtype, L2-normalised); concept_emb: [C, d] float32.
    Returns float32 [nnz]. These are the only reference-image similarities CoCu ever
    needs (refs(c) are the hits whose caption names c), so curation never has to gather
    the neighbours' embeddings again.
    """
    n_rows = np.diff(concepts.indptr)
    rows = np.repeat(np.arange(len(concepts), dtype=np.int64), n_rows)
    out = np.empty(len(concepts.ids), dtype=np.float32)
    t = np.asarray(concept_emb, dtype=np.float32)
    for s in range(0, len(rows), chunk):
        r = rows[s:s + chunk]
        v = np.asarray(image_emb[r], dtype=np.float32)
        out[s:s + chunk] = np.einsum("ij,ij->i", v, t[concepts.ids[s:s + chunk]])
    return out


@dataclass
class CuratedBlock:
    """Curated archives of a block of anchors in CSR form (per anchor: sorted by score, high → low).

    indptr: int64 [B + 1]; concept_ids: int32 [P]; s_a, s_b, score: float32 [P];
    n_refs: int32 [P] (number of hits whose caption names the concept).
    """

    indptr: np.ndarray
    concept_ids: np.ndarray
    s_a: np.ndarray
    s_b: np.ndarray
    score: np.ndarray
    n_refs: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def anchor(self, b: int) -> dict[str, np.ndarray]:
        sl = slice(int(self.indptr[b]), int(self.indptr[b + 1]))
        return {"concept_ids": self.concept_ids[sl], "s_a": self.s_a[sl], "s_b": self.s_b[sl],
                "score": self.score[sl], "n_refs": self.n_refs[sl]}


def gather_archive(hits: np.ndarray, concepts: ConceptLists, ref_sims: np.ndarray,
                   explicit: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Pool the hits' concepts: (anchor index, concept id, cos(t_c, v_r)) triples.

    hits: int64 [B, N] index ids of the neighbours, -1 for none. Returns three arrays of
    length T = total number of (hit, concept) mentions, and a fourth, ``explicit[pos]``,
    when ``explicit`` (bool [nnz], see ``ConceptLists.expand``) is given.
    """
    B, N = hits.shape
    flat = hits.reshape(-1)
    valid = flat >= 0
    r = np.where(valid, flat, 0)
    starts = concepts.indptr[r]
    lengths = np.where(valid, concepts.indptr[r + 1] - starts, 0)
    total = int(lengths.sum())
    anchor = np.repeat(np.repeat(np.arange(B, dtype=np.int64), N), lengths)
    # position of each mention inside concepts.ids: start of its row + offset within row
    seg_start = np.cumsum(lengths) - lengths
    pos = np.repeat(starts - seg_start, lengths) + np.arange(total, dtype=np.int64)
    out = (anchor, concepts.ids[pos].astype(np.int64), ref_sims[pos])
    return out if explicit is None else out + (explicit[pos],)


def curate_block(anchor_emb: np.ndarray, hits: np.ndarray, concepts: ConceptLists,
                 ref_sims: np.ndarray, concept_emb: np.ndarray, *, ranking: str = "t2v",
                 explicit: np.ndarray | None = None) -> CuratedBlock:
    """Curate a block of anchors.

    anchor_emb: [B, d] L2-normalised anchor image embeddings v_a;
    hits: int64 [B, N] the anchors' N retrieved neighbours (index ids into ``concepts``;
    the anchor itself among them when the search returns it, as in the official code);
    concepts: concept ids of every index image; ref_sims: ``reference_similarities``;
    concept_emb: [C, d] float32 normalised prompt embeddings t_c;
    explicit: official substring membership (``ConceptLists.expand``): ``concepts`` then
    lists every concept an image names by substring, and only those some hit names itself
    (``explicit``) enter the archive, with all substring-naming hits as references.
    """
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {RANKINGS}, got {ranking!r}")
    B = anchor_emb.shape[0]
    C = concept_emb.shape[0]
    anchor, cid, sim, *own = gather_archive(hits, concepts, ref_sims, explicit)
    empty = np.zeros(0, dtype=np.float32)
    nothing = CuratedBlock(np.zeros(B + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                           empty, empty, empty, np.zeros(0, dtype=np.int32))
    if len(anchor) == 0:
        return nothing
    key = anchor * C + cid
    order = np.argsort(key, kind="stable")
    key_s, sim_s = key[order], sim[order]
    first = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]])
    ukey = key_s[first]
    ref_sum = np.add.reduceat(sim_s.astype(np.float64), first)
    ref_max = np.maximum.reduceat(sim_s, first)
    n_refs = np.diff(np.r_[first, len(key_s)]).astype(np.int32)
    if own:  # keep the (anchor, concept) groups that some hit names itself
        keep = np.maximum.reduceat(own[0][order], first)
        if not keep.any():
            return nothing
        ukey, ref_sum, ref_max, n_refs = ukey[keep], ref_sum[keep], ref_max[keep], n_refs[keep]
    p_anchor, p_cid = ukey // C, ukey % C

    # s_a: one matrix product per block, then the archive's entries
    sim_a = np.asarray(anchor_emb, dtype=np.float32) @ concept_emb.T  # [B, C]
    s_a = sim_a.reshape(-1)[ukey].astype(np.float32)
    # v_c = refs' similarities followed by the anchor's once more
    mean_vc = (ref_sum + s_a) / (n_refs + 1)
    s_b = (s_a / mean_vc).astype(np.float32)
    vc_max = np.maximum(ref_max, s_a)
    a_first = np.flatnonzero(np.r_[True, p_anchor[1:] != p_anchor[:-1]])
    m_anchor = np.maximum(np.maximum.reduceat(vc_max, a_first), 0.0)  # M per anchor with an archive
    seg_len = np.diff(np.r_[a_first, len(p_anchor)])
    m = np.repeat(m_anchor, seg_len)
    if ranking == "t2v":
        first_term = np.divide(s_a, m, out=np.zeros_like(s_a), where=m > 0)
        score = (first_term + s_b).astype(np.float32)
    else:
        score = s_a.copy()
    # per anchor, high → low score, ties by concept id
    srt = np.lexsort((p_cid, -score.astype(np.float64), p_anchor))
    counts = np.bincount(p_anchor, minlength=B)
    indptr = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return CuratedBlock(indptr, p_cid[srt].astype(np.int32), s_a[srt], s_b[srt], score[srt],
                        n_refs[srt])


def drop_anchor(hits: np.ndarray, anchor_ids: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` hits of each row that are not the anchor itself (``--exclude-anchor``).

    hits: [B, n + 1] from a search for n + 1 neighbours; anchor_ids: [B] the anchors' index ids.
    """
    keep = hits != anchor_ids[:, None]
    keep &= np.cumsum(keep, axis=1) <= n
    out = np.full((hits.shape[0], n), -1, dtype=np.int64)
    rows, cols = np.nonzero(keep)
    rank = np.cumsum(keep, axis=1)[rows, cols] - 1
    out[rows, rank] = hits[rows, cols]
    return out


def cluster_archive(concept_emb: np.ndarray, ids: np.ndarray,
                    cache: dict | None = None) -> np.ndarray:
    """⑥ k-means on the archive's t_c, as the official code: ceil(|archive|/2) clusters,
    random_state 0, n_init 5, max_iter 100; archives of ≤ 2 concepts are not clustered (-1).

    ids: the archive's concept ids in score order (the order k-means sees them).
    Returns int32 [len(ids)] cluster labels. ``cache`` maps an id tuple to its labels
    (identical archives recur often; k-means costs ~10 ms per call).
    """
    n = len(ids)
    if n <= 2:
        return np.full(n, -1, dtype=np.int32)
    key = tuple(int(i) for i in ids)
    if cache is not None and key in cache:
        return cache[key]
    from sklearn.cluster import KMeans

    x = np.asarray(concept_emb[ids], dtype=np.float32)
    labels = KMeans(n_clusters=-(-n // 2), random_state=0, n_init=5, max_iter=100
                    ).fit(x).labels_.astype(np.int32)
    if cache is not None:
        cache[key] = labels
    return labels
