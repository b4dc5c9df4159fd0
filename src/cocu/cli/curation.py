"""CLI commands of the `curation` stage:
``train-clip``, ``embed``, ``index``, ``curate`` and ``curation-report``."""

from __future__ import annotations

import argparse
import json

from cocu.data.concept_sampling import SAMPLERS
from cocu.errors import CocuError
from cocu.cli.flags import (add_device, add_extraction, add_shard_flags, add_vocab, float_above, float_at_least,
                             int_at_least)


def _vocab_file(path: str | None, data: str) -> str | None:
    """The vocabulary file of the one rule (``cocu.data.vocab.find_vocabulary``; None = packaged)."""
    from cocu.data.vocab import find_vocabulary

    found = find_vocabulary(path, data=data)
    return str(found) if found else None


def _vocab(path: str | None, data: str, extraction: str = "longest"):
    from cocu.data.vocab import resolve_vocabulary

    return resolve_vocabulary(path, data=data, extraction=extraction)


def _check_engine(args: argparse.Namespace) -> None:
    if args.engine == "spark" and (args.shard_index or args.num_shards != 1):
        raise CocuError("--engine spark splits the shards itself; drop --shard-index/--num-shards")


def cmd_train_clip(args: argparse.Namespace) -> int:
    from cocu.curation.small_clip import train_clip
    from cocu.data.shards import list_shards
    from cocu.utils.io import check_output

    check_output(args.out, "file", "--out")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    r = train_clip(list_shards(args.shards), args.out, steps=args.steps, batch_size=args.batch_size,
                   lr=args.lr, seed=args.seed, limit=args.limit)
    print(json.dumps({"out": args.out, "steps": r.steps, "seconds": round(r.seconds, 1),
                      "loss": round(r.loss, 4), "eval": r.eval}, indent=2))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from cocu.curation.encoder import load_clip
    from cocu.curation.embed import embed_shards
    from cocu.data.shards import list_shards
    from cocu.utils.device import resolve_device

    _check_engine(args)
    device = str(resolve_device(args.device))
    if args.engine == "spark":
        from cocu.curation.distributed import embed_spark

        r = embed_spark(list_shards(args.shards), args.out, args.model, pretrained=args.pretrained,
                        device=device, captions=args.captions, vocab_path=_vocab_file(args.vocab, args.shards),
                        use_vocab=args.default_vocab, extraction=args.extraction,
                        batch_size=args.batch_size, master=args.spark_master, partitions=args.partitions)
        print(f"embedded {len(r.done)} shards ({r.samples} samples, {r.corrupt} corrupt skipped); "
              f"{len(r.skipped)} already done")
        return 0
    enc = load_clip(args.model, args.pretrained, device)
    enc.batch_size = args.batch_size
    r = embed_shards(list_shards(args.shards), args.out, enc, captions=args.captions,
                     vocab=_vocab(args.vocab, args.shards, args.extraction) if (args.vocab or args.default_vocab) else None,
                     batch_size=args.batch_size, shard_index=args.shard_index, num_shards=args.num_shards)
    print(f"embedded {len(r.done)} shards ({r.samples} samples, {r.corrupt} corrupt skipped, "
          f"{r.corrupt_shards} shards truncated); {len(r.skipped)} already done; {len(r.failed)} failed")
    if r.failed:
        raise CocuError(f"{len(r.failed)} shard(s) not embedded (fix them and re-run; the others are kept): "
                        + "; ".join(r.failed[:3]) + (" ..." if len(r.failed) > 3 else ""))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from cocu.curation.index import build_graph, build_index
    from cocu.utils.io import check_output

    if args.out:
        check_output(args.out, "file", "--out")
    if args.graph:
        info = build_graph(args.emb, args.out, k=args.recall_at, target_recall=args.target_recall or 0.95,
                           recall_queries=args.recall_queries, nprobe=args.nprobe,
                           memory_gb=args.memory_gb)
    else:
        info = build_index(args.emb, args.out, modality=args.modality, factory=args.factory,
                           recall_at=args.recall_at, recall_queries=args.recall_queries,
                           target_recall=args.target_recall, memory_gb=args.memory_gb,
                           params={"nprobe": args.nprobe} if args.nprobe else None)
    rec = (f"recall@{info.recall['at']} = {info.recall['value']:.4f} on {info.recall['queries']} "
           "held-out queries" if info.recall and info.recall.get("queries") else
           "exact" if info.recall else "recall not measured")
    print(f"{info.path}: {info.factory} {info.params} over {info.n} {info.modality} vectors "
          f"(d={info.d}); {rec}")
    if info.tuning and not info.tuning["met"]:
        print(f"warning: target recall {info.tuning['target']} not reached (see {info.path}.json)")
    return 0


def cmd_curate(args: argparse.Namespace) -> int:
    from cocu.curation.curate import CurateSettings, curate
    from cocu.curation.index import default_index_path

    if args.sampling and not args.report:
        raise CocuError("--sampling scores the drawn prompts in --report's table; add --report SHARDS")
    if args.sampling == "cluster" and not args.clusters:
        raise CocuError("--sampling cluster draws from the archives' k-means clusters; add --clusters")
    settings = CurateSettings(expansion=args.expansion, ranking=args.ranking, neighbours=args.neighbours,
                              clusters=args.clusters, exclude_anchor=args.exclude_anchor,
                              prompt=args.prompt, block_size=args.block_size)
    index = args.index or default_index_path(args.emb, "img" if args.expansion == "vision" else "text")
    if args.index is None and args.expansion == "vision" and default_index_path(args.emb, graph=True).exists():
        index = default_index_path(args.emb, graph=True)
    encoder = None
    if args.model:
        from cocu.curation.encoder import load_clip

        encoder = load_clip(args.model, args.pretrained)
    vocab = _vocab(args.vocab, args.emb, args.extraction)
    _check_engine(args)
    if args.engine == "spark":
        from cocu.curation.distributed import curate_spark

        r = curate_spark(args.emb, index, args.out, settings, vocab_path=_vocab_file(args.vocab, args.emb),
                         extraction=args.extraction, encoder=encoder, master=args.spark_master,
                         partitions=args.partitions)
    else:
        r = curate(args.emb, index, args.out, vocab, settings, encoder=encoder,
                   shard_index=args.shard_index, num_shards=args.num_shards)
    rate = r.anchors / r.seconds if r.seconds else 0.0
    print(f"curated {r.anchors} anchors in {len(r.done)} shards ({rate:.0f} images/s, search "
          f"{r.search_seconds:.1f} s, clustering {r.cluster_seconds:.1f} s); {len(r.skipped)} already done")
    if args.report:
        from cocu.curation.report import format_table, report_from_sidecars

        rows = [report_from_sidecars(args.out, args.report, vocab, k=args.k, sampling=args.sampling)]
        print(format_table(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from cocu.curation.report import format_table, sweep_report
    from cocu.utils.io import write_json

    rows = sweep_report(args.emb, args.shards, _vocab(args.vocab, args.shards), neighbours=args.neighbours,
                        k=args.k, expansions=args.expansions, rankings=args.rankings,
                        model=args.model)
    print(format_table(rows))
    if args.out:
        write_json(args.out, {"rows": rows})
        print(f"saved {args.out}")
    return 0


def _register_train_clip(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-clip", help="train the small curator CLIP on complete captions")
    p.add_argument("--shards", required=True, help="training shards (folder, glob or brace pattern)")
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--steps", type=int_at_least(1), default=600)
    p.add_argument("--batch-size", type=int_at_least(2), default=128)
    p.add_argument("--lr", type=float_above(0), default=2e-3)
    p.add_argument("--limit", type=int_at_least(1), default=None, help="use at most this many samples")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--threads", type=int_at_least(1), default=None,
                   help="torch CPU threads (1 is much faster than 2 on a busy 2-core machine)")
    p.set_defaults(func=cmd_train_clip)


def _register_embed(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="CLIP image/caption embeddings of shards (clip-retrieval layout)")
    p.add_argument("--shards", required=True)
    p.add_argument("--out", required=True, help="embedding folder")
    p.add_argument("--model", required=True, help="small-CLIP checkpoint or open_clip name (ViT-B-16)")
    p.add_argument("--pretrained", default=None, help="open_clip weights: local file or cached tag")
    p.add_argument("--captions", action="store_true", help="also embed captions (for --expansion language)")
    add_vocab(p, help="vocabulary file or official gallery .json: store per-sample concept ids")
    p.add_argument("--default-vocab", action="store_true", help="store concept ids of the default vocabulary (vocab.txt beside the shards, else the packaged one)")
    add_extraction(p)
    p.add_argument("--batch-size", type=int_at_least(1), default=256)
    add_device(p)
    add_shard_flags(p)
    p.set_defaults(func=cmd_embed)


def _register_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="FAISS inner-product index over an embedding folder")
    p.add_argument("--emb", required=True, help="embedding folder")
    p.add_argument("--out", default=None, help="index file (default EMB/index/<modality>.index)")
    p.add_argument("--modality", choices=["img", "text"], default="img")
    p.add_argument("--factory", default="auto", help="auto, Flat, IVF4096,PQ64x4fs, HNSW32, ...")
    p.add_argument("--recall-at", type=int_at_least(1), default=8,
                   help="N of recall@N (use curation's --neighbours; with --graph: neighbours kept)")
    p.add_argument("--recall-queries", type=int_at_least(0), default=1000,
                   help="tuning queries, and as many held-out ones for the recorded recall")
    p.add_argument("--target-recall", type=float_at_least(0), default=None,
                   help="tune nprobe / efSearch until recall@N reaches this (--graph: default 0.95)")
    p.add_argument("--memory-gb", type=float_at_least(0), default=16.0, help="memory budget of the index")
    p.add_argument("--nprobe", type=int_at_least(1), default=None, help="fix nprobe instead of tuning it")
    p.add_argument("--graph", action="store_true",
                   help="build the corpus's kNN graph (EMB/index/img.knn.npy) for vision curation")
    p.set_defaults(func=cmd_index)


def _register_curate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curate", help="CoCu concept curation: a sidecar parquet per shard")
    p.add_argument("--emb", required=True, help="embedding folder of the anchors (and corpus)")
    p.add_argument("--index", default=None, help="FAISS index or kNN graph (default EMB/index/img.knn.npy if "
                   "built, else EMB/index/{img,text}.index)")
    p.add_argument("--out", required=True, help="curation folder")
    add_vocab(p)
    add_extraction(p)
    p.add_argument("--expansion", choices=["vision", "language"], default="vision",
                   help="② vision-driven (image kNN) or ① language-driven (image→caption kNN)")
    p.add_argument("--ranking", choices=["naive", "t2v"], default="t2v",
                   help="③ naive (s_a) or ④ text-to-vision-guided (s_a/M + s_b)")
    p.add_argument("--neighbours", type=int_at_least(1), default=8, help="N retrieved per anchor (anchor included)")
    p.add_argument("--exclude-anchor", action="store_true", help="drop the anchor from its own N hits")
    p.add_argument("--clusters", action="store_true", help="⑥ k-means clusters of each archive")
    p.add_argument("--prompt", choices=["canonical", "synonyms"], default="canonical",
                   help="t_c from the canonical name, or the mean over all synonyms")
    p.add_argument("--model", default=None, help="text encoder (default: the one in EMB/embed.json)")
    p.add_argument("--pretrained", default=None)
    p.add_argument("--block-size", type=int_at_least(1), default=2048, help="anchors per batched search")
    p.add_argument("--report", default=None, metavar="SHARDS",
                   help="afterwards, print concept precision/recall against these shards' true classes")
    p.add_argument("--k", type=int_at_least(1), default=3, help="top-k concepts evaluated by --report")
    p.add_argument("--sampling", choices=tuple(SAMPLERS), default=None,
                   help="--report also scores the k concepts this sampler draws per image (drawn_ columns; "
                        "cluster needs --clusters)")
    add_shard_flags(p)
    p.set_defaults(func=cmd_curate)


def _register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curation-report", help="curated-concept precision/recall per expansion, ranking, N")
    p.add_argument("--emb", required=True, help="embedding folder with img and text embeddings")
    p.add_argument("--shards", required=True, help="the synthetic world's shards (true classes in KEY.json)")
    add_vocab(p)
    p.add_argument("--model", default=None, help="text encoder (default: the one in EMB/embed.json)")
    p.add_argument("--neighbours", type=int_at_least(1), nargs="+", default=[8, 16, 32])
    p.add_argument("--expansions", nargs="+", default=["language", "vision"])
    p.add_argument("--rankings", nargs="+", default=["naive", "t2v"])
    p.add_argument("--k", type=int_at_least(1), default=3)
    p.add_argument("--out", default=None, help="save the rows as JSON here")
    p.set_defaults(func=cmd_report)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train-clip``, ``embed``, ``index``, ``curate`` and ``curation-report`` to ``sub``."""
    for add in (_register_train_clip, _register_embed, _register_index, _register_curate, _register_report):
        add(sub)
