"""Time and peak memory of segmenting one 6000 x 4000 JPEG on the CPU: ``PhotoSegmenter``
(reduced decode, strip upsampling) against the previous path (full-resolution decode, scores
resized to K x H x W, softmax, argmax: ``ZeroShotSegmenter.predict``), each in its own process.

    python benchmarks/segment_photo.py [--model groupvit_tiny] [--out benchmarks/segment_photo.json]

Wall seconds swing with machine load; CPU seconds (process time) and the peak-RSS growth over a
warmed-up baseline are the steadier numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(2)
from cocu.models import create_model
from cocu.viz.segment import PhotoSegmenter, write_segmentation
path, way, model_name, out = sys.argv[1:5]
torch.manual_seed(0)
seg = PhotoSegmenter(create_model(model_name).eval(), "rocket, sky, tree, ground, cloud", 0.5)
seg.segment(np.zeros((64, 96, 3), np.uint8))  # warm-up
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base, wall, cpu = rss(), time.perf_counter(), time.process_time()
if way == "photo":
    res = seg.segment(path)
    write_segmentation(res, out, "big")
    shape = res.mask.shape
else:  # the previous path: the full-resolution array, scores at full size
    from cocu.data.images import load_rgb
    img = load_rgb(path)
    mask = seg.seg.predict(img).numpy().astype(np.uint8)
    shape = mask.shape
print(json.dumps({"way": way, "model": model_name, "shape": list(shape),
                  "wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
                  "peak_rss_growth_mb": round(rss() - base)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="groupvit_tiny")
    ap.add_argument("--out", default=str(Path(__file__).with_name("segment_photo.json")))
    args = ap.parse_args()
    from PIL import Image
    from skimage import data as skdata

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "rocket_6000x4000.jpg"
        Image.fromarray(skdata.rocket()).resize((6000, 4000), Image.BILINEAR).save(photo, quality=90)
        rows = []
        for way in ("photo", "previous"):
            proc = subprocess.run([sys.executable, "-c", CHILD, str(photo), way, args.model, tmp],
                                  capture_output=True, text=True, check=False)
            if proc.returncode:
                raise SystemExit(proc.stderr[-3000:])
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    new, old = rows
    summary = {"photo": "6000x4000 JPEG (scikit-image rocket, upscaled)", "rows": rows,
               "cpu_ratio_previous_over_new": round(old["cpu_s"] / max(new["cpu_s"], 1e-9), 2),
               "memory_ratio_previous_over_new": round(old["peak_rss_growth_mb"] / max(new["peak_rss_growth_mb"], 1), 2)}
    print(json.dumps(summary, indent=2))
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
