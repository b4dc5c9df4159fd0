"""A faithful per-image re-implementation of the official CoCu curation loop.

Mirrors ``cocu()`` in xing0047/rewrite ``rewrite/curation.py``: one FAISS query per
anchor, a concept archive built from strings with a Python ``set``, a per-concept Python
scoring loop, prompt embeddings looked up from a precomputed table. It exists to check
the vectorised version (``core.curate_block``) and to time the official approach.

Membership: with ``substring=True`` the official test ``concept in semantics``, a
substring test on the ", "-joined concepts of a neighbour (so "man" matches "woman");
by default set membership, cocu's semantics.
"""

from __future__ import annotations

import numpy as np


def reference_curate_one(anchor_emb: np.ndarray, index, index_img_emb: np.ndarray,
                         index_semantics: list[str], concept2idx: dict[str, int],
                         concept_emb: np.ndarray, n: int, *, ranking: str = "t2v",
                         exclude_id: int | None = None, substring: bool = False) -> dict[str, float]:
    """Score the archive of one anchor; returns ``{concept: score}`` sorted high → low.

    anchor_emb: [d] float32; index: a FAISS index over the retrieval corpus (images, or
    captions for language expansion; the anchor image embedding is the query either way); index_img_emb: [n_index, d] image embeddings of the corpus
    (the reference images); index_semantics: per corpus item, its concept names joined by
    ", "; concept_emb: [C, d] prompt embeddings looked up by ``concept2idx``;
    exclude_id: drop this index id from the hits (the cleaner variant) and keep N others.
    """
    img_emb = np.asarray(anchor_emb, dtype=np.float32)[None]
    k = n + 1 if exclude_id is not None else n
    _, local_idxs = index.search(img_emb, k)
    ids = [int(i) for i in local_idxs[0] if i >= 0]
    if exclude_id is not None:
        ids = [i for i in ids if i != exclude_id][:n]
    l_names = [set(index_semantics[i].split(", ")) - {""} for i in ids]
    l_semantics = [index_semantics[i] for i in ids] if substring else l_names
    l_img_emb = np.asarray(index_img_emb[ids], dtype=np.float32).reshape(len(ids), -1)

    archive: list[str] = []
    for names in l_names:
        archive.extend(names)
    archive = list(set(archive))
    if not archive:
        return {}
    local_probs = np.zeros(len(archive))
    global_probs = np.zeros(len(archive))
    max_prob = 0.0
    for ci, concept in enumerate(archive):
        t = concept_emb[concept2idx[concept]]
        r_idx = [j for j, semantics in enumerate(l_semantics) if concept in semantics]
        r_emb = np.concatenate([l_img_emb[r_idx], img_emb])
        sim = t @ r_emb.T
        global_probs[ci] = sim[-1]
        local_probs[ci] = sim[-1] / np.average(sim)
        max_prob = max(sim.max(), max_prob)
    if ranking == "naive":
        probs = global_probs
    else:
        probs = (global_probs / max_prob if max_prob > 0 else 0.0) + local_probs
    scored = dict(zip(archive, probs.tolist()))
    # ties: by concept id (the official order of a set is arbitrary)
    return dict(sorted(scored.items(), key=lambda kv: (-kv[1], concept2idx[kv[0]])))


def reference_curate(anchor_emb: np.ndarray, index, index_img_emb: np.ndarray,
                     concept_ids: list[list[int]], concept_names: list[str],
                     concept_emb: np.ndarray, n: int, *, ranking: str = "t2v",
                     exclude_ids: np.ndarray | None = None, substring: bool = False
                     ) -> list[dict[str, float]]:
    """The official loop over every anchor in ``anchor_emb`` [A, d].

    concept_ids: per index item, its concept ids (turned into ", "-joined names, the
    official storage format).
    """
    semantics = [", ".join(concept_names[c] for c in ids) for ids in concept_ids]
    concept2idx = {name: i for i, name in enumerate(concept_names)}
    emb = np.asarray(anchor_emb, dtype=np.float32)
    return [reference_curate_one(emb[a], index, index_img_emb, semantics, concept2idx,
                                 concept_emb, n, ranking=ranking,
                                 exclude_id=None if exclude_ids is None else int(exclude_ids[a]),
                                 substring=substring)
            for a in range(len(emb))]
