"""Index choice and recall tuning, the inverted-list kNN graph, and curation over it."""

import json
import logging

import numpy as np
import pytest

from cocu.curation import knngraph
from cocu.curation.curate import CurateSettings, curate
from cocu.curation.embstore import write_shard
from cocu.curation.index import (GRAPH, IndexInfo, auto_factory, build_graph, build_index,
                                 load_index)
from cocu.data.sidecar import load_curation
from cocu.errors import CocuError


def blobs(n, d=24, centres=30, seed=0, noise=0.6):
    """Unit vectors around random centres, float16-rounded like stored embeddings."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d))
    x = c[rng.integers(0, centres, n)] + noise * rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16)


def exact(x, k):
    """Brute-force top-k ids (the reference), float32 over the stored float16."""
    v = x.astype(np.float32)
    return np.argsort(-(v @ v.T), axis=1, kind="stable")[:, :k]


def make_emb(root, x, per_shard=500, n_concepts=20, seed=0):
    rng = np.random.default_rng(seed)
    for s in range(0, len(x), per_shard):
        n = len(x[s:s + per_shard])
        ids = [sorted(set(rng.integers(0, n_concepts, rng.integers(1, 4)).tolist())) for _ in range(n)]
        write_shard(root, f"{s // per_shard:05d}", x[s:s + per_shard], [f"k{s + i}" for i in range(n)],
                    [", ".join(f"c{c}" for c in i) for i in ids], ids)
    return root


class Vocab:
    def __init__(self, n):
        self.concepts = [f"c{i}" for i in range(n)]

    def __len__(self):
        return len(self.concepts)

    def synonyms(self, cid):
        return [self.concepts[cid]]

    def extract(self, caption):
        return [int(w[1:]) for w in caption.split(", ") if w]


def test_graph_with_all_lists_probed_is_exact():
    x = blobs(1500)
    lists = knngraph.assign_lists(x, knngraph.train_lists(x, 16), bf16=False)
    ids, sims = knngraph.knn_graph(x, 8, lists, nprobe=16, bf16=False)
    want = exact(x, 8)
    assert (ids == want).mean() > 0.999  # ties in float16 data may swap equal neighbours
    v = x.astype(np.float32)
    np.testing.assert_allclose(sims, np.take_along_axis(v @ v.T, want, 1), atol=1e-6)
    assert (ids[:, 0] == np.arange(len(x))).all()  # every row is its own first neighbour


@pytest.mark.parametrize("bf16", [False, True])
def test_predicted_recall_matches_the_built_graph(bf16):
    x = blobs(2000, seed=1, noise=1.5)
    lists = knngraph.assign_lists(x, knngraph.train_lists(x, 32, seed=1), bf16=False)
    q = np.arange(0, 2000, 7)
    truth = exact(x, 8)[q]
    pred = knngraph.predicted_recall(truth, q, lists, [1, 2, 4])
    assert pred[1] < pred[2] < pred[4] < 1.0
    for p in (1, 4):
        got = knngraph.recall_at(truth, knngraph.knn_graph(x, 8, lists, p, bf16=bf16)[0][q])
        # fp32 scoring finds exactly the true neighbours in the probed lists; bf16 may lose a few
        assert got == pytest.approx(pred[p], abs=1e-9 if not bf16 else 0.01)


def test_lists_with_fewer_members_than_k_are_padded():
    x = blobs(10, d=8)
    lists = knngraph.assign_lists(x, knngraph.train_lists(x, 4), bf16=False)
    ids, sims = knngraph.knn_graph(x, 12, lists, nprobe=4, bf16=False)
    assert ids.shape == (10, 12) and (ids[:, 10:] == -1).all() and np.isneginf(sims[:, 10:]).all()
    assert (np.sort(ids[:, :10], 1) == np.arange(10)).all()


def test_build_graph_tunes_nprobe_and_records_it(tmp_path):
    emb = make_emb(tmp_path / "emb", blobs(3000, seed=2))
    info = build_graph(emb, k=8, target_recall=0.9, recall_queries=200, nlist=32, bf16=False)
    side = json.loads((emb / "index" / "img.knn.npy.json").read_text())
    assert side["factory"] == GRAPH and side["params"]["nprobe"] == info.params["nprobe"]
    t = info.tuning
    assert t["target"] == 0.9 and t["queries"] == 200 and info.recall["queries"] == 200
    chosen = info.params["nprobe"] // (2 if t.get("retried") else 1)  # doubled once if held-out fell short
    # the smallest probe count whose predicted recall clears the target (+ 0.005)
    assert t["curve"][chosen] >= 0.905 and all(v < 0.905 for p, v in t["curve"].items() if p < chosen)
    ids = np.load(emb / "index" / "img.knn.npy")
    want = exact(np.concatenate([np.load(f) for f in sorted((emb / "img_emb").glob("*.npy"))]), 8)
    held = knngraph.recall_at(want, ids)
    assert held >= 0.9 and info.recall["value"] >= 0.9 and t["met"]


def test_curation_over_a_graph_equals_curation_over_exact_search(tmp_path):
    x = blobs(1200, seed=3)
    emb = make_emb(tmp_path / "emb", x, per_shard=400)
    vocab = Vocab(20)
    t = np.random.default_rng(0).standard_normal((20, x.shape[1])).astype(np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    build_index(emb, factory="Flat")
    build_graph(emb, k=8, nprobe=64, recall_queries=0, nlist=16, bf16=False)  # every list probed
    st = CurateSettings(neighbours=8)
    curate(emb, emb / "index" / "img.index", tmp_path / "flat", vocab, st, concept_emb=t)
    curate(emb, emb / "index" / "img.knn.npy", tmp_path / "graph", vocab, st, concept_emb=t)
    a, b = load_curation(tmp_path / "flat"), load_curation(tmp_path / "graph")
    assert list(a) == list(b)
    for key in a:
        assert a[key].concepts == b[key].concepts
        np.testing.assert_allclose(a[key].score, b[key].score, rtol=1e-6)
    _, info = load_index(emb / "index" / "img.knn.npy")
    assert info.params["nprobe"] == 16  # capped at nlist
    with pytest.raises(CocuError, match="holds 8 neighbours"):
        curate(emb, emb / "index" / "img.knn.npy", tmp_path / "g16", vocab, CurateSettings(neighbours=16),
               concept_emb=t)


def test_index_tunes_nprobe_to_a_target_on_held_out_queries(tmp_path):
    emb = make_emb(tmp_path / "emb", blobs(3000, seed=4))
    info = build_index(emb, factory="IVF32,Flat", recall_queries=200, target_recall=0.97, train_size=3000)
    t = info.tuning
    assert t["param"] == "nprobe" and t["met"] and info.params["nprobe"] == max(t["curve"])
    assert t["curve"][info.params["nprobe"]] >= 0.97 and all(
        v < 0.97 for p, v in t["curve"].items() if p < info.params["nprobe"])
    assert info.recall["queries"] == 200 and info.recall["value"] > 0.9
    again = IndexInfo.read(info.path)
    assert again.params == info.params and again.tuning["target"] == 0.97


def test_unreachable_target_is_recorded_and_warned(tmp_path, caplog):
    emb = make_emb(tmp_path / "emb", blobs(3000, seed=5))
    with caplog.at_level(logging.WARNING):
        info = build_index(emb, factory="IVF8,PQ2x4", recall_queries=100, target_recall=0.999, train_size=3000)
    assert info.tuning["met"] is False and max(info.tuning["curve"]) == 8  # tried up to all lists
    assert "not reached" in caplog.text


def test_too_few_vectors_for_the_lists_and_empty_corpus_are_clear_errors(tmp_path):
    emb = make_emb(tmp_path / "emb", blobs(40))
    with pytest.raises(CocuError, match="only 40 vectors"):
        build_index(emb, factory="IVF64,Flat")
    assert auto_factory(40, 24)[0] == "Flat"
    empty = tmp_path / "empty"
    write_shard(empty, "00000", np.zeros((0, 24)), [], [], [])
    with pytest.raises(CocuError, match="holds no img vectors"):
        build_index(empty)
    with pytest.raises(CocuError, match="holds no img vectors"):
        build_graph(empty)


def test_auto_factory_follows_size_and_memory():
    assert auto_factory(100_000, 512) == ("Flat", {})
    f, p = auto_factory(3_300_000, 512, memory_gb=16)
    assert f == "IVF8192,SQfp16" and p == {"nprobe": 16}
    assert auto_factory(3_300_000, 512, memory_gb=3)[0] == "IVF8192,SQ8"
    assert auto_factory(3_300_000, 512, memory_gb=1)[0] == "IVF8192,PQ256x4fs"


def test_cli_index_graph_and_errors(tmp_path, capsys):
    from cocu.cli import main

    emb = make_emb(tmp_path / "emb", blobs(800, seed=6))
    assert main(["index", "--emb", str(emb), "--graph", "--recall-queries", "50", "--target-recall", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "knn-graph" in out and "held-out queries" in out
    assert (emb / "index" / "img.knn.npy.json").exists()
    assert main(["index", "--emb", str(emb), "--factory", "IVF4096,Flat"]) == 2  # too few vectors
    assert "only 800 vectors" in capsys.readouterr().err
    assert main(["index", "--emb", str(emb), "--graph", "--memory-gb", "0.0001"]) == 2
