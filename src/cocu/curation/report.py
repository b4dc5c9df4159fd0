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
from cocu.data.sidecar import load_curation, read_manifest


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
    tp = n_pred = n_true = tp_om = n_om = 0
    for key, (true, named) in truth.items():
        pred = set(topk.get(key, []))
        omitted = true - named
        tp += len(pred & true)
        n_pred += len(pred)
        n_true += len(true)
        tp_om += len(pred & omitted)
        n_om += len(omitted)
    return {"precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_true if n_true else 0.0,
            "omitted_recall": tp_om / n_om if n_om else 0.0, "images": len(truth)}


def report_from_sidecars(curation_dir, shards, vocab, k: int = 3) -> dict:
    """One report row for an existing curation folder."""
    cur = load_curation(curation_dir)
    m = read_manifest(curation_dir)
    row = {"expansion": m.get("expansion"), "ranking": m.get("ranking"), "N": m.get("neighbours"), "k": k}
    row.update(score_topk({key: c.concept_ids[:k].tolist() for key, c in cur.items()},
                          load_truth(shards, vocab)))
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
    head = f"{'expansion':<10} {'ranking':<7} {'N':>3} {'k':>2} {'precision':>9} {'recall':>7} {'omitted':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['expansion']!s:<10} {r['ranking']!s:<7} {r['N']!s:>3} {r['k']:>2} "
                     f"{r['precision']:>9.3f} {r['recall']:>7.3f} {r['omitted_recall']:>8.3f}")
    return "\n".join(lines)

