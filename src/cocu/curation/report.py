"""Curation quality on the synthetic world, where every image's true classes are known.

For each image, the curated top-k concepts are compared with its true classes
(``meta["classes"]``): precision, recall, and recall of the true classes its caption
*omitted* (true classes not in ``meta["named"]``, or not extracted from the caption when
``named`` is absent). Micro-averaged over images. A "caption" row (top-k of the caption's
own concepts, the GroupViT baseline) is included for comparison.
"""

from __future__ import annotations

import os

import faiss
import numpy as np

from cocu.curation.curate import CurateSettings, Corpus, concept_embeddings, curate_arrays, load_corpus
from cocu.curation.embstore import EmbeddingStore
from cocu.data.concept_sampling import SAMPLERS
from cocu.data.sidecar import ConceptArchive, load_curation, read_manifest


def load_truth(shards, vocab) -> dict[str, tuple[set[int], set[int]]]:
    """key → (true concept ids, concept ids the caption names)."""
    from cocu.data.shards import iter_samples, list_shards

    if isinstance(shards, (str, os.PathLike)):
        shards = list_shards(shards)
    out = {}
    for s in iter_samples(shards, decode=False):
        true = {vocab.index(c) for c in s.meta.get("classes", [])}
        named = ({vocab.index(c) for c in s.meta["named"]} if "named" in s.meta
                 else set(vocab.extract(s.caption)))
        out[s.key] = (true, named)
    return out


def score_topk(topk: dict[str, list[int]], truth: dict[str, tuple[set[int], set[int]]]) -> dict:
    """Micro precision/recall of the top-k lists, and recall of the omitted true classes."""
    return _micro(((set(topk.get(key, [])), true, named) for key, (true, named) in truth.items()), len(truth))


def _micro(rows, images: int) -> dict:
    """Micro precision / recall / omitted recall over (predicted ids, true ids, named ids) rows."""
    tp = n_pred = n_true = tp_om = n_om = 0
    for pred, true, named in rows:
        omitted = true - named
        tp += len(pred & true)
        n_pred += len(pred)
        n_true += len(true)
        tp_om += len(pred & omitted)
        n_om += len(omitted)
    return {"precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_true if n_true else 0.0,
            "omitted_recall": tp_om / n_om if n_om else 0.0, "images": images}


DRAWN_SCORES = ("precision", "recall", "omitted_recall", "distinct")  # score_drawn's keys in a report row, as drawn_*


def score_drawn(curation: dict[str, ConceptArchive], truth: dict[str, tuple[set[int], set[int]]],
                sampling: str, k: int, draws: int = 3, seed: int = 0) -> dict:
    """The prompts training draws, not the archive's top k: ``draws`` seeded draws of k concepts
    per image with ``SAMPLERS[sampling]``, each draw scored as a set (a concept drawn twice counts
    once), micro-averaged over images and draws. ``distinct``: distinct concepts per draw.
    Cluster sampling draws with replacement, so its draws can hold fewer concepts than the top k."""
    rng = np.random.default_rng(seed)
    sample = SAMPLERS[sampling]
    drawn = []
    for key, (true, named) in truth.items():
        archive = curation.get(key)
        if archive is None:  # nothing to draw from: its true classes still count in the recall
            drawn += [(set(), true, named)] * draws
            continue
        ids = dict(zip(archive.concepts, archive.concept_ids.tolist()))
        drawn += [({ids[n] for n in sample(archive, k, rng)}, true, named) for _ in range(draws)]
    out = _micro(drawn, len(truth))
    out["distinct"] = sum(len(p) for p, _, _ in drawn) / len(drawn) if drawn else 0.0
    return out


def report_from_sidecars(curation_dir, shards, vocab, k: int = 3, sampling: str | None = None,
                         truth: dict[str, tuple[set[int], set[int]]] | None = None) -> dict:
    """One report row for an existing curation folder: its top-k concepts, and with ``sampling``
    also the concepts that sampler draws (`score_drawn`, keys ``drawn_*``). ``truth``: `load_truth`'s
    result when the caller already has it (several curations scored against the same shards)."""
    cur = load_curation(curation_dir)
    m = read_manifest(curation_dir)
    truth = load_truth(shards, vocab) if truth is None else truth
    row = {"expansion": m.get("expansion"), "ranking": m.get("ranking"), "N": m.get("neighbours"), "k": k}
    row.update(score_topk({key: c.concept_ids[:k].tolist() for key, c in cur.items()}, truth))
    if sampling is not None:
        drawn = score_drawn(cur, truth, sampling, k)
        row.update({f"drawn_{key}": drawn[key] for key in DRAWN_SCORES})
    return row


def sweep_report(emb_dir, shards, vocab, *, neighbours=(8, 16, 32), k: int = 3,
                 expansions=("language", "vision"), rankings=("naive", "t2v"), model: str | None = None,
                 concept_emb: np.ndarray | None = None) -> list[dict]:
    """Curate in memory (exact indexes) for each expansion × ranking × N and score the top-k."""
    img = EmbeddingStore.open(emb_dir, "img")
    if concept_emb is None:
        from cocu.curation.encoder import load_clip

        concept_emb = concept_embeddings(load_clip(model or img.info["model"]), vocab)
    corpus: Corpus = load_corpus(emb_dir, vocab, concept_emb)
    keys = [k_ for s in img.stems for k_ in img.metadata(s, ["key"]).column("key").to_pylist()]
    truth = load_truth(shards, vocab)
    v = np.concatenate([np.asarray(img.embeddings(s), np.float32) for s in img.stems])
    rows = [{"expansion": "caption", "ranking": "-", "N": 0, "k": k,
             **score_topk({key: corpus.concepts.row(i)[:k].tolist() for i, key in enumerate(keys)}, truth)}]
    for expansion in expansions:
        mod = "img" if expansion == "vision" else "text"
        x = v if mod == "img" else np.concatenate(
            [np.asarray(EmbeddingStore.open(emb_dir, "text").embeddings(s, "text"), np.float32)
             for s in img.stems])
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        for ranking in rankings:
            for n in neighbours:
                st = CurateSettings(expansion=expansion, ranking=ranking, neighbours=n)
                cat, _ = curate_arrays(v, index, corpus, concept_emb, st)
                ptr, ids = cat["indptr"], cat["concept_ids"]
                topk = {key: ids[ptr[i]:min(ptr[i] + k, ptr[i + 1])].tolist() for i, key in enumerate(keys)}
                rows.append({"expansion": expansion, "ranking": ranking, "N": n, "k": k,
                             **score_topk(topk, truth)})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table; the ``drawn_*`` columns when the rows have them."""
    drawn = [f"drawn_{key}" for key in DRAWN_SCORES]
    drawn = drawn if rows and all(key in r for r in rows for key in drawn) else []
    head = f"{'expansion':<10} {'ranking':<7} {'N':>3} {'k':>2} {'precision':>9} {'recall':>7} {'omitted':>8}"
    head += "".join(f" {key:>{len(key)}}" for key in drawn)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['expansion']!s:<10} {r['ranking']!s:<7} {r['N']!s:>3} {r['k']:>2} "
                     f"{r['precision']:>9.3f} {r['recall']:>7.3f} {r['omitted_recall']:>8.3f}"
                     + "".join(f" {r[key]:>{len(key)}.3f}" for key in drawn))
    return "\n".join(lines)

