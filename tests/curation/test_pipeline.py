"""embed → index → curate on a tiny synthetic world: layout, resume, sharding, corrupt input, CLI."""

import io
import tarfile

import faiss
import numpy as np
import pyarrow.parquet as pq
import pytest

from cocu.curation import curate as curate_mod
from cocu.curation.encoder import load_clip
from cocu.curation.small_clip import SmallClipConfig, build_small_clip, save_small_clip, train_clip
from cocu.curation.core import ConceptLists
from cocu.curation.curate import CurateSettings, concept_embeddings, curate
from cocu.curation.embed import embed_shards
from cocu.curation.embstore import EmbeddingStore
from cocu.curation.index import IndexInfo, build_index
from cocu.curation.reference import reference_curate
from cocu.curation.report import load_truth, report_from_sidecars, score_drawn, score_topk, sweep_report
from cocu.data.sidecar import load_curation
from cocu.errors import CocuError

TINY = SmallClipConfig(embed_dim=32, image_size=32, patch_size=8, vision_width=32, vision_layers=1,
                       vision_head_width=16, text_width=32, text_layers=1, text_heads=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory, synth_world):
    """The shared tiny world (3 shards × 40) embedded with an untrained tiny CLIP, flat indexes."""
    import torch

    from cocu.data.shards import list_shards
    from cocu.data.vocab import Vocabulary

    root = tmp_path_factory.mktemp("cur")
    shards = list_shards(synth_world.out / "train")
    torch.manual_seed(0)
    save_small_clip(root / "clip.pt", build_small_clip(TINY), TINY)
    enc = load_clip(str(root / "clip.pt"))
    vocab = Vocabulary.from_file(synth_world.vocab_path)
    emb = root / "emb"
    res = embed_shards(shards, emb, enc, captions=True, vocab=vocab, batch_size=64)
    assert res.done == ["00000", "00001", "00002"] and res.samples == 120 and res.corrupt == 0
    build_index(emb, modality="img", factory="Flat")
    build_index(emb, modality="text", factory="Flat")
    return {"root": root, "world": synth_world.out, "shards": shards, "enc": enc, "vocab": vocab, "emb": emb,
            "t": concept_embeddings(enc, vocab)}


def test_train_clip_saves_a_loadable_checkpoint(world, tmp_path):
    r = train_clip(world["shards"], tmp_path / "c.pt", steps=2, batch_size=16, cfg=TINY, limit=48)
    assert r.steps == 2 and np.isfinite(r.loss) and 0.0 <= r.eval["i2t_recall@1"] <= 1.0
    enc = load_clip(str(tmp_path / "c.pt"))
    t = enc.encode_texts(["a photo of a dog", "a photo of a sky"])
    assert t.shape == (2, 32) and np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    with pytest.raises(CocuError, match="neither a checkpoint"):
        load_clip("no-such-model")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CocuError, match="cannot read CLIP checkpoint"):
        load_clip(str(tmp_path / "junk.pt"))


def test_embedding_layout_and_resume(world):
    emb = world["emb"]
    x = np.load(emb / "img_emb" / "00001.npy")
    assert x.dtype == np.float16 and x.shape == (40, 32)
    np.testing.assert_allclose(np.linalg.norm(x.astype(np.float32), axis=1), 1.0, atol=2e-3)
    meta = pq.read_table(emb / "metadata" / "00001.parquet").to_pylist()
    assert meta[0]["key"] == "000010000" and meta[0]["concept_ids"] == world["vocab"].extract(meta[0]["caption"])
    again = embed_shards(world["shards"], emb, world["enc"], captions=True, vocab=world["vocab"])
    assert again.done == [] and again.skipped == ["00000", "00001", "00002"]
    with pytest.raises(CocuError, match="other settings"):
        embed_shards(world["shards"], emb, world["enc"], captions=True, vocab=None)


def test_corrupt_sample_is_skipped_and_counted(world, tmp_path):
    src = world["shards"][0]
    bad = tmp_path / "00000.tar"
    with tarfile.open(src) as tin, tarfile.open(bad, "w") as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read()
            if m.name == "000000003.jpg":
                data = b"\xff\xd8 broken jpeg"
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))
    r = embed_shards([bad], tmp_path / "emb", world["enc"], captions=False)
    assert r.samples == 39 and r.corrupt == 1
    keys = pq.read_table(tmp_path / "emb" / "metadata" / "00000.parquet").column("key").to_pylist()
    assert "000000003" not in keys and np.load(tmp_path / "emb" / "img_emb" / "00000.npy").shape[0] == 39


def test_index_sidecar_and_approximate_recall(world, tmp_path):
    info = IndexInfo.read(world["emb"] / "index" / "img.index")
    assert info.factory == "Flat" and info.n == 120 and info.shards == [["00000", 40], ["00001", 40], ["00002", 40]]
    approx = build_index(world["emb"], tmp_path / "ivf.index", factory="IVF4,Flat", params={"nprobe": 1},
                         recall_queries=60, train_size=120)
    assert approx.recall["queries"] == 60 and 0.0 < approx.recall["value"] < 1.0
    full = build_index(world["emb"], tmp_path / "ivf4.index", factory="IVF4,Flat", params={"nprobe": 4},
                       recall_queries=60, train_size=120)
    assert full.recall["value"] == pytest.approx(1.0)
    with pytest.raises(CocuError, match="bad FAISS factory"):
        build_index(world["emb"], tmp_path / "x.index", factory="NoSuchThing")


@pytest.mark.parametrize("expansion", ["vision", "language"])
def test_curate_equals_official_loop_on_world(world, tmp_path, expansion):
    emb, vocab, t = world["emb"], world["vocab"], world["t"]
    mod = "img" if expansion == "vision" else "text"
    st = CurateSettings(expansion=expansion, neighbours=8, block_size=50)
    res = curate(emb, emb / "index" / f"{mod}.index", tmp_path / "cur", vocab, st, concept_emb=t)
    assert res.done == ["00000", "00001", "00002"] and res.anchors == 120
    cur = load_curation(tmp_path / "cur")
    store = EmbeddingStore.open(emb)
    v = np.concatenate([np.asarray(store.embeddings(s), np.float32) for s in store.stems])
    x = v if mod == "img" else np.concatenate([np.asarray(store.embeddings(s, "text"), np.float32)
                                               for s in store.stems])
    idx = faiss.IndexFlatIP(x.shape[1])
    idx.add(x)
    caps = ConceptLists.concat([store.concept_lists(s, vocab) for s in store.stems]).to_lists()
    keys = [k for s in store.stems for k in store.metadata(s, ["key"]).column("key").to_pylist()]
    assert list(cur) == keys
    ref = reference_curate(v, idx, v, caps, vocab.concepts, t, 8)
    for key, expected in zip(keys, ref):
        assert cur[key].concepts == list(expected)
        np.testing.assert_allclose(cur[key].score, list(expected.values()), rtol=1e-4, atol=1e-4)
    assert all((c.n_refs >= 1).all() and (c.cluster == -1).all() for c in cur.values())


def test_resume_after_kill_is_byte_identical(world, tmp_path, monkeypatch):
    emb, vocab, t = world["emb"], world["vocab"], world["t"]
    st = CurateSettings(neighbours=8, clusters=True, block_size=64)
    idx = emb / "index" / "img.index"
    cache: dict = {}  # k-means results are deterministic; sharing them keeps the test fast
    curate(emb, idx, tmp_path / "full", vocab, st, concept_emb=t, cluster_cache=cache)
    real = curate_mod.write_sidecar
    calls = {"n": 0}

    def dying(*a, **kw):  # the process dies while writing the second sidecar
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(curate_mod, "write_sidecar", dying)
    with pytest.raises(KeyboardInterrupt):
        curate(emb, idx, tmp_path / "resumed", vocab, st, concept_emb=t, cluster_cache=cache)
    assert sorted(p.name for p in (tmp_path / "resumed").glob("*.parquet")) == ["00000.parquet"]
    monkeypatch.setattr(curate_mod, "write_sidecar", real)
    res = curate(emb, idx, tmp_path / "resumed", vocab, st, concept_emb=t, cluster_cache=cache)
    assert res.skipped == ["00000"] and res.done == ["00001", "00002"]
    for name in ("00000.parquet", "00001.parquet", "00002.parquet", "manifest.json"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()
    assert not list((tmp_path / "resumed").glob(".*tmp"))
    cur = load_curation(tmp_path / "full")
    assert any((c.cluster >= 0).any() for c in cur.values())


def test_shard_split_union_equals_full_and_settings_guard(world, tmp_path):
    emb, vocab, t = world["emb"], world["vocab"], world["t"]
    idx = emb / "index" / "img.index"
    st = CurateSettings(neighbours=4)
    curate(emb, idx, tmp_path / "full", vocab, st, concept_emb=t)
    r0 = curate(emb, idx, tmp_path / "split", vocab, st, concept_emb=t, shard_index=0, num_shards=2)
    r1 = curate(emb, idx, tmp_path / "split", vocab, st, concept_emb=t, shard_index=1, num_shards=2)
    assert r0.done == ["00000", "00002"] and r1.done == ["00001"]
    for name in ("00000.parquet", "00001.parquet", "00002.parquet"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "split" / name).read_bytes()
    with pytest.raises(CocuError, match="other settings"):
        curate(emb, idx, tmp_path / "full", vocab, CurateSettings(neighbours=16), concept_emb=t)
    with pytest.raises(CocuError, match="needs an index over text"):
        curate(emb, idx, tmp_path / "lang", vocab, CurateSettings(expansion="language"), concept_emb=t)
    with pytest.raises(CocuError, match="--neighbours"):
        curate(emb, idx, tmp_path / "x", vocab, CurateSettings(neighbours=0), concept_emb=t)


def test_exclude_anchor_never_returns_the_anchor_itself(world, tmp_path):
    emb, vocab, t = world["emb"], world["vocab"], world["t"]
    st = CurateSettings(neighbours=1, exclude_anchor=True, ranking="naive")
    curate(emb, emb / "index" / "img.index", tmp_path / "ex", vocab, st, concept_emb=t)
    cur = load_curation(tmp_path / "ex")
    store = EmbeddingStore.open(emb)
    v = np.concatenate([np.asarray(store.embeddings(s), np.float32) for s in store.stems])
    caps = ConceptLists.concat([store.concept_lists(s, vocab) for s in store.stems])
    keys = list(cur)
    # with N = 1 and the anchor excluded, the archive is exactly the nearest *other* image's concepts
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    nn = sims.argmax(1)
    for i in range(0, 120, 7):
        assert sorted(cur[keys[i]].concept_ids.tolist()) == sorted(caps.row(nn[i]).tolist())


def _archive(ids, scores, clusters):
    from cocu.data.sidecar import ConceptArchive

    n = len(ids)
    return ConceptArchive([f"c{i}" for i in ids], np.asarray(ids, np.int32), np.zeros(n, np.float32),
                          np.zeros(n, np.float32), np.asarray(scores, np.float32),
                          np.asarray(clusters, np.int32), np.ones(n, np.int32))


def test_drawn_prompts_scored_as_sets_against_the_truth():
    # image a: true {0, 1, 5}, caption names {0}; archive c0 > c1 > c2, c0 and c1 in one cluster.
    # plain draws c0, c1, c2 every time: precision 2/3, recall 2/4 and omitted recall 1/3 (b counts too).
    # cluster: c2's cluster mean -20 against (9 + 8) / 2 = 8.5, so e^-28.5 ≈ 4e-13 (never drawn),
    # and inside the other cluster c0 takes 1 / (1 + e^-1) ≈ 0.73: every draw is a subset of {c0, c1}.
    # image b has no archive: nothing drawn, its true {3} still counts in the recall.
    cur = {"a": _archive([0, 1, 2], [9.0, 8.0, -20.0], [0, 0, 1])}
    truth = {"a": ({0, 1, 5}, {0}), "b": ({3}, set())}
    plain = score_drawn(cur, truth, "plain", k=3, draws=4)
    assert plain["precision"] == pytest.approx(2 / 3) and plain["recall"] == pytest.approx(2 / 4)
    assert plain["omitted_recall"] == pytest.approx(1 / 3) and plain["distinct"] == pytest.approx(3 / 2)
    cluster = score_drawn(cur, truth, "cluster", k=3, draws=50, seed=1)
    assert cluster["precision"] == 1.0                     # c2 never drawn
    assert 1.0 < 2 * cluster["distinct"] < 2.0             # a draw holds c0 alone or c0 and c1
    assert cluster["recall"] < plain["recall"]
    assert score_drawn(cur, truth, "cluster", k=3, seed=2) == score_drawn(cur, truth, "cluster", k=3, seed=2)


def test_report_and_cli(world, tmp_path, capsys):
    from cocu.cli import main

    vocab = world["vocab"]
    truth = load_truth(world["shards"], vocab)
    assert len(truth) == 120
    s = score_topk({"a": [0, 1]}, {"a": ({0, 2}, {0})})
    assert s == {"precision": 0.5, "recall": 0.5, "omitted_recall": 0.0, "images": 1}
    rows = sweep_report(world["emb"], world["shards"], vocab, neighbours=[4], concept_emb=world["t"])
    assert [(r["expansion"], r["ranking"]) for r in rows] == [
        ("caption", "-"), ("language", "naive"), ("language", "t2v"), ("vision", "naive"), ("vision", "t2v")]
    assert rows[0]["omitted_recall"] == 0.0 and rows[0]["precision"] > 0.9
    emb = str(world["emb"])
    out = str(tmp_path / "cli")
    vf = str(world["world"] / "vocab.txt")
    assert main(["curate", "--emb", emb, "--out", out, "--vocab", vf, "--neighbours", "4",
                 "--report", str(world["world"] / "train")]) == 0
    text = capsys.readouterr().out
    assert "curated 120 anchors" in text and "omitted" in text
    assert (tmp_path / "cli" / "concept_emb.npy").exists()
    assert main(["curate", "--emb", emb, "--out", out, "--vocab", vf, "--neighbours", "8"]) == 2
    # the drawn prompts: --sampling needs --report, cluster sampling needs the clusters
    assert main(["curate", "--emb", emb, "--out", out + "2", "--vocab", vf, "--sampling", "plain"]) == 2
    assert main(["curate", "--emb", emb, "--out", out + "2", "--vocab", vf, "--sampling", "cluster",
                 "--report", str(world["world"] / "train")]) == 2
    assert not (tmp_path / "cli2").exists()
    capsys.readouterr()
    assert main(["curate", "--emb", emb, "--out", out + "2", "--vocab", vf, "--neighbours", "4", "--clusters",
                 "--sampling", "cluster", "--report", str(world["world"] / "train")]) == 0
    assert "drawn_distinct" in capsys.readouterr().out
    # the truth read once by the caller gives the row the shards give
    row = report_from_sidecars(out + "2", world["shards"], vocab, sampling="cluster")
    assert report_from_sidecars(out + "2", None, vocab, sampling="cluster", truth=truth) == row
    assert row["drawn_distinct"] <= 3 and row["images"] == 120
    assert main(["index", "--emb", str(tmp_path / "nothing")]) == 2


def test_trimmed_text_encoding_equals_full_context():
    import open_clip
    import torch

    from cocu.curation.encoder import encode_text_trimmed

    torch.manual_seed(0)
    model = build_small_clip(TINY).eval()
    ids = open_clip.get_tokenizer("RN50")(["a dog", "a photo of a race car on the road near the sea"])
    with torch.no_grad():
        full, trimmed = model.encode_text(ids), encode_text_trimmed(model, ids)
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=1e-5)
