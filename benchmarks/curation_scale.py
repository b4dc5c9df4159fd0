"""Curation at web scale: the inverted-list kNN graph vs exact search, end to end.

A synthetic corpus (``scale_world.py``: nested clusters with a decaying spectrum, or the
isotropic hard case) is written as shards in the ``cocu embed`` layout, then timed:

* build: ``cocu index --graph`` (``index.build_graph``): k-means lists, the assignment,
  exact neighbours of the tuning/held-out queries that choose ``nprobe`` for the target
  recall, and the blocked GEMM graph build;
* curate: ``cocu curate`` over the graph (``search s`` is its neighbour look-up).

Then measured against exact search on ``--queries`` sampled images (not timed into the
targets): recall@N, the similarity gap between the N-th and the 10·N-th exact neighbour,
and the share of sampled anchors whose curated top-3 concepts (in order) are identical to
those of exact-search curation. The exact search of the sample is timed too and
extrapolated to the whole corpus: the baseline the build is compared with. ``--faiss``
adds a row for ``cocu index --target-recall`` (the tuned searchable FAISS index) curated
with batched search. Rows are merged into ``--json`` (key: generator, n, N, method).

  python benchmarks/curation_scale.py --n 300000 --neighbours 8 --faiss
  python benchmarks/curation_scale.py --n 3300000 --neighbours 8
  python benchmarks/curation_scale.py --n 3300000 --neighbours 32
  python benchmarks/curation_scale.py --n 300000 --generator isotropic
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_world import SyntheticVocab, make_shard, make_world  # noqa: E402

from cocu.curation.core import curate_block  # noqa: E402
from cocu.curation.curate import CurateSettings, curate, load_corpus  # noqa: E402
from cocu.curation.embstore import EmbeddingStore, vocab_hash, write_shard  # noqa: E402
from cocu.curation.index import (QuerySample, build_graph, build_index, load_index,  # noqa: E402
                                 load_vectors)
from cocu.curation.knngraph import native_bf16, recall_at  # noqa: E402
from cocu.utils.io import write_json  # noqa: E402


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def write_corpus(emb: Path, world, n: int, shard_size: int, vocab) -> float:
    stamp = emb / "generated.json"
    want = {"generator": world.kind, "n": n, "d": world.d, "shard_size": shard_size}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return 0.0
    if emb.exists():
        shutil.rmtree(emb)
    t0 = time.perf_counter()
    for s in range(-(-n // shard_size)):
        m = min(shard_size, n - s * shard_size)
        x, caps = make_shard(world, m, [1, s])
        write_shard(emb, f"{s:05d}", x, [f"{s:05d}{i:06d}" for i in range(m)],
                    [", ".join(vocab.concepts[c] for c in cs) for cs in caps], caps)
    write_json(emb / "embed.json", {"model": "synthetic", "dim": world.d, "vocab_hash": vocab_hash(vocab)})
    write_json(stamp, want)
    return time.perf_counter() - t0


def top3_agreement(sample: QuerySample, hits: np.ndarray, n: int, corpus, t) -> float:
    """Share of sample anchors whose top-3 concepts (ordered) over ``hits`` equal those over
    the exact neighbours."""
    a = curate_block(sample.vectors, sample.truth[:, :n], corpus.concepts, corpus.ref_sims, t)
    b = curate_block(sample.vectors, hits, corpus.concepts, corpus.ref_sims, t)
    same = [a.concept_ids[a.indptr[i]:a.indptr[i] + 3].tolist()
            == b.concept_ids[b.indptr[i]:b.indptr[i] + 3].tolist()
            for i in range(len(sample.ids))]
    return float(np.mean(same))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3_300_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--concepts", type=int, default=1921)
    p.add_argument("--neighbours", type=int, default=8)
    p.add_argument("--generator", choices=["nested", "isotropic"], default="nested")
    p.add_argument("--target-recall", type=float, default=0.99,
                   help="recall the graph is tuned to (0.99: what ≥ 97 %% identical top-3 needs)")
    p.add_argument("--tune-queries", type=int, default=1000, help="tuning (and as many held-out) queries")
    p.add_argument("--queries", type=int, default=2000, help="evaluation queries / anchors")
    p.add_argument("--shard-size", type=int, default=10_000)
    p.add_argument("--faiss", action="store_true", help="also the tuned FAISS index + batched search")
    p.add_argument("--work", default="/tmp/cocu_curation_scale")
    p.add_argument("--json", default="docs/results/curation_scale.json")
    args = p.parse_args()
    n_nb = args.neighbours
    work = Path(args.work) / f"{args.generator}_{args.n}"
    emb = work / "emb"
    vocab = SyntheticVocab(args.concepts)
    world = make_world(args.generator, args.n, args.dim, args.concepts)
    gen_s = write_corpus(emb, world, args.n, args.shard_size, vocab)
    print(f"corpus: {args.n} × {args.dim} float16 ({args.generator}), generated in {gen_s:.0f} s", flush=True)
    t = world.concept_emb
    methods = ["graph"] + (["faiss"] if args.faiss else [])
    built = {}
    for method in methods:
        t0 = time.perf_counter()
        if method == "graph":
            info = build_graph(emb, work / "img.knn.npy", k=n_nb, target_recall=args.target_recall,
                               recall_queries=args.tune_queries)
        else:
            info = build_index(emb, work / "img.index", recall_at=n_nb, recall_queries=args.tune_queries,
                               target_recall=args.target_recall)
        build_s = time.perf_counter() - t0
        out = work / f"curation_{method}_{n_nb}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        res = curate(emb, info.path, out, vocab, CurateSettings(neighbours=n_nb), concept_emb=t)
        curate_s = time.perf_counter() - t0
        built[method] = (info, build_s, curate_s, res.search_seconds, peak_rss_gb())
        print(f"{method}: {info.factory} {info.params} built in {build_s:.0f} s, curated in {curate_s:.0f} s "
              f"(search {res.search_seconds:.0f} s); peak RSS {peak_rss_gb():.2f} GB", flush=True)

    # evaluation against exact search (not part of the timed pipeline)
    store = EmbeddingStore.open(emb)
    t0 = time.perf_counter()
    sample = QuerySample.draw(store, 10 * n_nb, args.queries, seed=12345)
    exact_s = time.perf_counter() - t0
    x = load_vectors(store)
    v = sample.vectors
    nb = np.asarray(x[sample.truth[:, [n_nb - 1, 10 * n_nb - 1]]], dtype=np.float32)  # [q, 2, d]
    sims = np.einsum("qkd,qd->qk", nb, v)
    gap = float(np.mean(sims[:, 0] - sims[:, 1]))
    del x, nb
    corpus = load_corpus(emb, vocab, t)
    rows = []
    for method, (info, build_s, curate_s, search_s, rss) in built.items():
        index, _ = load_index(info.path)
        hits = (index.neighbours(sample.ids, n_nb) if method == "graph"
                else index.search(v, n_nb)[1])
        row = {
            "generator": args.generator, "n": args.n, "d": args.dim, "N": n_nb, "method": method,
            "index": info.factory, "params": info.params, "build_s": round(build_s, 1),
            "search_s": round(search_s, 1), "curate_s": round(curate_s, 1),
            "build_plus_curate_s": round(build_s + curate_s, 1),
            "recall": round(recall_at(sample.truth[:, :n_nb], hits), 4),
            "recall_recorded": info.recall, "top3_identical": round(top3_agreement(sample, hits, n_nb, corpus, t), 4),
            "sim_gap_N_10N": round(gap, 4), "sim_at_N": round(float(sims[:, 0].mean()), 4),
            "sim_at_10N": round(float(sims[:, 1].mean()), 4), "peak_rss_gb": round(rss, 2),
            "images_per_s": round(args.n / (build_s + curate_s), 1),
            "exact_search_s_extrapolated": round(exact_s * args.n / len(sample.ids), 0),
            "speedup_vs_exact": round(exact_s * args.n / len(sample.ids) / (build_s + curate_s), 1),
            "queries": len(sample.ids), "bf16": native_bf16(), "tuning": info.tuning,
        }
        rows.append(row)
    print(f"\nsimilarity to the {n_nb}-th / {10 * n_nb}-th exact neighbour: "
          f"{rows[0]['sim_at_N']:.3f} / {rows[0]['sim_at_10N']:.3f} (gap {gap:.3f}); exact search (float32 "
          f"GEMMs, streamed) of the corpus by itself ≈ {rows[0]['exact_search_s_extrapolated']:.0f} s (from {len(sample.ids)} queries)")
    head = f"{'method':>6} {'index':>16} {'build s':>8} {'search s':>9} {'curate s':>9} {'recall@N':>9} " \
           f"{'top-3 same':>10} {'RSS GB':>7} {'img/s':>7}"
    print(head)
    for r in rows:
        print(f"{r['method']:>6} {r['index']:>16} {r['build_s']:>8.0f} {r['search_s']:>9.0f} {r['curate_s']:>9.0f} "
              f"{r['recall']:>9.4f} {r['top3_identical']:>10.4f} {r['peak_rss_gb']:>7.2f} {r['images_per_s']:>7.0f}")
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text())["rows"] if path.exists() else []
        key = ("generator", "n", "N", "method")
        keep = [o for o in old if not any(all(o[k] == r[k] for k in key) for r in rows)]
        write_json(path, {"rows": sorted(keep + rows, key=lambda r: tuple(str(r[k]) for k in key))})
        print(f"saved {path}")


if __name__ == "__main__":
    main()
