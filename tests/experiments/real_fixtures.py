"""Tiny inputs in the real formats: img2dataset webdataset shards, an open_clip model folder, and
all eight benchmark layouts (``tests/eval/layouts.py``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.eval import layouts

# (caption words, colour of the object, colour of the stuff) — words from the shipped vocabulary
SCENES = [
    ("a dog on the grass", (200, 120, 40), (40, 160, 40)),
    ("a red car in the street", (220, 20, 20), (90, 90, 90)),
    ("a cat on a sofa", (120, 120, 120), (150, 60, 150)),
    ("a boat on the water near a tree", (240, 240, 240), (30, 60, 200)),
    ("a person with a bicycle", (250, 200, 160), (180, 180, 120)),
    ("a bird in the sky", (20, 20, 20), (120, 180, 250)),
]


def _scene(rng: np.random.Generator, obj: tuple, stuff: tuple, size: int = 64) -> bytes:
    img = np.empty((size, size, 3), np.uint8)
    img[:] = np.clip(np.array(stuff) + rng.integers(-20, 21, 3), 0, 255)
    y, x = rng.integers(4, size // 2, 2)
    h, w = rng.integers(size // 4, size // 2, 2)
    img[y:y + h, x:x + w] = np.clip(np.array(obj) + rng.integers(-20, 21, 3), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_img2dataset_shards(out: Path, shards: int = 2, per_shard: int = 16, seed: int = 0) -> Path:
    """``out/{00000..}.tar`` (KEY.jpg, KEY.txt, KEY.json), ``_stats.json`` and ``.parquet`` per
    shard, with keys ``{shard:05d}{index:04d}`` — what img2dataset writes."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import webdataset as wds

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for s in range(shards):
        keys, caps = [], []
        with wds.TarWriter(str(out / f"{s:05d}.tar")) as sink:
            for i in range(per_shard):
                key = f"{s:05d}{i:04d}"
                caption, obj, stuff = SCENES[(s * per_shard + i) % len(SCENES)]
                meta = {"url": f"http://example.com/{key}.jpg", "caption": caption, "key": key,
                        "status": "success", "error_message": None, "width": 64, "height": 64,
                        "original_width": 64, "original_height": 64}
                sink.write({"__key__": key, "jpg": _scene(rng, obj, stuff), "txt": caption,
                            "json": json.dumps(meta).encode()})
                keys.append(key)
                caps.append(caption)
        pq.write_table(pa.table({"key": keys, "caption": caps, "status": ["success"] * len(keys)}),
                       out / f"{s:05d}.parquet")
        (out / f"{s:05d}_stats.json").write_text(json.dumps(
            {"count": per_shard, "successes": per_shard, "failed_to_download": 0,
             "failed_to_resize": 0, "status_dict": {"success": per_shard}}))
    return out


def write_open_clip_dir(out: Path, seed: int = 0) -> Path:
    """A tiny open_clip CLIP saved as open_clip saves models (``open_clip_config.json`` +
    ``open_clip_model.safetensors``), loadable as ``local-dir:OUT``."""
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    model_cfg = {"embed_dim": 64,
                 "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "head_width": 32,
                                "patch_size": 16},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                              "layers": 1}}
    torch.manual_seed(seed)
    model = CLIP(**model_cfg)
    out.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(out / "open_clip_model.safetensors"))
    (out / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": model_cfg,
        "preprocess_cfg": {"size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                           "interpolation": "bicubic", "resize_mode": "shortest"}}))
    return out


PAPER_LAYOUTS = ("voc", "context", "coco_object", "imagenet_s50", "imagenet_s300", "cityscapes",
                 "ade20k", "coco_stuff")


def write_benchmarks(root: Path, names=PAPER_LAYOUTS) -> Path:
    for name in names:
        layouts.WRITERS[name](root)
    return root
