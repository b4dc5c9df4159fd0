"""``cocu curate``: the concept archive and scores of every anchor, one sidecar per shard.

Streams the anchor shards of an embedding folder; per block of anchors it runs one
batched FAISS search, then the vectorised scoring of ``core.curate_block``. The retrieval
corpus (the index's embedding folder) contributes only its concept ids (CSR) and one
similarity per (image, concept it names), so memory is the index plus O(concept mentions).

Expansion: ``vision`` (②) searches an image index; ``language`` (①) searches a caption
index with the anchor image and pools the retrieved captions' concepts — the reference
images of a concept are then the images paired with those captions.
A precomputed kNN graph of the corpus (``cocu index --graph``) replaces the search when
the anchors are the corpus itself. Concept prompts: ``"a photo of a {name}"`` for each
vocabulary entry's canonical name (``prompt="canonical"``, the official choice), or the
normalised mean over all its synonyms (``prompt="synonyms"``). With a vocabulary whose
``extraction`` is ``"official"`` a neighbour names a concept by substring (``vocab.py``).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cocu.curation.core import (RANKINGS, ConceptLists, cluster_archive, concat_indptr, curate_block,
                                drop_anchor, reference_similarities)
from cocu.curation.embstore import EmbeddingStore
from cocu.curation.index import KnnGraph, load_index
from cocu.data.sidecar import MANIFEST, read_manifest, write_sidecar
from cocu.data.templates import CURATION_PROMPT
from cocu.data.vocab import vocab_hash
from cocu.errors import CocuError
from cocu.utils.checks import require
from cocu.utils.io import atomic_path, check_output, write_json
from cocu.utils.progress import progress

log = logging.getLogger(__name__)

EXPANSIONS = {"vision": "img", "language": "text"}


def concept_prompts(vocab, prompt: str = "canonical") -> tuple[list[str], np.ndarray]:
    """Prompt texts and, per text, the concept id it belongs to."""
    texts, owner = [], []
    for cid in range(len(vocab)):
        names = vocab.synonyms(cid) if prompt == "synonyms" else [vocab.concepts[cid]]
        texts += [CURATION_PROMPT.format(n) for n in names]
        owner += [cid] * len(names)
    return texts, np.asarray(owner)


def concept_embeddings(encoder, vocab, prompt: str = "canonical") -> np.ndarray:
    """t_c for every vocabulary entry: [C, d] float32, L2-normalised."""
    if prompt not in ("canonical", "synonyms"):
        raise CocuError(f"prompt must be canonical or synonyms, got {prompt!r}")
    texts, owner = concept_prompts(vocab, prompt)
    emb = np.asarray(encoder.encode_texts(texts), dtype=np.float32)
    t = np.zeros((len(vocab), emb.shape[1]), dtype=np.float64)
    np.add.at(t, owner, emb)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return t.astype(np.float32)


@dataclass
class CurateSettings:
    expansion: str = "vision"
    ranking: str = "t2v"
    neighbours: int = 8
    clusters: bool = False
    exclude_anchor: bool = False
    prompt: str = "canonical"
    block_size: int = 2048

    def check(self) -> None:
        if self.expansion not in EXPANSIONS:
            raise CocuError(f"--expansion must be one of {sorted(EXPANSIONS)}, got {self.expansion!r}")
        if self.ranking not in RANKINGS:
            raise CocuError(f"--ranking must be one of {RANKINGS}, got {self.ranking!r}")
        require("neighbours", self.neighbours, at_least=1)
        require("block_size", self.block_size, at_least=1)


@dataclass
class CurateResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    anchors: int = 0
    seconds: float = 0.0
    search_seconds: float = 0.0
    cluster_seconds: float = 0.0


@dataclass
class Corpus:
    """The retrieval corpus as curation needs it: concept ids and reference similarities."""

    concepts: ConceptLists
    ref_sims: np.ndarray  # float32 [nnz], cos(t_c, v_r)
    store: EmbeddingStore
    explicit: np.ndarray | None = None  # official substring membership: bool [nnz] (core.curate_block)


def load_corpus(emb_dir: str | os.PathLike, vocab, concept_emb: np.ndarray) -> Corpus:
    """Concept lists and reference similarities of every image of ``emb_dir``, shard by shard."""
    store = EmbeddingStore.open(emb_dir, "img")
    official = getattr(vocab, "extraction", "longest") == "official"
    closure = vocab.substring_closure() if official else None
    parts, sims, own = [], [], []
    for stem in progress(store.stems, desc="corpus concepts", unit="shard"):
        cl = store.concept_lists(stem, vocab)
        if official:
            cl, mask = cl.expand(closure)
            own.append(mask)
        parts.append(cl)
        sims.append(reference_similarities(cl, store.embeddings(stem), concept_emb))
    return Corpus(ConceptLists.concat(parts), np.concatenate(sims).astype(np.float32), store,
                  np.concatenate(own) if official else None)


def curate_arrays(anchor_emb: np.ndarray, index, corpus: Corpus, concept_emb: np.ndarray,
                  settings: CurateSettings, *, anchor_ids: np.ndarray | None = None,
                  timings: CurateResult | None = None, cluster_cache: dict | None = None):
    """Curate anchors [A, d] block by block; returns (CSR arrays dict, cluster labels [P]).

    anchor_ids: the anchors' ids in the index (needed for ``exclude_anchor``).
    """
    n = settings.neighbours
    k = n + 1 if settings.exclude_anchor else n
    if settings.exclude_anchor and anchor_ids is None:
        raise CocuError("--exclude-anchor needs the anchors to be part of the index corpus")
    graph = isinstance(index, KnnGraph)
    if graph and anchor_ids is None:
        raise CocuError("a kNN graph holds the neighbours of its own corpus only; curate that "
                        "embedding folder, or use a searchable index for other anchors")
    parts = []
    for s in range(0, len(anchor_emb), settings.block_size):
        a = np.ascontiguousarray(anchor_emb[s:s + settings.block_size], dtype=np.float32)
        t0 = time.perf_counter()
        hits = (index.neighbours(anchor_ids[s:s + len(a)], k) if graph else index.search(a, k)[1])
        if timings is not None:
            timings.search_seconds += time.perf_counter() - t0
        if settings.exclude_anchor:
            hits = drop_anchor(hits, anchor_ids[s:s + len(a)], n)
        parts.append(curate_block(a, hits, corpus.concepts, corpus.ref_sims, concept_emb,
                                  ranking=settings.ranking, explicit=corpus.explicit))
    cat = {name: np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros(0)
           for name in ("concept_ids", "s_a", "s_b", "score", "n_refs")}
    cat["indptr"] = indptr = concat_indptr([p.indptr for p in parts])
    cluster = np.full(len(cat["concept_ids"]), -1, dtype=np.int32)
    if settings.clusters:
        from threadpoolctl import threadpool_limits

        t0 = time.perf_counter()
        with threadpool_limits(1):  # k-means on ≤ 100 points: threads only add overhead (6× here)
            for i in range(len(indptr) - 1):
                a, b = int(indptr[i]), int(indptr[i + 1])
                cluster[a:b] = cluster_archive(concept_emb, cat["concept_ids"][a:b], cluster_cache)
        if timings is not None:
            timings.cluster_seconds += time.perf_counter() - t0
    return cat, cluster


def curate(emb_dir: str | os.PathLike, index_path: str | os.PathLike, out_dir: str | os.PathLike,
           vocab, settings: CurateSettings, *, concept_emb: np.ndarray | None = None,
           encoder=None, shard_index: int = 0, num_shards: int = 1,
           corpus: Corpus | None = None, cluster_cache: dict | None = None) -> CurateResult:
    """Curate every anchor shard of ``emb_dir`` assigned to this worker; skip finished ones.

    concept_emb: precomputed t_c [C, d]; otherwise computed with ``encoder`` (default: the
    model recorded in ``EMB_DIR/embed.json``) and cached as ``OUT/concept_emb.npy``.
    """
    settings.check()
    if not 0 <= shard_index < num_shards:
        raise CocuError(f"--shard-index must be in [0, {num_shards}), got {shard_index}")
    t_start = time.perf_counter()
    out = check_output(out_dir, "dir", "curation folder")
    out.mkdir(parents=True, exist_ok=True)
    anchors = EmbeddingStore.open(emb_dir, "img")
    index, info = load_index(index_path)
    if info.modality != EXPANSIONS[settings.expansion]:
        raise CocuError(f"--expansion {settings.expansion} needs an index over "
                        f"{EXPANSIONS[settings.expansion]} embeddings; {index_path} is over {info.modality}")
    manifest = {
        "expansion": settings.expansion, "ranking": settings.ranking,
        "neighbours": settings.neighbours, "clusters": settings.clusters,
        "exclude_anchor": settings.exclude_anchor, "prompt": settings.prompt,
        "vocab_hash": vocab_hash(vocab), "n_concepts": len(vocab),
        "embedding_model": anchors.info.get("model"), "index": str(Path(index_path).resolve()),
        "index_factory": info.factory, "index_recall": info.recall,
    }
    old = read_manifest(out)
    if old and {k: old.get(k) for k in manifest} != manifest:
        diff = sorted(k for k in manifest if old.get(k) != manifest[k])
        raise CocuError(f"{out} holds a curation made with other settings ({', '.join(diff)}); "
                        "use another --out")
    if not old:
        write_json(out / MANIFEST, manifest)
    result = CurateResult()
    todo = []
    for stem in anchors.stems[shard_index::num_shards]:
        (result.skipped if (out / f"{stem}.parquet").exists() else todo).append(stem)
    if not todo:
        log.info("all %d shards already curated", len(result.skipped))
        return result
    if concept_emb is None:
        concept_emb = _cached_concept_emb(out, vocab, settings.prompt, encoder, anchors)
    if concept_emb.shape[0] != len(vocab):
        raise CocuError(f"concept embeddings have {concept_emb.shape[0]} rows, vocabulary {len(vocab)}")
    if corpus is None:
        corpus = load_corpus(info.emb_dir, vocab, concept_emb)
    if len(corpus.concepts) != index.ntotal:
        raise CocuError(f"index {index_path} has {index.ntotal} vectors but {info.emb_dir} "
                        f"has {len(corpus.concepts)} samples; rebuild the index")
    same_corpus = Path(info.emb_dir).resolve() == Path(emb_dir).resolve()
    offsets = dict(zip(anchors.stems, anchors.offsets[:-1]))
    cache: dict = {} if cluster_cache is None else cluster_cache
    for stem in progress(todo, desc="curate", unit="shard"):
        emb = anchors.embeddings(stem)
        ids = (np.arange(len(emb), dtype=np.int64) + offsets[stem]) if same_corpus else None
        keys = anchors.metadata(stem, ["key"]).column("key").to_pylist()
        cat, cluster = curate_arrays(emb, index, corpus, concept_emb, settings, anchor_ids=ids,
                                     timings=result, cluster_cache=cache)
        write_sidecar(out / f"{stem}.parquet", keys, cat["indptr"], cat["concept_ids"], cat["s_a"],
                      cat["s_b"], cat["score"], cluster, cat["n_refs"], vocab.concepts)
        result.done.append(stem)
        result.anchors += len(keys)
    result.seconds = time.perf_counter() - t_start
    return result


def _cached_concept_emb(out: Path, vocab, prompt: str, encoder, anchors: EmbeddingStore) -> np.ndarray:
    path = out / "concept_emb.npy"
    if path.exists():
        return np.load(path)
    if encoder is None:
        spec = anchors.info.get("model")
        if not spec:
            raise CocuError(f"{anchors.root}/embed.json names no model; pass --model")
        from cocu.curation.encoder import load_clip

        encoder = load_clip(spec)
    t = concept_embeddings(encoder, vocab, prompt)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, t)
    return t
