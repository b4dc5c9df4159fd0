"""``cocu embed`` and ``cocu curate`` on Apache Spark (``--engine spark``).

Spark, not Ray: the tools that people curating LAION-scale corpora already run —
clip-retrieval (distributed inference), img2dataset and autofaiss — document Spark
clusters first, and pyspark is one pip package (plus py4j) over a JVM that clusters and
this machine already have; Ray would add a daemon (raylet, GCS, object store) per node.

The work units are the existing ones, so the outputs are the single-machine outputs:

* embed: one Spark task per group of shards runs ``embed.embed_shards`` on them (every
  shard is written atomically and skipped when done, so failed tasks are simply retried);
  the driver then writes ``embed.json`` with the totals of the whole run.
* curate: the driver computes the concept prompt embeddings once (``OUT/concept_emb.npy``);
  task ``i`` of ``P`` runs ``curate.curate(..., shard_index=i, num_shards=P)`` — the same
  split as the ``--shard-index/--num-shards`` Slurm path. Each task loads the index and
  the corpus's concept table (index memory + O(concept mentions)), as a Slurm task does.

Every path must be on storage all executors see (NFS, a mounted bucket); ``master`` is a
Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``), or the one
``spark-submit`` configured.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cocu.curation.curate import CurateResult, CurateSettings
from cocu.curation.embed import EmbedResult
from cocu.errors import CocuError


def spark_context(master: str | None = None):
    """The active SparkContext, or a new one (``master``, else spark-submit's, else local[*])."""
    try:
        from pyspark import SparkConf, SparkContext
    except ImportError as exc:  # pragma: no cover - pyspark is pinned in requirements.txt
        raise CocuError("--engine spark needs pyspark (pip install pyspark)") from exc
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run this interpreter
    conf = SparkConf().setAppName("cocu")
    if master:
        conf.setMaster(master)
    elif not conf.contains("spark.master"):
        conf.setMaster("local[*]")
    conf.set("spark.ui.enabled", "false")
    conf.set("spark.executorEnv.PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return SparkContext.getOrCreate(conf)


def _total(result, rows, fields: tuple[str, ...]):
    """Add up the tasks' result tuples (in ``fields`` order) into ``result``; stems sorted."""
    for row in rows:
        for name, value in zip(fields, row):
            setattr(result, name, getattr(result, name) + value)
    result.done.sort()
    result.skipped.sort()
    return result


def _load_vocab(vocab_path: str | None, extraction: str):
    from cocu.data.vocab import resolve_vocabulary

    return resolve_vocabulary(vocab_path, extraction=extraction)


def _embed_task(shards, out, model, pretrained, device, captions, vocab_spec, batch_size, threads):
    import torch

    from cocu.curation.encoder import load_clip
    from cocu.curation.embed import embed_shards

    shards = list(shards)
    if not shards:
        return []
    torch.set_num_threads(threads)
    enc = load_clip(model, pretrained, device)
    enc.batch_size = batch_size
    vocab = _load_vocab(*vocab_spec) if vocab_spec else None
    r = embed_shards([Path(s) for s in shards], out, enc, captions=captions, vocab=vocab,
                     batch_size=batch_size)
    return [(r.done, r.skipped, r.samples, r.corrupt, r.corrupt_shards, r.failed)]


def embed_spark(shards: list[Path], out_dir: str | os.PathLike, model: str, *,
                pretrained: str | None = None, device: str = "cpu", captions: bool = True,
                vocab_path: str | None = None, use_vocab: bool = False, extraction: str = "longest",
                batch_size: int = 256, master: str | None = None,
                partitions: int | None = None) -> EmbedResult:
    """``embed.embed_shards`` over all ``shards`` as Spark tasks (``partitions`` groups,
    default one per shard); returns the totals. vocab_path/use_vocab/extraction: as
    ``cocu embed --vocab/--default-vocab/--extraction``."""
    import torch

    from cocu.curation.embstore import EMBED_INFO
    from cocu.utils.io import write_json

    if not shards:
        raise CocuError("no shards to embed")
    out = Path(out_dir).resolve()
    sc = spark_context(master)
    vocab_spec = (vocab_path, extraction) if (vocab_path or use_vocab) else None
    args = (str(out), model, pretrained, device, captions, vocab_spec, batch_size, torch.get_num_threads())
    parts = (sc.parallelize([str(s) for s in shards], partitions or len(shards))
             .mapPartitions(lambda it: _embed_task(it, *args)).collect())
    result = _total(EmbedResult(), parts, ("done", "skipped", "samples", "corrupt", "corrupt_shards", "failed"))
    result.failed.sort()
    info = json.loads((out / EMBED_INFO).read_text())
    info.pop("last_run", None)
    write_json(out / EMBED_INFO, {**info, "last_run": result.last_run()})
    return result


def _curate_task(indices, emb, index, out, vocab_spec, settings, num_shards):
    from cocu.curation.curate import curate

    vocab = _load_vocab(*vocab_spec)
    rows = []
    for i in indices:
        r = curate(emb, index, out, vocab, settings, shard_index=i, num_shards=num_shards)
        rows.append((r.done, r.skipped, r.anchors, r.search_seconds, r.cluster_seconds))
    return rows


def curate_spark(emb_dir: str | os.PathLike, index_path: str | os.PathLike, out_dir: str | os.PathLike,
                 settings: CurateSettings, *, vocab_path: str | None = None, extraction: str = "longest",
                 encoder=None, master: str | None = None, partitions: int | None = None) -> CurateResult:
    """``curate.curate`` split over ``partitions`` Spark tasks (default: one per executor core,
    at most one per shard); returns the totals."""
    import time

    from cocu.curation.curate import _cached_concept_emb
    from cocu.curation.embstore import EmbeddingStore

    settings.check()
    t0 = time.perf_counter()
    emb, out, index = (str(Path(p).resolve()) for p in (emb_dir, out_dir, index_path))
    vocab_spec = (vocab_path, extraction)
    anchors = EmbeddingStore.open(emb, "img")
    Path(out).mkdir(parents=True, exist_ok=True)
    _cached_concept_emb(Path(out), _load_vocab(*vocab_spec), settings.prompt, encoder, anchors)
    sc = spark_context(master)
    p = max(1, min(partitions or sc.defaultParallelism, len(anchors.stems)))
    rows = (sc.parallelize(range(p), p)
            .mapPartitions(lambda it: _curate_task(it, emb, index, out, vocab_spec, settings, p))
            .collect())
    result = _total(CurateResult(), rows, ("done", "skipped", "anchors", "search_seconds", "cluster_seconds"))
    result.seconds = time.perf_counter() - t0
    return result
