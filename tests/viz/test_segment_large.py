"""A 6000 x 4000 photograph through ``segment_image`` in a fresh process: full-size mask and
overlay, and bounded peak memory (the class scores never exist at full resolution)."""

import subprocess
import sys
import textwrap

from PIL import Image
from skimage import data as skdata


def test_6000x4000_photo_with_bounded_memory(tmp_path):
    """A 24-megapixel JPEG: full-size mask, and the process's peak memory stays far below what
    K × H × W float32 scores at full size would take (K = 6 with background → 576 MB, and as
    much again for their softmax)."""
    big = Image.fromarray(skdata.rocket()).resize((6000, 4000), Image.BILINEAR)
    big.save(tmp_path / "big.jpg", quality=85)
    del big
    script = textwrap.dedent(f"""
        import resource, time, numpy as np, torch
        torch.set_num_threads(2)
        from cocu.models import create_model
        from cocu.viz.segment import PhotoSegmenter, write_segmentation
        torch.manual_seed(0)
        seg = PhotoSegmenter(create_model("groupvit_tiny").eval(), "rocket, sky, tree, ground, cloud", 0.5)
        seg.segment(np.zeros((64, 96, 3), np.uint8))  # warm-up: first-call allocations are not the photo's
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        res = seg.segment({str(tmp_path / "big.jpg")!r})
        write_segmentation(res, {str(tmp_path / "out")!r}, "big")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(res.mask.shape, (peak - base) // 1024, round(time.perf_counter() - t, 2))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=550)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shape, grew_mb, seconds = proc.stdout.strip().rsplit(" ", 2)
    assert shape == "(4000, 6000)"
    assert int(grew_mb) < 350, f"peak memory grew by {grew_mb} MB"
    with Image.open(tmp_path / "out" / "big_mask.png") as im:
        assert im.size == (6000, 4000)
    with Image.open(tmp_path / "out" / "big_overlay.png") as im:
        assert im.size[1] == 1365 and im.size[0] > 2048  # overlay ≤ 2048 px wide, plus the legend
