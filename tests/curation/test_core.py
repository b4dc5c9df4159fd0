"""Vectorised CoCu scoring vs hand-computed values and vs the official per-image loop."""

import faiss
import numpy as np
import pytest

from cocu.curation.core import (ConceptLists, cluster_archive, curate_block, drop_anchor,
                                gather_archive, reference_similarities)
from cocu.curation.reference import reference_curate

# 2-d toy: 4 images, 3 concepts (dog, grass, car)
V = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, -0.8]], dtype=np.float32)
T = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
NAMES = ["dog", "grass", "car"]
CAPTION_CONCEPTS = [[0], [0, 1], [1], [2]]
CL = ConceptLists.from_lists(CAPTION_CONCEPTS)
REF = reference_similarities(CL, V, T)


def flat_index(x):
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(np.ascontiguousarray(x, dtype=np.float32))
    return index


def as_dict(block, b):
    a = block.anchor(b)
    return {NAMES[c]: (float(sa), float(sb), float(s), int(n))
            for c, sa, sb, s, n in zip(a["concept_ids"], a["s_a"], a["s_b"], a["score"], a["n_refs"])}


def test_concept_lists_and_reference_similarities():
    assert CL.indptr.tolist() == [0, 1, 3, 4, 5]
    assert CL.to_lists() == CAPTION_CONCEPTS
    # cos(t_c, v_r) for every mention: dog·v0, dog·v1, grass·v1, grass·v2, car·v3
    np.testing.assert_allclose(REF, [1.0, 0.8, 0.6, 1.0, -0.28], atol=1e-6)
    both = ConceptLists.concat([CL, ConceptLists.from_lists([[], [2]])])
    assert both.to_lists() == CAPTION_CONCEPTS + [[], [2]]


def test_gather_archive_skips_missing_hits():
    anchor, cid, sim = gather_archive(np.array([[1, -1], [3, 0]]), CL, REF)
    assert anchor.tolist() == [0, 0, 1, 1]
    assert cid.tolist() == [0, 1, 2, 0]
    np.testing.assert_allclose(sim, [0.8, 0.6, -0.28, 1.0], atol=1e-6)


def test_hand_computed_t2v_scores():
    # anchor 0, hits [0, 1]: dog refs {0,1} v_c=[1, .8, 1]; grass refs {1} v_c=[.6, 0]; M=1
    # anchor 1, hits [1, 0]: dog v_c=[.8, 1, .8]; grass v_c=[.6, .6]; M=1
    block = curate_block(V[[0, 1]], np.array([[0, 1], [1, 0]]), CL, REF, T)
    d0 = as_dict(block, 0)
    assert list(d0) == ["dog", "grass"]
    np.testing.assert_allclose(d0["dog"][:3], [1.0, 1 / (2.8 / 3), 1 + 1 / (2.8 / 3)], atol=1e-6)
    np.testing.assert_allclose(d0["grass"][:3], [0.0, 0.0, 0.0], atol=1e-6)
    assert d0["dog"][3] == 2 and d0["grass"][3] == 1
    d1 = as_dict(block, 1)
    assert list(d1) == ["dog", "grass"]
    np.testing.assert_allclose(d1["dog"][:3], [0.8, 0.8 / (2.6 / 3), 0.8 + 0.8 / (2.6 / 3)], atol=1e-6)
    np.testing.assert_allclose(d1["grass"][:3], [0.6, 1.0, 1.6], atol=1e-6)


def test_official_pathology_negative_mean_is_reproduced():
    # anchor 3, hits [3, 0, 1]: grass v_c=[.6, -.8] mean -.1 -> s_b = 8 ranks grass first
    block = curate_block(V[[3]], np.array([[3, 0, 1]]), CL, REF, T)
    d = as_dict(block, 0)
    assert list(d) == ["grass", "dog", "car"]
    np.testing.assert_allclose(d["grass"][:3], [-0.8, 8.0, 7.2], atol=1e-5)
    np.testing.assert_allclose(d["dog"][:3], [0.6, 0.75, 1.35], atol=1e-6)
    np.testing.assert_allclose(d["car"][:3], [-0.28, 1.0, 0.72], atol=1e-6)
    naive = curate_block(V[[3]], np.array([[3, 0, 1]]), CL, REF, T, ranking="naive")
    assert [NAMES[c] for c in naive.anchor(0)["concept_ids"]] == ["dog", "car", "grass"]
    np.testing.assert_allclose(naive.score, [0.6, -0.28, -0.8], atol=1e-6)


def test_exclude_anchor_and_language_expansion_hand_computed():
    # exclude-anchor: anchor 0 searches 3, drops itself -> hits [1, 3]
    idx = flat_index(V)
    _, hits = idx.search(V[[0]], 3)
    hits = drop_anchor(hits, np.array([0]), 2)
    assert hits.tolist() == [[1, 3]]
    expected = {"car": (0.6, 3.75, 4.35), "dog": (1.0, 1 / 0.9, 1 + 1 / 0.9), "grass": (0.0, 0.0, 0.0)}
    d = as_dict(curate_block(V[[0]], hits, CL, REF, T), 0)
    assert list(d) == ["car", "dog", "grass"]
    for k, v in expected.items():
        np.testing.assert_allclose(d[k][:3], v, atol=1e-5)
    # ① language expansion: the anchor image queries caption embeddings U; the refs are the
    # retrieved pairs' images. U makes captions 1 and 3 the nearest to v0 -> same archive.
    U = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    _, lang_hits = flat_index(U).search(V[[0]], 2)
    assert lang_hits.tolist() == [[1, 3]]
    d_lang = as_dict(curate_block(V[[0]], lang_hits, CL, REF, T), 0)
    assert d_lang == d


def test_m_zero_guard_and_empty_archive():
    # every similarity negative (car·v = -0.8): M = 0 -> first term 0, score = s_b = 1
    v = np.array([[0.0, -1.0]], dtype=np.float32)
    cl = ConceptLists.from_lists([[2]])
    block = curate_block(v, np.array([[0]]), cl, reference_similarities(cl, v, T), T)
    np.testing.assert_allclose(block.score, [1.0])
    empty = curate_block(V[[2]], np.array([[-1, -1]]), CL, REF, T)
    assert empty.indptr.tolist() == [0, 0] and len(empty.concept_ids) == 0


def test_drop_anchor_when_anchor_not_returned():
    hits = np.array([[5, 0, 7], [2, 3, 4]])
    assert drop_anchor(hits, np.array([0, 9]), 2).tolist() == [[5, 7], [2, 3]]


@pytest.mark.parametrize("ranking", ["t2v", "naive"])
@pytest.mark.parametrize("n,exclude", [(4, False), (8, False), (8, True)])
def test_vectorised_equals_official_loop(ranking, n, exclude):
    rng = np.random.default_rng(0)
    n_img, d, C = 300, 16, 40
    centres = rng.normal(size=(10, d))
    topic = rng.integers(0, 10, n_img)
    V = centres[topic] + 0.7 * rng.normal(size=(n_img, d))
    V = (V / np.linalg.norm(V, axis=1, keepdims=True)).astype(np.float16)  # stored as float16
    T = rng.normal(size=(C, d))
    T = (T / np.linalg.norm(T, axis=1, keepdims=True)).astype(np.float32)
    caps = [sorted(set(rng.integers(0, C, rng.integers(0, 4)).tolist())) for _ in range(n_img)]
    names = [f"concept{i}" for i in range(C)]
    v32 = V.astype(np.float32)
    idx = flat_index(v32)
    anchors = np.arange(0, n_img, 3)
    k = n + 1 if exclude else n
    _, hits = idx.search(v32[anchors], k)
    if exclude:
        hits = drop_anchor(hits, anchors, n)
    cl = ConceptLists.from_lists(caps)
    block = curate_block(v32[anchors], hits, cl, reference_similarities(cl, V, T), T, ranking=ranking)
    ref = reference_curate(v32[anchors], idx, v32, caps, names, T, n, ranking=ranking,
                           exclude_ids=anchors if exclude else None)
    for b, expected in enumerate(ref):
        got = block.anchor(b)
        assert [names[c] for c in got["concept_ids"]] == list(expected)
        want = np.array(list(expected.values()))
        np.testing.assert_allclose(got["s_a"], [T[c] @ v32[anchors[b]] for c in got["concept_ids"]],
                                   atol=1e-6)
        # the official loop runs in float32: s_b = s_a / mean(v_c) amplifies the rounding of
        # mean(v_c) by s_b²/|s_a|, and s_a / M that of M by (s_a / M)²/|s_a| (M is small for some
        # anchors; which float32 kernel rounds how differs between AVX2 and AVX-512 machines)
        s_b = got["s_b"].astype(np.float64)
        first = got["score"].astype(np.float64) - s_b  # s_a / M
        tol = 1e-5 + 2e-6 * np.abs(want) + 1e-6 * (s_b**2 + first**2) / np.abs(got["s_a"])
        assert np.all(np.abs(got["score"] - want) <= tol), (got["score"], want)


def test_cluster_archive_matches_sklearn_and_caches():
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(1)
    T = rng.normal(size=(12, 8)).astype(np.float32)
    ids = np.array([5, 1, 7, 3, 9])
    cache: dict = {}
    labels = cluster_archive(T, ids, cache)
    ref = KMeans(n_clusters=3, random_state=0, n_init=5, max_iter=100).fit(T[ids]).labels_
    assert labels.tolist() == ref.tolist()
    assert len(cache) == 1 and cluster_archive(T, ids, cache) is labels
    assert cluster_archive(T, np.array([1, 2]), cache).tolist() == [-1, -1]
