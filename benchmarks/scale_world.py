"""Synthetic embedding corpora for the curation benchmarks (shared by curation_scale.py).

``nested`` (the default): nested clusters with a decaying spectrum, the two properties of
CLIP image embeddings that give kNN its meaning. A 4-level hierarchy (themes → topics →
subtopics → near-duplicate groups) of offsets, each level smaller than the one above, plus
per-image noise; every offset and the noise are Gaussians whose variance decays as a power
law over a random orthonormal basis (λ_j ∝ j^-1, the shape of CLIP's PCA spectrum), so the
effective dimension is ~30, not 512. The similarity to the k-th neighbour then falls with k
(the N-th and the 10·N-th neighbour differ clearly), and recall@N measures something.

``isotropic`` (the hard case, the old ``curation_speed.py`` generator): isotropic noise of
norm 1 around 1,000 topic centres. In 512 dimensions all members of a topic are nearly
equally similar to each other, so which 8 of them are "the" neighbours is decided by noise:
recall is hard and means little.

Captions: 1–4 concepts drawn from the image's topic / subtopic pools (1,921 concepts); a
concept's text embedding leans towards the topics that use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation_speed import SyntheticVocab  # noqa: F401 - re-exported for curation_scale.py
from curation_speed import make_shard as isotropic_shard
from curation_speed import make_world as isotropic_world

# images per level: 32 themes × 16 topics × 16 subtopics × (groups of ~8 images)
BRANCHING = (32, 16, 16)
GROUP_SIZE = 8
LEVEL_SCALE = (1.0, 0.75, 0.55, 0.4)  # theme, topic, subtopic, group offsets
NOISE_SCALE = 0.5


def _spectral(rng: np.random.Generator, n: int, basis: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """n Gaussian vectors with covariance basis·diag(sd²)·basisᵀ, float32 [n, d]."""
    return (rng.standard_normal((n, len(sd)), dtype=np.float32) * sd) @ basis


@dataclass
class World:
    kind: str
    d: int
    concept_emb: np.ndarray  # float32 [C, d]
    # nested
    basis: np.ndarray | None = None
    sd: np.ndarray | None = None
    sub_centres: np.ndarray | None = None  # [n_sub, d] theme+topic+subtopic sums
    sub_pool: np.ndarray | None = None  # [n_sub, 8] concept ids (4 topic + 4 subtopic)
    n_groups: int = 0
    # isotropic
    centres: np.ndarray | None = None
    pools: np.ndarray | None = None


def make_world(kind: str, n: int, d: int = 512, n_concepts: int = 1921, seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    if kind == "isotropic":
        centres, t, pools = isotropic_world(n, d, n_concepts, 1000, rng)
        return World(kind, d, t, centres=centres, pools=pools)
    if kind != "nested":
        raise ValueError(f"unknown generator {kind!r}")
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
    sd = (np.arange(1, d + 1, dtype=np.float32) ** -0.5)
    sd /= np.sqrt((sd ** 2).sum())  # unit expected norm
    nt, ns, nu = BRANCHING
    theme = _spectral(rng, nt, basis, sd) * LEVEL_SCALE[0]
    topic = np.repeat(theme, ns, 0) + _spectral(rng, nt * ns, basis, sd) * LEVEL_SCALE[1]
    sub = np.repeat(topic, nu, 0) + _spectral(rng, nt * ns * nu, basis, sd) * LEVEL_SCALE[2]
    topic_pool = rng.integers(0, n_concepts, (nt * ns, 4))
    sub_pool = np.concatenate([np.repeat(topic_pool, nu, 0),
                               rng.integers(0, n_concepts, (nt * ns * nu, 4))], 1)
    t = rng.standard_normal((n_concepts, d)).astype(np.float32) * 0.05
    np.add.at(t, topic_pool[:, 0], topic[:, :] / np.linalg.norm(topic, axis=1, keepdims=True))
    np.add.at(t, sub_pool[:, 4], sub / np.linalg.norm(sub, axis=1, keepdims=True))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return World(kind, d, t, basis=basis, sd=sd, sub_centres=sub.astype(np.float32),
                 sub_pool=sub_pool, n_groups=max(1, n // GROUP_SIZE))


def make_shard(world: World, n: int, seed) -> tuple[np.ndarray, list[np.ndarray]]:
    """[n, d] float16 unit embeddings and per image its caption's concept ids (1–4)."""
    rng = np.random.default_rng(seed)
    if world.kind == "isotropic":
        return isotropic_shard(n, world.centres, world.pools, rng)
    k = rng.integers(1, 5, n)
    g = rng.integers(0, world.n_groups, n)
    sub = g % len(world.sub_centres)  # a group belongs to one subtopic
    x = (world.sub_centres[sub] + group_centre_cached(world, g)
         + _spectral(rng, n, world.basis, world.sd) * NOISE_SCALE)
    pool = world.sub_pool[sub]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    picks = rng.integers(0, pool.shape[1], (n, 4))
    caps = [np.unique(pool[i, picks[i, :k[i]]]).astype(np.int32) for i in range(n)]
    return x.astype(np.float16), caps


_GROUP_CACHE: dict = {}


def group_centre_cached(world: World, g: np.ndarray) -> np.ndarray:
    """``group_centre`` for all groups at once (computed once per world, [n_groups, d])."""
    key = id(world)
    if key not in _GROUP_CACHE:
        rng = np.random.default_rng(7)
        _GROUP_CACHE.clear()
        _GROUP_CACHE[key] = (_spectral(rng, world.n_groups, world.basis, world.sd)
                             * LEVEL_SCALE[3]).astype(np.float16)
    return _GROUP_CACHE[key][g].astype(np.float32)
