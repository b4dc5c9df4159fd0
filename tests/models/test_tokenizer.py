"""CLIP BPE tokenizer wrapper: round trips, special tokens, truncation."""

from __future__ import annotations

import pytest
import torch

from cocu.errors import CocuError
from cocu.models.tokenizer import decode, decode_batch, eot_token_id, sot_token_id, tokenize


def test_special_tokens_and_padding():
    ids = tokenize(["a dog"])
    assert ids.dtype == torch.long and ids.shape == (1, 77)
    assert sot_token_id() == 49406 and eot_token_id() == 49407  # CLIP's vocabulary of 49408
    row = ids[0].tolist()
    assert row[0] == 49406
    eot = row.index(49407)
    assert eot == 3  # SOT, "a", "dog", EOT
    assert all(t == 0 for t in row[eot + 1:])
    assert int(ids[0].argmax()) == eot  # the text tower finds EOT by argmax


def test_round_trip_recovers_lower_cased_text():
    texts = ["A Photo of a DOG", "two cats on the sofa", "race car near the sea"]
    assert decode_batch(tokenize(texts)) == [t.lower() for t in texts]
    assert decode(tokenize("  extra   spaces here ")[0]) == "extra spaces here"


def test_truncation_keeps_eot_last():
    long = " ".join(["word"] * 200)
    ids = tokenize([long], context_length=16)[0]
    assert ids.shape == (16,)
    assert ids[0] == sot_token_id() and ids[-1] == eot_token_id()
    assert decode(ids) == " ".join(["word"] * 14)


def test_bad_input_is_a_clear_error():
    with pytest.raises(CocuError, match="strings"):
        tokenize([1, 2])
    with pytest.raises(CocuError, match="context_length"):
        tokenize(["x"], context_length=1)


def test_cached_rows_match_open_clip_and_stay_unshared():
    from open_clip.tokenizer import SimpleTokenizer

    texts = ["a photo of a dog.", "A Puppy &amp; a CAR", "a photo of a dog.", "", " ".join(["word"] * 100)]
    ref = SimpleTokenizer()(texts, context_length=77)  # open_clip itself, no cache
    for _ in range(2):  # the second call is served from the cache
        ids = tokenize(texts)
        assert torch.equal(ids, ref)
        ids[0, 1] = 7  # callers may write into what they get: the cache must not see it
    assert torch.equal(tokenize(texts[:1]), ref[:1])
    assert tokenize([]).shape == (0, 77) and tokenize([], context_length=5).shape == (0, 5)
