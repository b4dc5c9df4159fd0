"""Prompt sources: which concept names become the K extra text prompts of a sample.

This is the seam where curation plugs into training. A source returns at most ``k``
concept *names* (synonyms already drawn); :func:`build_texts` turns them into the
official text list ``[caption, template(name_1), ..., template(name_K)]`` and pads with the
caption itself when fewer than K names exist, exactly as GroupViT's
``WordAugTokenizeWrapper`` does (datasets/builder.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cocu.errors import CocuError

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from cocu.data.shards import Sample
    from cocu.data.vocab import Vocabulary


class PromptSource(Protocol):
    """``prompts(sample, k, rng) -> list[str]``: at most k concept names for one sample."""

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]: ...


def _choose(items: Sequence, k: int, rng: np.random.Generator) -> list:
    """Up to k distinct items drawn at random (the official ``np.random.choice(..., replace=False)``)."""
    if len(items) <= k:
        order = rng.permutation(len(items))
    else:
        order = rng.choice(len(items), size=k, replace=False)
    return [items[i] for i in order]


class _SynonymMixin:
    vocab: Vocabulary | None
    _cid_by_name: dict[str, int]

    def _init_vocab(self, vocab: Vocabulary | None) -> None:
        self.vocab = vocab
        self._cid_by_name = {n.lower(): i for i, n in enumerate(vocab.concepts)} if vocab else {}

    def name_for(self, cid_or_name: int | str, rng: np.random.Generator) -> str:
        """A synonym of the concept drawn uniformly (the canonical name when unknown)."""
        if self.vocab is None:
            return str(cid_or_name)
        cid = cid_or_name if isinstance(cid_or_name, int) else self._cid_by_name.get(str(cid_or_name).lower())
        if cid is None:
            return str(cid_or_name)
        names = list(self.vocab.synonyms(cid)) or [self.vocab.concepts[cid]]
        return names[int(rng.integers(len(names)))]


class CaptionConcepts(_SynonymMixin):
    """Baseline: vocabulary concepts found in the sample's own caption (GroupViT's caption nouns)."""

    def __init__(self, vocab: Vocabulary):
        self._init_vocab(vocab)

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        cids = self.vocab.extract(sample.caption)
        return [self.name_for(int(c), rng) for c in _choose(cids, k, rng)]


class TrueConcepts(_SynonymMixin):
    """Oracle: the classes truly present (``meta["classes"]`` of the synthetic world)."""

    def __init__(self, vocab: Vocabulary | None = None):
        self._init_vocab(vocab)

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        classes = list((sample.meta or {}).get("classes", []))
        return [self.name_for(c, rng) for c in _choose(classes, k, rng)]


class CuratedConcepts(_SynonymMixin):
    """CoCu: concepts from the curation sidecar, plain (top-k) or cluster-guided sampling.

    Samples whose key is missing from the sidecar fall back to their caption's concepts
    (when a vocabulary is given) and are counted in ``missing``.
    """

    def __init__(self, curation_dir: str | Path, sampling: str = "plain",
                 vocab: Vocabulary | None = None):
        from cocu.curation import sidecar  # curation hands training a file, never a callback

        if sampling not in ("plain", "cluster"):
            raise CocuError(f"sampling must be 'plain' or 'cluster', got {sampling!r}")
        if not Path(curation_dir).is_dir():
            raise CocuError(f"curation folder {curation_dir} does not exist")
        self._init_vocab(vocab)
        self.sampling = sampling
        self.table = sidecar.load_curation(curation_dir)
        self._sample_plain = getattr(sidecar, "sample_plain", None)
        self._sample_cluster = getattr(sidecar, "sample_cluster", None)
        if self._sample_plain is None or self._sample_cluster is None:
            from cocu.curation import sampling as _sampling  # type: ignore[attr-defined]
            self._sample_plain = _sampling.sample_plain
            self._sample_cluster = _sampling.sample_cluster
        self.missing = 0

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        entry = self.table.get(sample.key)
        if entry is None:
            self.missing += 1
            if self.vocab is None:
                return []
            cids = self.vocab.extract(sample.caption)
            return [self.name_for(int(c), rng) for c in _choose(cids, k, rng)]
        if self.sampling == "plain":
            names = self._sample_plain(entry, k)
        else:
            names = self._sample_cluster(entry, k, rng)
        return [self.name_for(n, rng) for n in names][:k]


def check_curation_coverage(curation_dir: str | Path | None, shards: Sequence[str | Path]) -> None:
    """Before training: the curation sidecars (``<shard stem>.parquet``) must cover the shards.

    CocuError when they cover none (the run would silently be the caption baseline); a warning
    naming how many shards are not covered otherwise (those samples are counted as
    ``missing_curation`` while training).
    """
    from cocu.curation.sidecar import sidecar_files

    if not curation_dir:
        raise CocuError("--prompts curated needs --curation DIR")
    stems = {f.stem for f in sidecar_files(curation_dir)}
    uncovered = [Path(s) for s in shards if Path(s).name.split(".")[0] not in stems]
    if len(uncovered) == len(shards):
        raise CocuError(f"the curation {curation_dir} covers none of the {len(shards)} training shards (it has "
                        f"sidecars for {', '.join(sorted(stems)[:3])}{' ...' if len(stems) > 3 else ''}, the "
                        f"shards are {', '.join(Path(s).name for s in shards[:3])}{' ...' if len(shards) > 3 else ''}): "
                        "curate these shards first")
    if uncovered:
        log.warning("%d of %d training shards have no curation sidecar in %s (e.g. %s); their samples use "
                    "caption concepts and are counted as missing_curation", len(uncovered), len(shards),
                    curation_dir, uncovered[0].name)


def build_prompt_source(kind: str, *, vocab: Vocabulary | None, curation: str | None = None,
                        sampling: str = "plain") -> PromptSource:
    """The source named by ``--prompts`` (caption | oracle | curated)."""
    if kind == "caption":
        if vocab is None:
            raise CocuError("--prompts caption needs a vocabulary")
        return CaptionConcepts(vocab)
    if kind == "oracle":
        return TrueConcepts(vocab)
    if kind == "curated":
        if not curation:
            raise CocuError("--prompts curated needs --curation DIR")
        return CuratedConcepts(curation, sampling, vocab)
    raise CocuError(f"unknown prompt source {kind!r} (caption | oracle | curated)")


def build_texts(caption: str, names: Sequence[str], k: int, rng: np.random.Generator,
                templates: Sequence[str]) -> list[str]:
    """``[caption] + [random template(name)] + caption padding``: exactly 1 + k strings."""
    from cocu.data.templates import format_prompt

    texts = [format_prompt(templates[int(rng.integers(len(templates)))], n) for n in list(names)[:k]]
    texts += [caption] * (k - len(texts))
    return [caption, *texts]
