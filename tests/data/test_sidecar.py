"""The curation sidecar format: plain / cluster sampling draws, the write → read round trip,
read errors and the manifest's vocabulary check."""

import json
import math

import numpy as np
import pytest

from cocu.data.concept_sampling import SAMPLERS, cluster_probabilities, sample_cluster, sample_plain
from cocu.data.sidecar import (MANIFEST, ConceptArchive, check_vocabulary, load_curation, read_sidecar,
                               sidecar_path, write_sidecar)
from cocu.data.vocab import Vocabulary, vocab_hash
from cocu.errors import CocuError


def record(names, scores, clusters):
    n = len(names)
    return ConceptArchive(list(names), np.arange(n, dtype=np.int32), np.zeros(n, np.float32),
                          np.zeros(n, np.float32), np.asarray(scores, np.float32),
                          np.asarray(clusters, np.int32), np.ones(n, np.int32))


def test_plain_is_top_k():
    r = record(["dog", "grass", "car", "sky"], [3, 2, 1, 0], [-1] * 4)
    assert sample_plain(r, 3) == ["dog", "grass", "car"]
    assert sample_plain(record(["dog"], [1], [-1]), 3) == ["dog"]


def test_cluster_draw_frequencies_match_hand_computed_probabilities():
    # clusters {dog, puppy} mean 1.5 and {sky} mean 0.5 -> p(cluster 0) = 1 / (1 + e^-1);
    # inside cluster 0: p(dog) = softmax(2, 1)[0] = 1 / (1 + e^-1)
    r = record(["dog", "puppy", "sky"], [2.0, 1.0, 0.5], [0, 0, 1])
    labels, p = cluster_probabilities(r)
    s = 1 / (1 + math.exp(-1))
    assert labels.tolist() == [0, 1]
    np.testing.assert_allclose(p, [s, 1 - s])
    rng = np.random.default_rng(0)
    draws = [c for _ in range(6000) for c in sample_cluster(r, 3, rng)]
    freq = {c: draws.count(c) / len(draws) for c in ("dog", "puppy", "sky")}
    assert abs(freq["dog"] - s * s) < 0.01
    assert abs(freq["puppy"] - s * (1 - s)) < 0.01
    assert abs(freq["sky"] - (1 - s)) < 0.01
    # seeded: the same rng seed gives the same draws
    assert sample_cluster(r, 3, np.random.default_rng(5)) == sample_cluster(r, 3, np.random.default_rng(5))


def test_cluster_without_replacement_draws_distinct_clusters():
    r = record(["dog", "sky", "car"], [1.0, 0.9, 0.8], [0, 1, 2])
    rng = np.random.default_rng(1)
    for _ in range(50):
        got = sample_cluster(r, 3, rng, replace=False)
        assert sorted(got) == ["car", "dog", "sky"]
    assert len(sample_cluster(r, 5, rng, replace=False)) == 3


def test_cluster_without_replacement_skips_clusters_of_probability_zero():
    # the t2v scores of a real curation span thousands: e^(-5000 - 2) is 0 in float64, so the
    # third cluster can never be drawn and only two distinct clusters exist to draw from
    r = record(["dog", "sky", "car"], [2.0, 1.0, -5000.0], [0, 1, 2])
    assert cluster_probabilities(r)[1][2] == 0.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert sorted(sample_cluster(r, 3, rng, replace=False)) == ["dog", "sky"]


def test_cluster_falls_back_to_plain_when_not_clustered():
    rng = np.random.default_rng(0)
    assert sample_cluster(record(["a", "b"], [2, 1], [-1, -1]), 3, rng) == ["a", "b"]
    assert sample_cluster(record(["a", "b", "c"], [3, 2, 1], [0, 0, 0]), 2, rng) == ["a", "b"]
    assert sample_cluster(record([], [], []), 3, rng) == []


def test_sidecar_round_trip(tmp_path):
    names = ["dog", "grass", "race car"]
    write_sidecar(tmp_path / "00000.parquet", ["k0", "k1", "k2"], np.array([0, 2, 2, 3]),
                  np.array([2, 0, 1]), np.array([0.5, 0.25, 0.125]), np.array([1.0, 2.0, 3.0]),
                  np.array([1.5, 2.25, 3.125]), np.array([0, 1, -1]), np.array([2, 1, 3]), names)
    cur = load_curation(tmp_path)
    assert list(cur) == ["k0", "k1", "k2"]
    assert cur["k0"].concepts == ["race car", "dog"]
    assert cur["k0"].concept_ids.tolist() == [2, 0] and cur["k0"].concept_ids.dtype == np.int32
    np.testing.assert_array_equal(cur["k0"].score, np.array([1.5, 2.25], np.float32))
    assert cur["k1"].concepts == [] and len(cur["k1"]) == 0
    assert cur["k2"].cluster.tolist() == [-1] and cur["k2"].n_refs.tolist() == [3]
    import pyarrow.parquet as pq
    assert pq.read_schema(tmp_path / "00000.parquet").field("s_a").type.value_type.bit_width == 32


def test_load_curation_errors(tmp_path):
    with pytest.raises(CocuError, match="does not exist"):
        load_curation(tmp_path / "nope")
    with pytest.raises(CocuError, match="no curation sidecars"):
        load_curation(tmp_path)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(CocuError, match="cannot read"):
        load_curation(tmp_path)


def test_samplers_registry_holds_plain_and_cluster():
    assert list(SAMPLERS) == ["plain", "cluster"]
    r = record(["dog", "grass", "sky"], [2.0, 1.0, 0.5], [0, 0, 1])
    assert SAMPLERS["plain"](r, 2, np.random.default_rng(0)) == ["dog", "grass"]
    assert SAMPLERS["cluster"](r, 2, np.random.default_rng(0)) == sample_cluster(r, 2, np.random.default_rng(0))


def test_read_sidecar_is_one_shard_and_path_follows_the_shard_stem(tmp_path):
    names = ["dog", "sky"]
    for stem, keys in (("00000", ["a", "b"]), ("00001", ["c"])):
        n = len(keys)
        write_sidecar(sidecar_path(tmp_path, f"/data/{stem}.tar"), keys, np.arange(n + 1), np.ones(n, np.int64),
                      np.ones(n), np.ones(n), np.full(n, 0.5), np.full(n, -1), np.ones(n), names)
    assert sidecar_path(tmp_path, "/d/00001.tar.gz") == tmp_path / "00001.parquet"
    one = read_sidecar(tmp_path / "00000.parquet")
    assert list(one) == ["a", "b"] and one["b"].concepts == ["sky"] and one["b"].score.tolist() == [0.5]
    assert list(load_curation(tmp_path)) == ["a", "b", "c"]


def test_sidecar_bytes_do_not_depend_on_input_dtypes(tmp_path):
    args = (["k0", "k1"], np.array([0, 1, 2]), np.array([1, 0]), np.array([0.5, 0.25]), np.array([1.0, 2.0]),
            np.array([1.5, 2.5]), np.array([0, 1]), np.array([2, 1]), ["dog", "sky"])
    write_sidecar(tmp_path / "a.parquet", *args)
    cast = [a.astype(np.float32 if a.dtype.kind == "f" else np.int32) if isinstance(a, np.ndarray) else a
            for a in args]
    write_sidecar(tmp_path / "b.parquet", *cast)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_vocabulary_hash_of_the_manifest_is_checked(tmp_path):
    vocab = Vocabulary.from_text("dog, puppy\nsky\n")
    check_vocabulary(tmp_path, vocab)  # no manifest: nothing to compare
    for v in (vocab, vocab.with_extraction("official")):  # curated with either extraction semantics
        (tmp_path / MANIFEST).write_text(json.dumps({"vocab_hash": vocab_hash(v), "n_concepts": 2}))
        check_vocabulary(tmp_path, vocab)
    other = Vocabulary.from_text("dog\nsky\n", source="other.txt")  # a synonym less
    with pytest.raises(CocuError, match=r"another vocabulary \(2 concepts, hash .*other.txt \(2 concepts"):
        check_vocabulary(tmp_path, other)
