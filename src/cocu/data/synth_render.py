"""Rendering of synthetic-world images with exact class masks (numpy, vectorised).

One image = one or two textured stuff layers split by a wavy horizon, then 1–3
non-overlapping objects (shape × two colours × binary texture) painted on top. The
class mask holds world class ids (objects first, then stuff) and is exact: an object's
pixels are precisely those where its shape predicate holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cocu.data.synth_classes import SynthClass

# ---------------------------------------------------------------------------- shapes
# Each predicate takes normalised coordinates u (x), v (y) in [-1, 1] (v grows downward)
# and returns a boolean mask. Every shape spans at least 0.8 of its box in both directions.


def _polar(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.sqrt(u * u + v * v), np.arctan2(v, u)


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x, y = u * 1.25, -v * 1.25 + 0.2
    return (x * x + y * y - 1.0) ** 3 - x * x * y ** 3 <= 0.0


SHAPES = {
    "disc": lambda u, v: u * u + v * v <= 1.0,
    "square": lambda u, v: (np.abs(u) <= 0.85) & (np.abs(v) <= 0.85),
    "triangle": lambda u, v: (v <= 0.85) & (np.abs(u) <= (v + 1.0) / 1.85),
    "cross": lambda u, v: ((np.abs(u) <= 0.34) | (np.abs(v) <= 0.34)) & (np.abs(u) <= 1) & (np.abs(v) <= 1),
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.3),
    "star": lambda u, v: _polar(u, v)[0] <= 0.5 + 0.5 * ((1 + np.cos(5 * _polar(u, v)[1] + np.pi / 2)) / 2) ** 1.5,
    "diamond": lambda u, v: np.abs(u) + np.abs(v) <= 1.0,
    "hexagon": lambda u, v: (np.abs(v) <= 0.866) & (1.732 * np.abs(u) + np.abs(v) <= 1.732),
    "lshape": lambda u, v: (np.abs(u) <= 0.95) & (np.abs(v) <= 0.95) & ((u <= -0.25) | (v >= 0.25)),
    "crescent": lambda u, v: (u * u + v * v <= 1.0) & ((u - 0.6) ** 2 + v * v >= 0.36),
    "dome": lambda u, v: (u * u + ((v - 0.9) / 1.8) ** 2 <= 1.0) & (v <= 0.9),
    "frame": lambda u, v: (np.maximum(np.abs(u), np.abs(v)) <= 0.95) & (np.maximum(np.abs(u), np.abs(v)) >= 0.45),
    "ellipse": lambda u, v: (u / 0.8) ** 2 + v * v <= 1.0,
    "heart": _heart,
}

# ----------------------------------------------------------------- object textures
# Binary patterns on absolute pixel coordinates (xx, yy); period scales with image size.


def _object_pattern(name: str, xx: np.ndarray, yy: np.ndarray, u: np.ndarray, v: np.ndarray,
                    period: float) -> np.ndarray:
    """Boolean array: True where colour B is used, False for colour A."""
    p = period
    if name == "solid":
        return np.zeros(xx.shape, dtype=bool)
    if name == "hstripes":
        return (yy // (p / 2)) % 2 == 1
    if name == "vstripes":
        return (xx // (p / 2)) % 2 == 1
    if name == "dstripes":
        return ((xx + yy) // (p / 2)) % 2 == 1
    if name == "checker":
        return ((xx // (p / 2)) + (yy // (p / 2))) % 2 == 1
    if name == "dots":
        cx = (xx % p) - p / 2 + 0.5
        cy = (yy % p) - p / 2 + 0.5
        return cx * cx + cy * cy <= (p / 3.2) ** 2
    if name == "halves":
        return v > 0.1
    if name == "concentric":
        return (np.sqrt(u * u + v * v) * 3).astype(int) % 2 == 1
    raise ValueError(f"unknown object texture {name!r}")


OBJECT_TEXTURES = ("solid", "hstripes", "vstripes", "dstripes", "checker", "dots", "halves", "concentric")

# ------------------------------------------------------------------ stuff textures


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid bilinearly upsampled to (h, w)."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    ys = np.arange(h) / cell
    xs = np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    g00 = grid[y0][:, x0]
    g01 = grid[y0][:, x0 + 1]
    g10 = grid[y0 + 1][:, x0]
    g11 = grid[y0 + 1][:, x0 + 1]
    return (g00 * (1 - fy) * (1 - fx) + g01 * (1 - fy) * fx + g10 * fy * (1 - fx) + g11 * fy * fx)


def make_stuff_tile(cls: SynthClass, size: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 texture tile [2*size, 2*size, 3] for a stuff class (cropped per image)."""
    n = 2 * size
    s = size / 64.0  # texture scale relative to the 64 px reference
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    a = np.asarray(cls.colors[0], np.float32)
    b = np.asarray(cls.colors[1], np.float32)
    kind = cls.texture
    if kind == "sky":
        t = 0.7 * _smooth_noise(rng, n, n, max(2, int(12 * s))) ** 2 + 0.3 * (yy / n)
    elif kind == "grass":
        streak = _smooth_noise(rng, n, n * 8, max(2, int(8 * s)))[:, ::8]
        t = 0.6 * streak + 0.4 * rng.random((n, n))
    elif kind == "water":
        wave = np.sin(yy / (2.2 * s) + 1.5 * np.sin(xx / (6.0 * s)))
        t = 0.5 + 0.4 * wave + 0.1 * rng.random((n, n))
    elif kind == "road":
        t = 0.35 * rng.random((n, n)) + 0.25 * _smooth_noise(rng, n, n, max(2, int(6 * s)))
    elif kind == "brick":
        bh, bw = max(2, int(6 * s)), max(4, int(12 * s))
        row = (yy // bh).astype(int)
        offs = (row % 2) * (bw // 2)
        mortar = ((yy % bh) < max(1, bh // 5)) | (((xx + offs) % bw) < max(1, bw // 8))
        t = np.where(mortar, 1.0, 0.12 * rng.random((n, n)))
    elif kind == "sand":
        ripple = 0.5 + 0.5 * np.sin((xx + 0.5 * yy) / (3.0 * s))
        t = 0.45 * ripple + 0.3 * rng.random((n, n)) + 0.25 * _smooth_noise(rng, n, n, max(2, int(10 * s)))
    else:
        raise ValueError(f"unknown stuff texture {kind!r}")
    t = np.clip(t, 0.0, 1.0)[..., None]
    return (a * (1 - t) + b * t).astype(np.float32)


# ------------------------------------------------------------------------- config


@dataclass
class RenderConfig:
    """Everything needed to render samples of one world (classes, size, noise, tiles)."""

    objects: tuple[SynthClass, ...]
    stuff: tuple[SynthClass, ...]
    size: int = 64
    noise_std: float = 4.0  # Gaussian pixel noise (0 for exact colours)
    color_jitter: float = 0.08  # per-object brightness jitter (0 for exact colours)
    num_objects_p: tuple[float, ...] = (0.35, 0.40, 0.25)  # P(1), P(2), P(3) objects
    two_stuff_p: float = 0.75  # probability of two stuff layers instead of one
    tile_seed: int = 0
    stuff_tiles: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.stuff_tiles:
            rng = np.random.default_rng([self.tile_seed, 7])
            self.stuff_tiles = [make_stuff_tile(c, self.size, rng) for c in self.stuff]

    @property
    def classes(self) -> tuple[SynthClass, ...]:
        """All classes in id order: objects, then stuff."""
        return self.objects + self.stuff


def _stuff_layout(rng: np.random.Generator, cfg: RenderConfig) -> tuple[np.ndarray, list[int]]:
    """Stuff id map [H, W] (ids into cfg.stuff) and the stuff ids present."""
    h = w = cfg.size
    n_stuff = len(cfg.stuff)
    if n_stuff == 1 or rng.random() >= cfg.two_stuff_p:
        sid = int(rng.integers(n_stuff))
        return np.full((h, w), sid, dtype=np.int64), [sid]
    top, bottom = (int(i) for i in rng.choice(n_stuff, size=2, replace=False))
    xs = np.arange(w)
    base = h * rng.uniform(0.3, 0.7)
    amp = h * rng.uniform(0.0, 0.08)
    freq = rng.uniform(0.5, 2.0) * 2 * np.pi / w
    line = base + amp * np.sin(freq * xs + rng.uniform(0, 2 * np.pi))
    lower = np.arange(h)[:, None] >= line[None, :]
    if rng.random() < 0.25:  # a vertical split now and then
        lower = lower.T
    return np.where(lower, bottom, top), [top, bottom]


def _place_objects(rng: np.random.Generator, cfg: RenderConfig) -> list[tuple[int, int, int, int]]:
    """Choose (object id, side, y0, x0) for 1–3 objects with disjoint boxes (2 px apart)."""
    n_obj = int(rng.choice(len(cfg.num_objects_p), p=np.asarray(cfg.num_objects_p) / sum(cfg.num_objects_p))) + 1
    n_obj = min(n_obj, len(cfg.objects))
    ids = rng.choice(len(cfg.objects), size=n_obj, replace=False)
    sides = []
    for oid in ids:
        lo, hi = cfg.objects[int(oid)].size_range
        sides.append(int(round(cfg.size * rng.uniform(lo, hi))))
    order = np.argsort(sides)[::-1]  # place big ones first
    placed: list[tuple[int, int, int, int]] = []
    min_side = int(round(cfg.size * 0.31))
    for k in order:
        oid, side = int(ids[k]), sides[k]
        for attempt in range(60):
            if attempt == 10:  # crowded: shrink to the class's smallest size, then the world's
                side = max(min_side, min(side, int(round(cfg.size * cfg.objects[oid].size_range[0]))))
            elif attempt == 30:
                side = min_side
            y0 = int(rng.integers(0, cfg.size - side + 1))
            x0 = int(rng.integers(0, cfg.size - side + 1))
            if all(y0 >= py + ps + 2 or py >= y0 + side + 2 or x0 >= px + ps + 2 or px >= x0 + side + 2
                   for _, ps, py, px in placed):
                placed.append((oid, side, y0, x0))
                break
    return placed


def render_sample(rng: np.random.Generator, cfg: RenderConfig) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Render one image.

    Returns ``image`` uint8 [H, W, 3], ``class_mask`` int64 [H, W] (world class ids: objects
    0..O-1, stuff O..O+S-1) and ``meta`` = {"objects": [{"class", "id", "area", "side",
    "box": [y0, x0, y1, x1]}] (largest first), "stuff": [names], "stuff_ids": [...]}.
    ``area`` is the fraction of image pixels the object covers in the mask.
    """
    h = w = cfg.size
    n_obj_cls = len(cfg.objects)
    stuff_map, stuff_ids = _stuff_layout(rng, cfg)
    img = np.empty((h, w, 3), dtype=np.float32)
    oy, ox = rng.integers(0, cfg.size, size=2)
    for sid in stuff_ids:
        tile = cfg.stuff_tiles[sid][oy:oy + h, ox:ox + w]
        sel = stuff_map == sid
        img[sel] = tile[sel]
    mask = stuff_map + n_obj_cls
    objects = []
    period = max(4.0, cfg.size / 8.0)
    for oid, side, y0, x0 in _place_objects(rng, cfg):
        cls = cfg.objects[oid]
        yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side].astype(np.float32)
        c = (side - 1) / 2.0
        u = (xx - x0 - c) / (side / 2.0)
        v = (yy - y0 - c) / (side / 2.0)
        shape = SHAPES[cls.shape](u, v)
        pattern = _object_pattern(cls.texture, xx, yy, u, v, period)
        gain = 1.0 + cfg.color_jitter * rng.uniform(-1, 1) if cfg.color_jitter else 1.0
        ca = np.clip(np.asarray(cls.colors[0], np.float32) * gain, 0, 255)
        cb = np.clip(np.asarray(cls.colors[1], np.float32) * gain, 0, 255)
        colours = np.where(pattern[..., None], cb, ca)
        region = img[y0:y0 + side, x0:x0 + side]
        region[shape] = colours[shape]
        mask[y0:y0 + side, x0:x0 + side][shape] = oid
        objects.append({"class": cls.name, "id": oid, "area": float(shape.sum()) / (h * w),
                        "side": side, "box": [y0, x0, y0 + side, x0 + side]})
    if cfg.noise_std:
        img += rng.normal(0.0, cfg.noise_std, size=img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    objects.sort(key=lambda o: -o["area"])
    present = [s for s in stuff_ids if np.any(mask == s + n_obj_cls)]  # exact, after occlusion
    meta = {"objects": objects, "stuff": [cfg.stuff[s].name for s in present],
            "stuff_ids": [int(s) for s in present]}
    return image, mask, meta
