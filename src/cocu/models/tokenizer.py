"""CLIP BPE tokenizer (open_clip's SimpleTokenizer; the vocabulary ships with open_clip, no download).

Texts are cleaned and lower-cased, wrapped in <start_of_text> … <end_of_text>, zero-padded to
``context_length``; a text that is too long is cut and its last token replaced by EOT (as CLIP and
GroupViT do), so ``ids.argmax(-1)`` always finds the EOT position.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from cocu.errors import CocuError

CONTEXT_LENGTH = 77


@functools.lru_cache(maxsize=1)
def get_tokenizer():  # -> open_clip.tokenizer.SimpleTokenizer
    """The shared SimpleTokenizer instance (built once; reads open_clip's bundled BPE merges)."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def sot_token_id() -> int:
    return int(get_tokenizer().sot_token_id)


def eot_token_id() -> int:
    return int(get_tokenizer().eot_token_id)


@functools.lru_cache(maxsize=1 << 16)
def _tokenize_one(text: str, context_length: int) -> torch.Tensor:
    """One text → its ids [context_length] (cached: training draws the same prompts again and again)."""
    return get_tokenizer()([text], context_length=context_length)[0]


def tokenize(texts: str | Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.LongTensor:
    """texts (N strings) → LongTensor [N, context_length] (a fresh tensor; rows are cached per text)."""
    if isinstance(texts, str):
        texts = [texts]
    if context_length < 2:
        raise CocuError(f"context_length must be ≥ 2 (SOT and EOT), got {context_length}")
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise CocuError(f"tokenize expects strings, got {type(bad[0]).__name__}")
    if not texts:
        return torch.zeros(0, context_length, dtype=torch.long)
    return torch.stack([_tokenize_one(t, context_length) for t in texts])


def decode(ids: torch.Tensor | Sequence[int]) -> str:
    """One row of token ids → text, without SOT/EOT and padding (stops at the first EOT)."""
    tok = get_tokenizer()
    seq = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    out: list[int] = []
    for i in seq:
        if i == tok.eot_token_id:
            break
        if i != tok.sot_token_id:
            out.append(int(i))
    return tok.decode(out).strip()


def decode_batch(ids: torch.Tensor) -> list[str]:
    """[N, T] → N texts."""
    return [decode(row) for row in ids]
