"""A deterministic colour palette for label masks.

Ids 0..20 use the PASCAL VOC colours (0 = background, black), id 255 (ignore) the VOC
"void" colour; every other id gets a distinct, saturated colour from a golden-ratio hue walk.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np

from cocu.utils.voc_colours import voc_colour

NUM_VOC_COLOURS = 21
IGNORE_INDEX = 255
VOID_COLOUR = (224, 224, 192)


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    pal = np.zeros((256, 3), dtype=np.uint8)
    used: set[tuple[int, int, int]] = set()
    for i in range(NUM_VOC_COLOURS):
        pal[i] = voc_colour(i)
        used.add(tuple(int(v) for v in pal[i]))
    used.add(VOID_COLOUR)
    hue = 0.0
    golden = 0.618033988749895
    for i in range(NUM_VOC_COLOURS, 255):
        k = i - NUM_VOC_COLOURS
        sat = (0.85, 0.6, 0.95)[k % 3]
        val = (0.95, 0.75, 0.55)[(k // 3) % 3]
        while True:
            hue = (hue + golden) % 1.0
            rgb = tuple(int(round(255 * v)) for v in colorsys.hsv_to_rgb(hue, sat, val))
            if rgb not in used:
                break
        used.add(rgb)
        pal[i] = rgb
    pal[IGNORE_INDEX] = VOID_COLOUR
    pal.setflags(write=False)
    return pal


def palette(n: int = 256) -> np.ndarray:
    """The first ``n`` (≤ 256) colours as a read-only uint8 array [n, 3]."""
    if not 1 <= n <= 256:
        raise ValueError(f"palette size must be in 1..256, got {n}")
    return _palette()[:n]


def flat_palette(pal: np.ndarray | None = None) -> list[int]:
    """A 768-entry ``[r0, g0, b0, r1, ...]`` list for ``PIL.Image.putpalette`` (padded with black)."""
    pal = palette() if pal is None else np.asarray(pal, dtype=np.uint8).reshape(-1, 3)
    if len(pal) > 256:
        raise ValueError(f"a PNG palette holds at most 256 colours, got {len(pal)}")
    flat = pal.reshape(-1).tolist()
    return flat + [0] * (768 - len(flat))
