"""Prompt sources: which concept names become the K extra text prompts of a sample.

This is the seam where curation plugs into training: the curated source reads the sidecar
format (:mod:`cocu.data.sidecar`) one shard at a time, never ``cocu.curation``. A source
returns at most ``k`` concept *names* (synonyms already drawn); :class:`SampleTexts` is the
one object the training stream holds: it asks the source and turns the names into the
official text list ``[caption, template(name_1), ..., template(name_K)]``, padded with the
caption itself when fewer than K names exist, exactly as GroupViT's
``WordAugTokenizeWrapper`` does (datasets/builder.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cocu.data.concept_sampling import DEFAULT_SAMPLING, SAMPLERS
from cocu.data.shards import shard_stem
from cocu.data.sidecar import (ConceptArchive, check_sidecar, check_vocabulary, read_sidecar, sidecar_files,
                               sidecar_path)
from cocu.data.templates import IMAGENET_TEMPLATES, format_prompt
from cocu.data.vocab import resolve_vocabulary
from cocu.errors import CocuError

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from cocu.data.shards import Sample
    from cocu.data.vocab import Vocabulary
    from cocu.train.config import TrainConfig

PROMPT_SOURCES = ("caption", "oracle", "curated")  # --prompts


class PromptSource(Protocol):
    """``prompts(sample, k, rng) -> list[str]``: at most k concept names for one sample;
    ``missing``: samples it had no entry for (0 for sources that need none)."""

    missing: int

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]: ...


def _choose(items: Sequence, k: int, rng: np.random.Generator) -> list:
    """Up to k distinct items drawn at random (the official ``np.random.choice(..., replace=False)``)."""
    if len(items) <= k:
        order = rng.permutation(len(items))
    else:
        order = rng.choice(len(items), size=k, replace=False)
    return [items[i] for i in order]


class Synonyms:
    """A concept (id or canonical name) → one of its names, drawn uniformly."""

    def __init__(self, vocab: Vocabulary | None):
        self.vocab = vocab
        self._cid_by_name = {n.lower(): i for i, n in enumerate(vocab.concepts)} if vocab else {}

    def draw(self, cid_or_name: int | str, rng: np.random.Generator) -> str:
        """A synonym drawn uniformly (one ``rng.integers`` draw); the name itself, without a
        draw, when there is no vocabulary or the name is not in it."""
        if self.vocab is None:
            return str(cid_or_name)
        cid = cid_or_name if isinstance(cid_or_name, int) else self._cid_by_name.get(str(cid_or_name).lower())
        if cid is None:
            return str(cid_or_name)
        names = list(self.vocab.synonyms(cid)) or [self.vocab.concepts[cid]]
        return names[int(rng.integers(len(names)))]


class CaptionPrompts:
    """Baseline (``--prompts caption``): vocabulary concepts found in the sample's own caption."""

    missing = 0

    def __init__(self, vocab: Vocabulary):
        self.vocab, self.synonyms = vocab, Synonyms(vocab)

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        cids = self.vocab.extract(sample.caption)
        return [self.synonyms.draw(int(c), rng) for c in _choose(cids, k, rng)]


class OraclePrompts:
    """Oracle (``--prompts oracle``): the classes truly present (``meta["classes"]``)."""

    missing = 0

    def __init__(self, vocab: Vocabulary | None = None):
        self.synonyms = Synonyms(vocab)

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        classes = list((sample.meta or {}).get("classes", []))
        return [self.synonyms.draw(c, rng) for c in _choose(classes, k, rng)]


class CuratedPrompts:
    """CoCu (``--prompts curated``): concepts drawn from the sample's curated archive with
    the sampler ``SAMPLERS[sampling]`` (chosen once, here).

    The sidecar of a shard is read when the first sample of that shard arrives and replaces
    the previous one (memory: one shard per data worker). Samples without an entry use
    their caption's concepts (nothing without a vocabulary) and are counted in ``missing``.
    """

    def __init__(self, curation_dir: str | Path, sampling: str = DEFAULT_SAMPLING,
                 vocab: Vocabulary | None = None):
        if sampling not in SAMPLERS:
            raise CocuError(f"sampling must be one of {list(SAMPLERS)}, got {sampling!r}")
        for f in sidecar_files(curation_dir):
            check_sidecar(f)
        if vocab is not None:
            check_vocabulary(curation_dir, vocab)
        self.curation_dir = Path(curation_dir)
        self.sample = SAMPLERS[sampling]
        self.synonyms = Synonyms(vocab)
        self.fallback = CaptionPrompts(vocab) if vocab is not None else None
        self.missing = 0
        self._shard: str | None = None
        self._archives: dict[str, ConceptArchive] = {}

    def archives(self, shard: str) -> dict[str, ConceptArchive]:
        """Sample key → archive for the samples of ``shard`` (empty when it has no sidecar)."""
        if shard != self._shard:
            path = sidecar_path(self.curation_dir, shard)
            self._archives = read_sidecar(path) if path.is_file() else {}
            self._shard = shard
        return self._archives

    def prompts(self, sample: Sample, k: int, rng: np.random.Generator) -> list[str]:
        archive = self.archives(sample.shard).get(sample.key)
        if archive is None:
            self.missing += 1
            return self.fallback.prompts(sample, k, rng) if self.fallback is not None else []
        return [self.synonyms.draw(n, rng) for n in self.sample(archive, k, rng)]


def check_curation_coverage(curation_dir: str | Path | None, shards: Sequence[str | Path]) -> None:
    """Before training: the curation sidecars (``<shard stem>.parquet``) must cover the shards.

    CocuError when they cover none (the run would silently be the caption baseline); a warning
    naming how many shards are not covered otherwise (those samples are counted as
    ``missing_curation`` while training).
    """
    if not curation_dir:
        raise CocuError("--prompts curated needs --curation DIR")
    stems = {f.stem for f in sidecar_files(curation_dir)}
    uncovered = [Path(s) for s in shards if shard_stem(s) not in stems]
    if len(uncovered) == len(shards):
        raise CocuError(f"the curation {curation_dir} covers none of the {len(shards)} training shards (it has "
                        f"sidecars for {', '.join(sorted(stems)[:3])}{' ...' if len(stems) > 3 else ''}, the "
                        f"shards are {', '.join(Path(s).name for s in shards[:3])}{' ...' if len(shards) > 3 else ''}): "
                        "curate these shards first")
    if uncovered:
        log.warning("%d of %d training shards have no curation sidecar in %s (e.g. %s); their samples use "
                    "caption concepts and are counted as missing_curation", len(uncovered), len(shards),
                    curation_dir, uncovered[0].name)


def build_prompt_source(kind: str, *, vocab: Vocabulary | None, curation: str | Path | None = None,
                        sampling: str = DEFAULT_SAMPLING) -> PromptSource:
    """The source named by ``--prompts`` (one of :data:`PROMPT_SOURCES`)."""
    if kind == "caption":
        if vocab is None:
            raise CocuError("--prompts caption needs a vocabulary")
        return CaptionPrompts(vocab)
    if kind == "oracle":
        return OraclePrompts(vocab)
    if kind == "curated":
        if not curation:
            raise CocuError("--prompts curated needs --curation DIR")
        return CuratedPrompts(curation, sampling, vocab)
    raise CocuError(f"unknown prompt source {kind!r} ({' | '.join(PROMPT_SOURCES)})")


def build_texts(caption: str, names: Sequence[str], k: int, rng: np.random.Generator,
                templates: Sequence[str]) -> list[str]:
    """``[caption] + [random template(name)] + caption padding``: exactly 1 + k strings."""
    texts = [format_prompt(templates[int(rng.integers(len(templates)))], n) for n in list(names)[:k]]
    texts += [caption] * (k - len(texts))
    return [caption, *texts]


@dataclass
class SampleTexts:
    """A sample → its ``1 + k`` texts (caption first): the prompt source's names, each in a
    random template, padded with the caption. ``missing`` counts samples the source had no
    entry for (curated prompts)."""

    source: PromptSource
    k: int
    templates: Sequence[str]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> list[str]:
        names = self.source.prompts(sample, self.k, rng)
        return build_texts(sample.caption, names, self.k, rng, self.templates)

    @property
    def missing(self) -> int:
        return self.source.missing


def sample_texts(cfg: TrainConfig, shards: Sequence[str | Path]) -> SampleTexts:
    """The texts of a training run: ``cfg.prompts`` over ``cfg.vocab`` (resolved by
    :func:`cocu.data.vocab.resolve_vocabulary` beside the shards), the 80 ImageNet
    templates. Curated prompts are checked now: the sidecars must cover some of ``shards``,
    be readable, and come from the same vocabulary."""
    if cfg.prompts == "curated":
        check_curation_coverage(cfg.curation, shards)
    vocab = resolve_vocabulary(cfg.vocab, data=cfg.shards)
    source = build_prompt_source(cfg.prompts, vocab=vocab, curation=cfg.curation, sampling=cfg.sampling)
    return SampleTexts(source, cfg.multi_label, IMAGENET_TEMPLATES)
