"""Captions of the synthetic world: gap captions (what web alt-text looks like) and complete ones.

Gap model (one knob ``gap`` in [0, 1]): the most salient (largest) object is always
named; another object is named with probability ``p1(q) ** gap`` where ``q`` in [0, 1] is
its size within the world's size range and ``p1(q) = 0.12 + 0.73 q``; a stuff class with
probability ``0.04 ** gap``. So ``gap = 0`` names everything and ``gap = 1`` is the
strongest gap (small objects 0.12, stuff 0.04). Each mention uses a random synonym.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import inflect
import numpy as np

from cocu.data.synth_classes import SynthClass

SIZE_LO, SIZE_HI = 0.31, 0.53  # world-wide object side range (fractions of image side)
STUFF_P1 = 0.04

CAPTION_TEMPLATES = (
    "a photo of {o}{s}.",
    "an image showing {o}{s}.",
    "{O}{s}.",
    "there is {o}{s}.",
    "a close-up shot of {o}{s}.",
    "a snapshot of {o}{s}.",
    "look at {o}{s}!",
    "{O}{s}, seen in a photo.",
    "a rendering of {o}{s}.",
    "my favourite: {o}{s}.",
)
STUFF_CLAUSES = (" on the {}", " in front of the {}", " near the {}", " with the {} behind it")


@lru_cache(maxsize=1)
def _engine() -> inflect.engine:
    return inflect.engine()


@lru_cache(maxsize=4096)
def with_article(word: str) -> str:
    """``"a dog"`` / ``"an umbrella"`` (inflect, cached: it is slow)."""
    return _engine().a(word)


def object_name_probability(side_fraction: float, gap: float) -> float:
    """P(a non-salient object is named) for an object of side ``side_fraction`` of the image."""
    q = min(1.0, max(0.0, (side_fraction - SIZE_LO) / (SIZE_HI - SIZE_LO)))
    return float((0.12 + 0.73 * q) ** gap)


def stuff_name_probability(gap: float) -> float:
    """P(a stuff class is named)."""
    return float(STUFF_P1 ** gap)


def _join(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def compose_caption(rng: np.random.Generator, objects: list[SynthClass], stuff: list[SynthClass]) -> str:
    """A caption naming ``objects`` (≥ 1, with articles) and ``stuff`` with random synonyms/template."""
    obj_phrases = [with_article(c.synonyms[int(rng.integers(len(c.synonyms)))]) for c in objects]
    o = _join(obj_phrases)
    s = ""
    if stuff:
        names = [st.synonyms[int(rng.integers(len(st.synonyms)))] for st in stuff]
        s = STUFF_CLAUSES[int(rng.integers(len(STUFF_CLAUSES)))].format(" and the ".join(names))
    template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
    return template.format(o=o, O=o[0].upper() + o[1:], s=s)


def make_captions(rng: np.random.Generator, meta: dict[str, Any], objects: tuple[SynthClass, ...],
                  stuff: tuple[SynthClass, ...], size: int, gap: float) -> tuple[str, str, list[str]]:
    """Gap caption, complete caption and the canonical names the gap caption mentions.

    ``meta`` comes from :func:`cocu.data.synth_render.render_sample` (objects largest first).
    """
    named_obj: list[SynthClass] = []
    for rank, o in enumerate(meta["objects"]):
        p = 1.0 if rank == 0 else object_name_probability(o["side"] / size, gap)
        if rank == 0 or rng.random() < p:
            named_obj.append(objects[o["id"]])
    p_stuff = stuff_name_probability(gap)
    named_stuff = [stuff[s] for s in meta["stuff_ids"] if rng.random() < p_stuff]
    caption = compose_caption(rng, named_obj, named_stuff)
    complete = compose_caption(rng, [objects[o["id"]] for o in meta["objects"]],
                               [stuff[s] for s in meta["stuff_ids"]])
    named = [c.name for c in named_obj] + [c.name for c in named_stuff]
    return caption, complete, named
