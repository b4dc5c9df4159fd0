"""The curated prompt source (plain ⑤ / cluster ⑥ draws, synonyms, keys missing from the
sidecar), the texts of a sample, and the sampling checks of TrainConfig."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from cocu.data.shards import Sample, list_shards
from cocu.data.sidecar import MANIFEST, write_sidecar
from cocu.data.vocab import Vocabulary, vocab_hash
from cocu.errors import CocuError
from cocu.train.config import TrainConfig
from cocu.train.data import TrainStream
from cocu.train.prompts import CaptionPrompts, CuratedPrompts, OraclePrompts, SampleTexts, build_texts

VOCAB = Vocabulary.from_text("dog, puppy\ngrass\ncar, automobile, auto\nsky\ntree\n")
SYN = {"dog": ["dog", "puppy"], "grass": ["grass"], "car": ["car", "automobile", "auto"], "sky": ["sky"],
       "tree": ["tree"]}
TEMPLATES = ["a photo of a {}.", "art of the {}."]


def _write(folder, stem, archives: dict[str, list[tuple[str, float, int]]], vocab=VOCAB, manifest=True):
    """``folder/<stem>.parquet`` with key → [(canonical name, score, cluster), ...] (score order)."""
    keys = list(archives)
    rows = [archives[k] for k in keys]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    flat = [c for r in rows for c in r]
    ids = np.array([vocab.concepts.index(n) for n, _, _ in flat], dtype=np.int64)
    score = np.array([s for _, s, _ in flat], dtype=np.float32)
    cluster = np.array([c for _, _, c in flat], dtype=np.int32)
    write_sidecar(folder / f"{stem}.parquet", keys, indptr, ids, score, score, score, cluster,
                  np.ones(len(flat)), vocab.concepts)
    if manifest:
        (folder / MANIFEST).write_text(json.dumps({"vocab_hash": vocab_hash(vocab), "n_concepts": len(vocab)}))


def _sample(key, shard="/data/00000.tar", caption="a dog on the grass near a car"):
    return Sample(key, b"", caption, {}, shard)


@pytest.fixture()
def curation(tmp_path):
    cur = tmp_path / "cur"
    cur.mkdir()
    _write(cur, "00000", {"a": [("dog", 3.0, -1), ("grass", 2.0, -1), ("car", 1.0, -1), ("sky", 0.0, -1)],
                          "b": [("dog", 2.0, 0), ("grass", 1.0, 0), ("sky", 0.5, 1)],
                          "c": []})
    _write(cur, "00001", {"d": [("tree", 1.0, -1)]})
    return cur


def _softmax(x):
    e = [math.exp(v - max(x)) for v in x]
    return [v / sum(e) for v in e]


def naive_cluster_then_synonyms(names, scores, clusters, k, rng):
    """⑥ written out: k clusters by softmax(mean score), one member each by softmax(score),
    then one uniform synonym per drawn name."""
    labels = list(dict.fromkeys(clusters))
    means = [np.mean([s for s, c in zip(scores, clusters) if c == lab]) for lab in labels]
    out = []
    for ci in rng.choice(len(labels), size=k, replace=True, p=_softmax(means)):
        members = [i for i, c in enumerate(clusters) if c == labels[ci]]
        j = members[rng.choice(len(members), p=_softmax([scores[i] for i in members]))]
        out.append(names[j])
    return [SYN[n][int(rng.integers(len(SYN[n])))] for n in out]


def test_plain_draws_are_the_top_k_with_one_synonym_draw_each(curation):
    src = CuratedPrompts(curation, "plain", VOCAB)
    for seed in range(20):
        got = src.prompts(_sample("a"), 3, np.random.default_rng(seed))
        ref = np.random.default_rng(seed)
        assert got == [SYN[n][int(ref.integers(len(SYN[n])))] for n in ("dog", "grass", "car")]
    assert src.prompts(_sample("a"), 9, np.random.default_rng(0))[3] == "sky"  # the whole archive, in order
    assert src.prompts(_sample("c"), 3, np.random.default_rng(0)) == []  # an empty archive is not missing
    assert src.missing == 0


def test_cluster_draws_match_a_naive_reference_and_hand_probabilities(curation):
    src = CuratedPrompts(curation, "cluster", VOCAB)
    for seed in range(20):
        got = src.prompts(_sample("b"), 3, np.random.default_rng(seed))
        ref = naive_cluster_then_synonyms(["dog", "grass", "sky"], [2.0, 1.0, 0.5], [0, 0, 1], 3,
                                          np.random.default_rng(seed))
        assert got == ref
    # clusters {dog 2, grass 1} (mean 1.5) and {sky 0.5}: p(cluster 0) = s = 1 / (1 + e^-1); inside it
    # p(dog) = s; "dog" then shows as dog or puppy with probability 1/2 each
    s = 1 / (1 + math.exp(-1))
    rng = np.random.default_rng(0)
    draws = [n for _ in range(4000) for n in src.prompts(_sample("b"), 3, rng)]
    freq = {n: draws.count(n) / len(draws) for n in ("dog", "puppy", "grass", "sky")}
    assert abs(freq["puppy"] - s * s / 2) < 0.012 and abs(freq["dog"] - s * s / 2) < 0.012
    assert abs(freq["grass"] - s * (1 - s)) < 0.012 and abs(freq["sky"] - (1 - s)) < 0.012
    # an archive without clusters falls back to the top k
    plain = src.prompts(_sample("a"), 2, np.random.default_rng(3))
    ref = np.random.default_rng(3)
    assert plain == [SYN[n][int(ref.integers(len(SYN[n])))] for n in ("dog", "grass")]


def test_synonyms_are_drawn_uniformly_and_unknown_names_draw_nothing(tmp_path):
    cur = tmp_path / "cur"
    cur.mkdir()
    _write(cur, "00000", {"a": [("car", 1.0, -1)]})
    rng = np.random.default_rng(1)
    src = CuratedPrompts(cur, "plain", VOCAB)
    names = [src.prompts(_sample("a"), 1, rng)[0] for _ in range(3000)]
    for n in SYN["car"]:
        assert abs(names.count(n) / 3000 - 1 / 3) < 0.03
    # trained with a vocabulary that lacks the curated name (no manifest, so no hash check):
    # the canonical name is used as it is, and the random stream is left untouched
    _write(cur, "00000", {"a": [("car", 1.0, -1)]}, manifest=False)
    (cur / MANIFEST).unlink()
    other = CuratedPrompts(cur, "plain", Vocabulary.from_text("dog\nsky\n"))
    rng, ref = np.random.default_rng(2), np.random.default_rng(2)
    assert other.prompts(_sample("a"), 3, rng) == ["car"]
    assert rng.integers(1 << 30) == ref.integers(1 << 30)


def test_missing_keys_use_caption_concepts_and_are_counted(curation):
    src = CuratedPrompts(curation, "cluster", VOCAB)
    caption = CaptionPrompts(VOCAB)
    for i, sample in enumerate([_sample("zz"), _sample("d"),  # d lives in shard 00001's sidecar
                                _sample("a", shard="/data/00002.tar")], 1):  # a shard without sidecar
        got = src.prompts(sample, 2, np.random.default_rng(i))
        assert got == caption.prompts(sample, 2, np.random.default_rng(i))
        assert src.missing == i
    assert src.prompts(_sample("d", shard="/elsewhere/00001.tar"), 2, np.random.default_rng(0)) == ["tree"]
    assert src.missing == 3
    bare = CuratedPrompts(curation, "plain", None)  # no vocabulary: no fallback, still counted
    assert bare.prompts(_sample("zz"), 2, np.random.default_rng(0)) == [] and bare.missing == 1
    assert bare.prompts(_sample("a"), 2, np.random.default_rng(0)) == ["dog", "grass"]


def test_one_shard_of_archives_in_memory(curation):
    src = CuratedPrompts(curation, "plain", VOCAB)
    assert src.archives("/x/00000.tar").keys() == {"a", "b", "c"}
    assert src.archives("/x/00001.tar").keys() == {"d"} and src._archives.keys() == {"d"}
    assert src.archives("/x/00007.tar") == {}


def test_curated_source_checks_at_construction(curation, tmp_path):
    with pytest.raises(CocuError, match="sampling must be one of"):
        CuratedPrompts(curation, "nearest", VOCAB)
    with pytest.raises(CocuError, match="another vocabulary"):
        CuratedPrompts(curation, "plain", Vocabulary.from_text("dog, puppy\ngrass\n"))
    (curation / "00005.parquet").write_bytes(b"not parquet")
    with pytest.raises(CocuError, match="cannot read curation sidecar .*00005"):
        CuratedPrompts(curation, "plain", VOCAB)
    with pytest.raises(CocuError, match="does not exist"):
        CuratedPrompts(tmp_path / "nope", "plain", VOCAB)


def test_sample_texts_are_caption_then_k_templated_prompts(curation):
    texts = SampleTexts(CuratedPrompts(curation, "plain", VOCAB), 3, TEMPLATES)
    sample = _sample("b")
    got = texts(sample, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    names = [SYN[n][int(rng.integers(len(SYN[n])))] for n in ("dog", "grass", "sky")]
    assert got == build_texts(sample.caption, names, 3, rng, TEMPLATES) and got[0] == sample.caption
    assert len(texts(_sample("c"), np.random.default_rng(0))) == 4 and texts.missing == 0
    texts(_sample("nope"), np.random.default_rng(0))
    assert texts.missing == 1
    assert SampleTexts(OraclePrompts(VOCAB), 2, TEMPLATES).missing == 0


def test_stream_reports_the_samples_of_an_uncurated_shard_as_missing(shards, tmp_path):
    """Shards 00000 and 00002 curated, 00001 not: one pass (35 decodable samples = 7 batches of
    5; 000010003 is corrupt) has exactly the 11 decodable samples of 00001 missing."""
    vocab = Vocabulary.from_file(shards / "vocab.txt")
    cur = tmp_path / "cur"
    cur.mkdir()
    for s in (0, 2):
        _write(cur, f"{s:05d}", {f"{s:05d}{i:04d}": [("dog", 1.0, -1)] for i in range(12)}, vocab)
    stream = TrainStream(list_shards(shards), batch_size=5, transform=lambda im: torch.zeros(3, 2, 2),
                         texts=SampleTexts(CuratedPrompts(cur, "plain", vocab), 2, TEMPLATES),
                         tokenize=lambda t: torch.zeros(len(t), 1, dtype=torch.long), seed=0, shuffle_buffer=5)
    it = iter(stream)
    batches = [next(it) for _ in range(7)]
    assert batches[-1]["position"][0] == 2  # still in the first pass (draws 0, 1, 2)
    assert sum(b["counts"]["missing_curation"] for b in batches) == 11


@pytest.mark.parametrize("prompts", ["caption", "oracle"])
def test_cluster_sampling_needs_curated_prompts(prompts):
    base = dict(shards="s", out="o", prompts=prompts)
    TrainConfig(**base).validate()  # sampling left at its default
    with pytest.raises(CocuError, match="--sampling cluster .* needs --prompts curated"):
        TrainConfig(**base, sampling="cluster").validate()
    with pytest.raises(CocuError, match="--sampling must be one of"):
        TrainConfig(**base, sampling="nearest").validate()
    TrainConfig(shards="s", out="o", prompts="curated", curation="c", sampling="cluster").validate()
