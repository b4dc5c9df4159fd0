"""`cocu embed` / `cocu curate` on Spark in local mode: byte-identical to the single-machine path."""

from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from cocu.curation.encoder import load_clip  # noqa: E402
from cocu.curation.small_clip import SmallClipConfig, build_small_clip, save_small_clip  # noqa: E402
from cocu.curation.curate import CurateSettings, curate  # noqa: E402
from cocu.curation.distributed import curate_spark, embed_spark, spark_context  # noqa: E402
from cocu.curation.embed import embed_shards  # noqa: E402
from cocu.curation.index import build_index  # noqa: E402
from cocu.data.shards import list_shards  # noqa: E402
from cocu.data.vocab import Vocabulary  # noqa: E402

TINY = SmallClipConfig(embed_dim=32, image_size=32, patch_size=8, vision_width=32, vision_layers=1,
                       vision_head_width=16, text_width=32, text_layers=1, text_heads=2)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path → bytes), temporaries excluded."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def spark():
    sc = spark_context("local[2]")
    yield sc
    sc.stop()


def test_spark_embed_and_curate_are_byte_identical(spark, synth_world, tmp_path):
    import torch

    torch.manual_seed(0)
    save_small_clip(tmp_path / "clip.pt", build_small_clip(TINY), TINY)
    model = str(tmp_path / "clip.pt")
    shards = list_shards(synth_world.out / "train")
    vocab_path = str(synth_world.vocab_path)
    vocab = Vocabulary.from_file(vocab_path)

    one = tmp_path / "emb_one"
    enc = load_clip(model)
    enc.batch_size = 16  # as `cocu embed --batch-size 16` sets it
    r1 = embed_shards(shards, one, enc, captions=True, vocab=vocab, batch_size=16)
    many = tmp_path / "emb_spark"
    r2 = embed_spark(shards, many, model, captions=True, vocab_path=vocab_path, batch_size=16, master="local[2]")
    assert r2.done == r1.done == ["00000", "00001", "00002"] and r2.samples == r1.samples == 120
    assert tree(many) == tree(one)

    build_index(one, factory="Flat")
    st = CurateSettings(neighbours=8, clusters=True, block_size=32)
    c1 = curate(one, one / "index" / "img.index", tmp_path / "cur_one", vocab, st)
    c2 = curate_spark(one, one / "index" / "img.index", tmp_path / "cur_spark", st, vocab_path=vocab_path,
                      master="local[2]", partitions=2)
    assert c2.done == c1.done and c2.anchors == c1.anchors == 120
    assert tree(tmp_path / "cur_spark") == tree(tmp_path / "cur_one")
    again = curate_spark(one, one / "index" / "img.index", tmp_path / "cur_spark", st, vocab_path=vocab_path,
                         master="local[2]")
    assert again.done == [] and again.skipped == c1.done  # resumable like the local path
