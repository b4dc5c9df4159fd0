"""The synthetic semantic-gap world: training shards, VOC-/ADE-like benchmarks, vocab, stats.

``generate_world(out, seed)`` writes::

    out/train/00000.tar ...     webdataset shards: KEY.jpg, KEY.txt (gap caption), KEY.json
    out/voc_like/               JPEGImages/, SegmentationClass/ (palette PNG), ImageSets/, classes.json
    out/ade_like/               images/validation/, annotations/validation/, classes.json
    out/vocab.txt               the world's classes with synonyms (canonical first)
    out/world.json              classes, settings, counts and caption statistics

Every sample is drawn from its own generator seeded by ``(seed, split, index)``, so the
output does not depend on the number of worker processes. Train is split 0, the
validation images (shared by both benchmark layouts) split 1.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing as mp
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import webdataset as wds
from PIL import Image

from cocu.data.synth_captions import SIZE_HI, SIZE_LO, make_captions, object_name_probability, stuff_name_probability
from cocu.data.synth_classes import (
    DEFAULT_NUM_OBJECTS, DEFAULT_NUM_STUFF, OBJECT_CLASSES, STUFF_CLASSES,
)
from cocu.data.synth_render import RenderConfig, render_sample
from cocu.errors import CocuError
from cocu.utils.voc_colours import voc_palette
from cocu.utils.io import atomic_open, atomic_path, write_json
from cocu.utils.progress import progress

log = logging.getLogger(__name__)

TRAIN_SPLIT, VAL_SPLIT = 0, 1
OUTPUT_ENTRIES = ("train", "voc_like", "ade_like", "vocab.txt", "world.json")
JPEG_QUALITY = 95


@dataclass
class WorldInfo:
    """What :func:`generate_world` wrote."""

    out: Path
    classes: list[str]  # objects then stuff (world class id order)
    kinds: list[str]
    synonyms: dict[str, list[str]]
    train_shards: list[Path]
    voc_dir: Path
    ade_dir: Path
    vocab_path: Path
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def object_classes(self) -> list[str]:
        return [c for c, k in zip(self.classes, self.kinds) if k == "object"]

    @property
    def stuff_classes(self) -> list[str]:
        return [c for c, k in zip(self.classes, self.kinds) if k == "stuff"]


def make_render_config(size: int = 64, seed: int = 0, num_object_classes: int = DEFAULT_NUM_OBJECTS,
                       num_stuff_classes: int = DEFAULT_NUM_STUFF, **kwargs: Any) -> RenderConfig:
    """Render settings of a world with the first ``num_*_classes`` classes of the catalogue."""
    if not 1 <= num_object_classes <= len(OBJECT_CLASSES):
        raise CocuError(f"num_object_classes must be in 1..{len(OBJECT_CLASSES)}, got {num_object_classes}")
    if not 1 <= num_stuff_classes <= len(STUFF_CLASSES):
        raise CocuError(f"num_stuff_classes must be in 1..{len(STUFF_CLASSES)}, got {num_stuff_classes}")
    if size < 32:
        raise CocuError(f"image size must be >= 32 px, got {size}")
    return RenderConfig(objects=OBJECT_CLASSES[:num_object_classes], stuff=STUFF_CLASSES[:num_stuff_classes],
                        size=size, tile_seed=seed, **kwargs)


def sample_rng(seed: int, split: int, index: int) -> np.random.Generator:
    """The generator of one sample (independent streams per seed, split and index)."""
    return np.random.default_rng([seed, split, index])


def make_sample(cfg: RenderConfig, seed: int, split: int, index: int, gap: float) -> dict[str, Any]:
    """Render sample ``index`` of ``split``: image, mask, meta, captions (see render_sample)."""
    rng = sample_rng(seed, split, index)
    image, mask, meta = render_sample(rng, cfg)
    caption, complete, named = make_captions(rng, meta, cfg.objects, cfg.stuff, cfg.size, gap)
    return {"image": image, "mask": mask, "meta": meta, "caption": caption,
            "caption_complete": complete, "named": named}


def sample_json(s: dict[str, Any]) -> dict[str, Any]:
    """The ``KEY.json`` record of a sample (ARCHITECTURE.md "Training shards")."""
    meta = s["meta"]
    return {"classes": [o["class"] for o in meta["objects"]] + list(meta["stuff"]),
            "caption_complete": s["caption_complete"],
            "objects": [{"class": o["class"], "area": round(o["area"], 6), "box": o["box"]}
                        for o in meta["objects"]],
            "stuff": list(meta["stuff"]),
            "named": s["named"]}


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


# ------------------------------------------------------------------- workers

_CFG_CACHE: dict[tuple, RenderConfig] = {}


def _cfg(size: int, seed: int, n_obj: int, n_stuff: int) -> RenderConfig:
    key = (size, seed, n_obj, n_stuff)
    if key not in _CFG_CACHE:
        _CFG_CACHE[key] = make_render_config(size, seed, n_obj, n_stuff)
    return _CFG_CACHE[key]


def _write_shard(job: dict[str, Any]) -> dict[str, Any]:
    """Write one training shard atomically; return its caption statistics."""
    cfg = _cfg(job["size"], job["seed"], job["n_obj"], job["n_stuff"])
    names = [c.name for c in cfg.classes]
    present = np.zeros(len(names), np.int64)
    named = np.zeros(len(names), np.int64)
    words = 0
    n_objects = 0
    path = Path(job["path"])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            writer = wds.TarWriter(fh, encoder=False, mtime=0.0)
            for i in range(job["count"]):
                s = make_sample(cfg, job["seed"], TRAIN_SPLIT, job["start"] + i, job["gap"])
                rec = sample_json(s)
                key = f"{job['shard']:05d}{i:04d}"
                writer.write({"__key__": key, "jpg": encode_jpeg(s["image"]),
                              "txt": s["caption"].encode("utf-8"),
                              "json": json.dumps(rec).encode("utf-8")})
                for c in rec["classes"]:
                    present[names.index(c)] += 1
                for c in rec["named"]:
                    named[names.index(c)] += 1
                words += len(s["caption"].split())
                n_objects += len(rec["objects"])
            writer.close()
    return {"count": job["count"], "present": present, "named": named, "words": words,
            "objects": n_objects}


def _label_maps(mask: np.ndarray, n_obj: int) -> tuple[np.ndarray, np.ndarray]:
    """VOC-like (0 bg, 1..O objects, 255 1-px outer ring) and ADE-like (1..C) label maps."""
    obj = mask < n_obj
    voc = np.where(obj, mask + 1, 0).astype(np.uint8)
    pad = np.pad(obj, 1)
    h, w = obj.shape
    dil = np.zeros_like(obj)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            dil |= pad[dy:dy + h, dx:dx + w]
    voc[dil & ~obj] = 255
    ade = (mask + 1).astype(np.uint8)
    return voc, ade


def _write_val_chunk(job: dict[str, Any]) -> list[str]:
    cfg = _cfg(job["size"], job["seed"], job["n_obj"], job["n_stuff"])
    voc_dir, ade_dir = Path(job["voc_dir"]), Path(job["ade_dir"])
    palette = voc_palette()
    keys = []
    for index in range(job["start"], job["start"] + job["count"]):
        s = make_sample(cfg, job["seed"], VAL_SPLIT, index, job["gap"])
        key = f"{index:06d}"
        jpg = encode_jpeg(s["image"])
        voc, ade = _label_maps(s["mask"], len(cfg.objects))
        for path in (voc_dir / "JPEGImages" / f"{key}.jpg", ade_dir / "images" / "validation" / f"{key}.jpg"):
            with atomic_open(path, "wb") as fh:
                fh.write(jpg)
        voc_img = Image.fromarray(voc, mode="P")
        voc_img.putpalette(palette)
        with atomic_path(voc_dir / "SegmentationClass" / f"{key}.png") as tmp:
            voc_img.save(tmp, format="PNG")
        with atomic_path(ade_dir / "annotations" / "validation" / f"{key}.png") as tmp:
            Image.fromarray(ade, mode="L").save(tmp, format="PNG")
        keys.append(key)
    return keys


# -------------------------------------------------------------------- driver


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CocuError(f"--out {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise CocuError(f"output folder {out} is not empty; pass --overwrite to replace "
                            f"its synthetic-world contents ({', '.join(OUTPUT_ENTRIES)})")
        for name in OUTPUT_ENTRIES:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _run_jobs(fn, jobs: list[dict[str, Any]], workers: int, bar) -> list[Any]:
    results: list[Any] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = fn(job)
            bar.update(job["count"])
        return results
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(min(workers, len(jobs))) as pool:
        for i, res in enumerate(pool.imap(fn, jobs)):
            results[i] = res
            bar.update(jobs[i]["count"])
    return results


def generate_world(out: str | Path, seed: int = 0, *, num_train: int = 20000, num_val: int = 500,
                   size: int = 64, gap: float = 0.8, shard_size: int = 1000,
                   num_object_classes: int = DEFAULT_NUM_OBJECTS, num_stuff_classes: int = DEFAULT_NUM_STUFF,
                   workers: int = 1, overwrite: bool = False) -> WorldInfo:
    """Write the synthetic world into ``out`` (layout in the module docstring); deterministic per seed."""
    t0 = time.perf_counter()
    out = Path(out)
    if not 0.0 <= gap <= 1.0:
        raise CocuError(f"--gap must be in [0, 1], got {gap}")
    if num_train < 0 or num_val < 0:
        raise CocuError("--num-train and --num-val must be >= 0")
    if not 1 <= shard_size <= 10000:
        raise CocuError(f"--shard-size must be in 1..10000 (keys are shard*10^4 + index), got {shard_size}")
    cfg = make_render_config(size, seed, num_object_classes, num_stuff_classes)
    _prepare_out(out, overwrite)
    base = {"size": size, "seed": seed, "n_obj": num_object_classes, "n_stuff": num_stuff_classes, "gap": gap}

    n_shards = (num_train + shard_size - 1) // shard_size
    train_jobs = [dict(base, shard=k, start=k * shard_size, count=min(shard_size, num_train - k * shard_size),
                       path=str(out / "train" / f"{k:05d}.tar")) for k in range(n_shards)]
    (out / "train").mkdir(parents=True, exist_ok=True)
    with progress(total=num_train, desc="synth train", unit="img") as bar:
        shard_stats = _run_jobs(_write_shard, train_jobs, workers, bar)

    voc_dir, ade_dir = out / "voc_like", out / "ade_like"
    chunk = max(1, min(250, (num_val + max(1, workers) - 1) // max(1, workers)))
    val_jobs = [dict(base, start=s, count=min(chunk, num_val - s), voc_dir=str(voc_dir), ade_dir=str(ade_dir))
                for s in range(0, num_val, chunk)]
    with progress(total=num_val, desc="synth val", unit="img") as bar:
        keys = [k for ks in _run_jobs(_write_val_chunk, val_jobs, workers, bar) for k in ks]
    _write_benchmark_meta(cfg, voc_dir, ade_dir, keys)

    vocab_path = out / "vocab.txt"
    with atomic_open(vocab_path, "w", encoding="utf-8") as fh:
        fh.write("# synthetic semantic-gap world: canonical name first, then synonyms\n")
        for c in cfg.classes:
            fh.write(", ".join(c.synonyms) + "\n")

    stats = _caption_stats(cfg, shard_stats, num_train, gap)
    classes = [c.name for c in cfg.classes]
    info = WorldInfo(out=out, classes=classes, kinds=[c.kind for c in cfg.classes],
                     synonyms={c.name: list(c.synonyms) for c in cfg.classes},
                     train_shards=[Path(j["path"]) for j in train_jobs], voc_dir=voc_dir, ade_dir=ade_dir,
                     vocab_path=vocab_path, stats=stats, seconds=time.perf_counter() - t0)
    write_json(out / "world.json", {
        "classes": [{"id": i, "name": c.name, "kind": c.kind, "synonyms": list(c.synonyms),
                     **({"shape": c.shape, "texture": c.texture, "size_range": list(c.size_range)}
                        if c.kind == "object" else {"texture": c.texture})}
                    for i, c in enumerate(cfg.classes)],
        "seed": seed, "gap": gap, "size": size, "shard_size": shard_size,
        "counts": {"train": num_train, "val": num_val, "shards": n_shards},
        "caption_stats": stats,
    })
    log.info("synthetic world written to %s in %.1f s (%d train, %d val)", out, info.seconds, num_train, num_val)
    return info


def _write_benchmark_meta(cfg: RenderConfig, voc_dir: Path, ade_dir: Path, keys: list[str]) -> None:
    objects = [c.name for c in cfg.objects]
    stuff = [c.name for c in cfg.stuff]
    for d in (voc_dir / "JPEGImages", voc_dir / "SegmentationClass", ade_dir / "images" / "validation",
              ade_dir / "annotations" / "validation"):
        d.mkdir(parents=True, exist_ok=True)
    with atomic_open(voc_dir / "ImageSets" / "Segmentation" / "val.txt", "w") as fh:
        fh.write("".join(k + "\n" for k in keys))
    write_json(voc_dir / "classes.json", {"classes": objects, "background": True})
    write_json(ade_dir / "classes.json", {"classes": objects + stuff, "background": False,
                                          "reduce_zero_label": True})


def _caption_stats(cfg: RenderConfig, shard_stats: list[dict[str, Any]], n: int, gap: float) -> dict[str, Any]:
    present = sum((s["present"] for s in shard_stats), np.zeros(len(cfg.classes), np.int64))
    named = sum((s["named"] for s in shard_stats), np.zeros(len(cfg.classes), np.int64))
    per_class = {}
    for i, c in enumerate(cfg.classes):
        rate = float(named[i] / present[i]) if present[i] else None
        per_class[c.name] = {"kind": c.kind, "present": int(present[i]), "named": int(named[i]),
                             "named_rate": None if rate is None else round(rate, 4)}
    obj = [i for i, c in enumerate(cfg.classes) if c.kind == "object"]
    stf = [i for i, c in enumerate(cfg.classes) if c.kind == "stuff"]

    def _rate(ids: list[int]) -> float | None:
        p = int(present[ids].sum())
        return round(float(named[ids].sum() / p), 4) if p else None

    return {
        "images": n,
        "mean_objects_per_image": round(sum(s["objects"] for s in shard_stats) / n, 4) if n else None,
        "mean_caption_words": round(sum(s["words"] for s in shard_stats) / n, 4) if n else None,
        "object_named_rate": _rate(obj),
        "stuff_named_rate": _rate(stf),
        "model": {"object_p_small": round(object_name_probability(SIZE_LO, gap), 4),
                  "object_p_big": round(object_name_probability(SIZE_HI, gap), 4),
                  "stuff_p": round(stuff_name_probability(gap), 4), "salient_object_p": 1.0},
        "per_class": per_class,
    }

