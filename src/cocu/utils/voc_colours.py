"""The PASCAL VOC colour map (shared by the synthetic world's PNGs and the viz palette)."""

from __future__ import annotations


def voc_colour(i: int) -> tuple[int, int, int]:
    """The PASCAL VOC colour of id ``i`` (the bit-interleaving rule of the VOC devkit)."""
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def voc_palette() -> list[int]:
    """The standard PASCAL VOC colour map (256 × RGB, flattened, as PIL's ``putpalette`` takes)."""
    return [v for i in range(256) for v in voc_colour(i)]
