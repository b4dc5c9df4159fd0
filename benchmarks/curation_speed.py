"""Curation speed: vectorised CoCu vs the official per-image loop, and a 3.3M-image run.

Default mode (same random embeddings for everyone; 20k images, 512-d, a 1,921-concept
vocabulary like the official one, captions of 1–4 concepts drawn from each image's topic):
  * bare batched FAISS search (flat index, N neighbours for every anchor),
  * ours: ``curate_arrays`` (batched search + vectorised scoring) plus the one-off
    reference-similarity table,
  * the official loop (``reference.py``) timed on a subset of anchors and extrapolated;
    its archives are also compared with ours on that subset.

``--scale 3300000``: a synthetic corpus of random unit 512-d float16 embeddings (a mixture
of topics, so neighbours mean something) with vocabulary captions, written as shards in the
``cocu embed`` layout, indexed with the approximate factory ``cocu index`` picks, and curated
end to end with ``cocu.curation.curate.curate``; wall time, recall@N and peak RSS printed.

  python benchmarks/curation_speed.py                      # 20k, N = 8, 16, 32
  python benchmarks/curation_speed.py --scale 3300000 --work /tmp/cocu_scale
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import faiss
import numpy as np

from cocu.curation.core import ConceptLists, reference_similarities
from cocu.curation.curate import Corpus, CurateSettings, curate, curate_arrays
from cocu.curation.reference import reference_curate


class SyntheticVocab:
    """A vocabulary of ``n`` made-up concept names (what curation needs of a Vocabulary)."""

    def __init__(self, n: int) -> None:
        self.concepts = [f"concept{i}" for i in range(n)]

    def __len__(self) -> int:
        return len(self.concepts)

    def synonyms(self, cid: int) -> list[str]:
        return [self.concepts[cid]]

    def extract(self, caption: str) -> list[int]:
        return [int(w[7:]) for w in caption.split(", ") if w]


def make_world(n: int, d: int, n_concepts: int, n_topics: int, rng: np.random.Generator):
    """Topic centres, concept embeddings and per-topic concept pools."""
    centres = rng.standard_normal((n_topics, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    pools = rng.integers(0, n_concepts, (n_topics, 6))
    # a concept's text embedding leans towards the topics that use it
    t = rng.standard_normal((n_concepts, d)).astype(np.float32) * 0.05
    np.add.at(t, pools[:, 0], centres)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return centres, t, pools


def make_shard(n: int, centres, pools, rng: np.random.Generator, noise: float = 1.0):
    """[n, d] float16 unit embeddings and caption concept ids (1–4 from the image's topic)."""
    d = centres.shape[1]
    topic = rng.integers(0, len(centres), n)
    x = centres[topic] + rng.standard_normal((n, d), dtype=np.float32) * (noise / np.sqrt(d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = rng.integers(1, 5, n)
    picks = rng.integers(0, pools.shape[1], (n, 4))
    caps = [np.unique(pools[topic[i], picks[i, :k[i]]]).astype(np.int32) for i in range(n)]
    return x.astype(np.float16), caps


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_20k(args) -> dict:
    rng = np.random.default_rng(0)
    centres, t, pools = make_world(args.n, args.dim, args.concepts, args.topics, rng)
    emb16, caps = make_shard(args.n, centres, pools, rng)
    v = emb16.astype(np.float32)
    index = faiss.IndexFlatIP(args.dim)
    index.add(v)
    names = [f"concept{i}" for i in range(args.concepts)]
    rows = []
    for n in args.neighbours:
        st = CurateSettings(neighbours=n, block_size=args.block_size)
        t0 = time.perf_counter()
        for s in range(0, args.n, args.block_size):
            index.search(v[s:s + args.block_size], n)
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        cl = ConceptLists.from_lists(caps)
        corpus = Corpus(cl, reference_similarities(cl, emb16, t), None)
        cat, _ = curate_arrays(emb16, index, corpus, t, st)
        ours = time.perf_counter() - t0
        sub = np.linspace(0, args.n - 1, args.ref_anchors).astype(int)
        t0 = time.perf_counter()
        ref = reference_curate(v[sub], index, v, caps, names, t, n)
        ref_t = (time.perf_counter() - t0) / len(sub) * args.n
        same = sum(list(r) == [names[c] for c in cat["concept_ids"][cat["indptr"][a]:cat["indptr"][a + 1]]]
                   for r, a in zip(ref, sub))
        row = {"N": n, "bare_search_s": bare, "ours_s": ours, "ours_img_per_s": args.n / ours,
               "reference_img_per_s": args.n / ref_t, "speedup": ref_t / ours, "ours_over_bare": ours / bare,
               "reference_anchors_timed": len(sub), "identical_archives": f"{same}/{len(sub)}"}
        rows.append(row)
        print(json.dumps({k: round(x, 3) if isinstance(x, float) else x for k, x in row.items()}), flush=True)
    print(f"\n{'N':>3} {'ours img/s':>11} {'ref img/s':>10} {'speed-up':>9} {'ours/bare':>10} {'same':>8}")
    for r in rows:
        print(f"{r['N']:>3} {r['ours_img_per_s']:>11.0f} {r['reference_img_per_s']:>10.0f} "
              f"{r['speedup']:>8.1f}x {r['ours_over_bare']:>10.2f} {r['identical_archives']:>8}")
    return {"mode": "20k", "n": args.n, "dim": args.dim, "concepts": args.concepts, "threads":
            faiss.omp_get_max_threads(), "rows": rows}


def bench_scale(args) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cocu.curation.embstore import vocab_hash
    from cocu.curation.index import build_index
    from cocu.utils.io import write_json

    work = Path(args.work)
    emb = work / "emb"
    vocab = SyntheticVocab(args.concepts)
    rng = np.random.default_rng(0)
    centres, t, pools = make_world(args.scale, args.dim, args.concepts, args.topics, rng)
    n_shards = -(-args.scale // args.shard_size)
    t0 = time.perf_counter()
    if not (emb / "embed.json").exists():
        for s in range(n_shards):
            n = min(args.shard_size, args.scale - s * args.shard_size)
            x, caps = make_shard(n, centres, pools, np.random.default_rng([1, s]))
            (emb / "img_emb").mkdir(parents=True, exist_ok=True)
            (emb / "metadata").mkdir(parents=True, exist_ok=True)
            np.save(emb / "img_emb" / f"{s:05d}.npy", x)
            keys = [f"{s:05d}{i:05d}" for i in range(n)]
            pq.write_table(pa.table({
                "key": keys, "caption": [", ".join(vocab.concepts[c] for c in cs) for cs in caps],
                "concept_ids": pa.array([c.tolist() for c in caps], pa.list_(pa.int32()))}),
                emb / "metadata" / f"{s:05d}.parquet")
        write_json(emb / "embed.json", {"model": "synthetic", "dim": args.dim, "vocab_hash": vocab_hash(vocab)})
    gen = time.perf_counter() - t0
    print(f"corpus: {args.scale} images in {n_shards} shards, generated in {gen:.0f} s", flush=True)
    t0 = time.perf_counter()
    idx_path = work / "img.index"
    if not idx_path.exists():
        info = build_index(emb, idx_path, factory=args.factory, recall_at=args.neighbours[0],
                           recall_queries=args.recall_queries)
    else:
        from cocu.curation.index import IndexInfo
        info = IndexInfo.read(idx_path)
    t_index = time.perf_counter() - t0
    print(f"index {info.factory} {info.params}: {t_index:.0f} s, recall@{info.recall['at']} = "
          f"{info.recall['value']:.3f} ({info.recall['queries']} queries); peak RSS {peak_rss_gb():.2f} GB",
          flush=True)
    out = work / "curation"
    if out.exists() and args.fresh:
        shutil.rmtree(out)
    t0 = time.perf_counter()
    res = curate(emb, idx_path, out, vocab, CurateSettings(neighbours=args.neighbours[0],
                                                          block_size=args.block_size), concept_emb=t)
    t_cur = time.perf_counter() - t0
    summary = {"mode": "scale", "images": args.scale, "index_factory": info.factory, "index_params": info.params,
               "recall": info.recall, "index_build_s": t_index, "curate_s": t_cur,
               "curate_search_s": res.search_seconds, "anchors": res.anchors,
               "images_per_s": res.anchors / t_cur if t_cur else None,
               "end_to_end_s": t_index + t_cur, "peak_rss_gb": peak_rss_gb()}
    print(json.dumps(summary, indent=2), flush=True)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--concepts", type=int, default=1921)
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--neighbours", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--block-size", type=int, default=2048)
    p.add_argument("--ref-anchors", type=int, default=1000, help="anchors timed with the official loop")
    p.add_argument("--scale", type=int, default=0, help="run the large end-to-end mode with this many images")
    p.add_argument("--shard-size", type=int, default=10_000)
    p.add_argument("--factory", default="auto")
    p.add_argument("--recall-queries", type=int, default=500)
    p.add_argument("--work", default="/tmp/cocu_curation_scale")
    p.add_argument("--fresh", action="store_true", help="re-curate even if sidecars exist")
    p.add_argument("--json", default=None, help="save the results here")
    args = p.parse_args()
    result = bench_scale(args) if args.scale else bench_20k(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
