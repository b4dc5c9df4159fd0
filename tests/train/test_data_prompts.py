"""Data stream splitting/determinism/resume positions, prompt sources and text padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cocu.data.shards import Sample, list_shards
from cocu.data.vocab import Vocabulary
from cocu.train.data import StreamState, TrainStream, slot_sources
from cocu.train.prompts import CaptionPrompts, OraclePrompts, SampleTexts, build_prompt_source, build_texts

TEMPLATES = ["a photo of a {}.", "art of the {}."]


def _stream(shards, **kw):
    def transform(im):
        return torch.from_numpy(np.asarray(im.resize((8, 8)), dtype=np.float32)).permute(2, 0, 1) + torch.rand(1)

    def tokenize(texts):  # a stand-in: one id per text, enough to follow them through
        return torch.tensor([[hash(t) % 1000] for t in texts])
    vocab = Vocabulary.from_file(shards / "vocab.txt")
    args = dict(batch_size=4, transform=transform, texts=SampleTexts(OraclePrompts(vocab), 2, TEMPLATES),
                tokenize=tokenize, seed=0, shuffle_buffer=5)
    args.update(kw)
    return TrainStream(list_shards(shards), **args)


def _take(stream, n):
    it = iter(stream)
    return [next(it) for _ in range(n)]


def test_slot_sources_are_disjoint():
    shards = [f"s{i}" for i in range(5)]
    slots = slot_sources(shards, 2)
    assert sorted(s for slot in slots for s, _, _ in slot) == shards
    few = slot_sources(shards[:1], 3)  # fewer shards than slots: split by sample index
    assert [src[0][1:] for src in few] == [(3, 0), (3, 1), (3, 2)]


def test_ranks_see_distinct_samples_and_stream_is_deterministic(shards):
    keys = {}
    for rank in (0, 1):
        stream = _stream(shards, rank=rank, world_size=2)
        # follow the images: rank slots read disjoint shards
        batches = _take(stream, 3)
        keys[rank] = {b["slot"] for b in batches}
        again = _take(_stream(shards, rank=rank, world_size=2), 3)
        for a, b in zip(batches, again, strict=True):
            assert torch.equal(a["images"], b["images"]) and torch.equal(a["text_ids"], b["text_ids"])
    assert keys == {0: {0}, 1: {1}}
    other_seed = _take(_stream(shards, seed=1), 1)[0]
    assert not torch.equal(other_seed["images"], _take(_stream(shards), 1)[0]["images"])


def test_restart_from_position_continues_the_stream(shards):
    full = _take(_stream(shards), 12)  # 48 samples: crosses shard boundaries (36 samples, one corrupt)
    cut = 5
    state = StreamState(1, {0: full[cut - 1]["position"]})
    resumed = _take(_stream(shards, state=state, start_step=cut), 12 - cut)
    for a, b in zip(full[cut:], resumed, strict=True):
        assert torch.equal(a["images"], b["images"]) and torch.equal(a["text_ids"], b["text_ids"])
        assert a["position"] == b["position"]
    assert sum(b["counts"]["corrupt"] for b in full) >= 1


def test_build_texts_pads_with_caption_like_official():
    rng = np.random.default_rng(0)
    texts = build_texts("a dog on grass", ["puppy"], 3, rng, TEMPLATES)
    assert texts[0] == "a dog on grass" and texts[2:] == ["a dog on grass", "a dog on grass"]
    assert texts[1] in {t.format("puppy") for t in TEMPLATES}
    assert build_texts("c", [], 2, rng, TEMPLATES) == ["c", "c", "c"]


def test_prompt_sources(shards):
    vocab = Vocabulary.from_file(shards / "vocab.txt")
    sample = Sample("k", b"", "a dog and a car near a tree", {"classes": ["sky", "road"]}, "s")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        names = CaptionPrompts(vocab).prompts(sample, 2, rng)
        assert len(names) == 2 and len(set(names)) == 2
        seen.update(names)
    assert seen <= {"dog", "puppy", "car", "automobile", "tree"} and {"puppy", "dog"} <= seen
    oracle = {n for _ in range(30) for n in OraclePrompts(vocab).prompts(sample, 5, rng)}
    assert oracle == {"sky", "road", "street"}
    with pytest.raises(Exception, match="curation"):
        build_prompt_source("curated", vocab=vocab)
