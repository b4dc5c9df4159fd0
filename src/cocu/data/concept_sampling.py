"""Drawing the k extra prompts of a step from an anchor's curated archive (⑤ / ⑥).

:data:`SAMPLERS` is the one registry of the ways (``--sampling``): the training config
checks against it, the CLI offers its names, the curated prompt source draws with it.
Every sampler is ``sampler(archive, k, rng) -> list[str]`` (at most k concept names).

``sample_plain`` is what the released CoCu code trains with: the k top-ranked concepts.
``sample_cluster`` follows the official (disabled) k-means sampling in
``datasets/builder.py``: a cluster is drawn with probability softmax(mean score of its
members), k times *with replacement*, then one concept inside each drawn cluster with
probability softmax(member scores). Archives without clusters (≤ 2 concepts, or one
cluster) fall back to plain sampling (the official code has no working fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cocu.data.sidecar import ConceptArchive


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, dtype=np.float64)
    z = np.exp(z - z.max())
    return z / z.sum()


def sample_plain(record: ConceptArchive, k: int, rng: np.random.Generator | None = None) -> list[str]:
    """⑤ The k top-ranked concept names (fewer when the archive is smaller); draws nothing."""
    return list(record.concepts[:k])


def cluster_probabilities(record: ConceptArchive) -> tuple[np.ndarray, np.ndarray]:
    """The cluster labels (in first-appearance order) and their draw probabilities
    softmax(mean member score)."""
    labels = list(dict.fromkeys(int(c) for c in record.cluster))
    means = np.array([record.score[record.cluster == c].mean() for c in labels])
    return np.asarray(labels, dtype=np.int32), _softmax(means)


def sample_cluster(record: ConceptArchive, k: int, rng: np.random.Generator, *,
                   replace: bool = True) -> list[str]:
    """⑥ Draw k clusters by score, then one concept inside each by score.

    replace=True is the official behaviour (a cluster, and so a concept, may repeat);
    replace=False draws min(k, n) distinct clusters for more diverse prompts, n the clusters
    whose probability is not 0 in float64 (t2v scores span thousands, so e^(s - max) underflows).
    """
    if len(record) == 0:
        return []
    if (record.cluster < 0).any() or len(np.unique(record.cluster)) < 2:
        return sample_plain(record, k)
    labels, p = cluster_probabilities(record)
    n_draw = k if replace else min(k, int(np.count_nonzero(p)))
    drawn = rng.choice(len(labels), size=n_draw, replace=replace, p=p)
    out = []
    for ci in drawn:
        members = np.flatnonzero(record.cluster == labels[ci])
        j = members[rng.choice(len(members), p=_softmax(record.score[members]))]
        out.append(record.concepts[j])
    return out


Sampler = Callable[["ConceptArchive", int, np.random.Generator], list[str]]
SAMPLERS: dict[str, Sampler] = {"plain": sample_plain, "cluster": sample_cluster}
DEFAULT_SAMPLING = "plain"
