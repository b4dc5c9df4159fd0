"""The class catalogue of the synthetic semantic-gap world (DESIGN §5).

Every class has a canonical real-word name plus synonyms (so captions exercise synonym
handling), a kind (``object`` or ``stuff``) and its appearance: objects a shape, two
colours, a binary texture pattern and a typical size range (fractions of the image side);
stuff a procedural texture. Size ranges differ per object class on purpose: classes that
are usually big are usually captioned, small ones are the ones gap captions omit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthClass:
    """One class of the synthetic world."""

    name: str
    synonyms: tuple[str, ...]  # canonical name first
    kind: str  # "object" | "stuff"
    shape: str = ""  # objects: see synth_render.SHAPES
    colors: tuple[tuple[int, int, int], ...] = ()  # objects: (A, B); stuff: base colours
    texture: str = ""  # objects: see synth_render.OBJECT_TEXTURES; stuff: texture name
    size_range: tuple[float, float] = (0.0, 0.0)  # objects: side length as fraction of image


_BIG = (0.42, 0.53)  # 27-34 px at 64 px
_MID = (0.36, 0.46)  # 23-29 px
_SMALL = (0.31, 0.38)  # 20-24 px: every shape then spans >= 16 px (2 patches of 8) both ways

OBJECT_CLASSES: tuple[SynthClass, ...] = (
    SynthClass("dog", ("dog", "puppy", "kuvasz"), "object", "disc",
               ((230, 40, 40), (250, 220, 210)), "hstripes", _BIG),
    SynthClass("car", ("car", "automobile", "sedan"), "object", "square",
               ((30, 60, 220), (250, 250, 250)), "checker", _BIG),
    SynthClass("boat", ("boat", "sailboat", "dinghy"), "object", "triangle",
               ((250, 200, 20), (120, 60, 10)), "solid", _BIG),
    SynthClass("horse", ("horse", "pony", "stallion"), "object", "hexagon",
               ((140, 70, 20), (40, 20, 10)), "dots", _BIG),
    SynthClass("cat", ("cat", "kitten", "tabby"), "object", "star",
               ((250, 130, 0), (20, 20, 20)), "vstripes", _MID),
    SynthClass("bird", ("bird", "sparrow", "finch"), "object", "cross",
               ((20, 200, 220), (10, 40, 90)), "solid", _MID),
    SynthClass("bottle", ("bottle", "flask", "carafe"), "object", "ellipse",
               ((20, 150, 60), (200, 250, 200)), "dstripes", _MID),
    SynthClass("sheep", ("sheep", "lamb", "ewe"), "object", "ring",
               ((245, 245, 235), (120, 120, 120)), "solid", _MID),
    SynthClass("umbrella", ("umbrella", "parasol", "brolly"), "object", "dome",
               ((200, 30, 200), (250, 240, 90)), "halves", _SMALL),
    SynthClass("clock", ("clock", "timepiece"), "object", "diamond",
               ((250, 250, 60), (30, 30, 160)), "concentric", _SMALL),
    SynthClass("cup", ("cup", "mug", "teacup"), "object", "lshape",
               ((120, 20, 160), (230, 200, 250)), "checker", _SMALL),
    SynthClass("bicycle", ("bicycle", "bike"), "object", "crescent",
               ((10, 10, 10), (240, 60, 120)), "dots", _SMALL),
    SynthClass("cow", ("cow", "calf", "heifer"), "object", "frame",
               ((250, 250, 250), (20, 20, 20)), "checker", _MID),
    SynthClass("airplane", ("airplane", "aeroplane", "jet"), "object", "heart",
               ((180, 180, 200), (200, 20, 60)), "hstripes", _MID),
)

STUFF_CLASSES: tuple[SynthClass, ...] = (
    SynthClass("sky", ("sky", "heaven", "firmament"), "stuff",
               colors=((110, 170, 240), (225, 235, 250)), texture="sky"),
    SynthClass("grass", ("grass", "lawn", "turf"), "stuff",
               colors=((60, 140, 40), (100, 190, 60)), texture="grass"),
    SynthClass("water", ("water", "pond", "lagoon"), "stuff",
               colors=((20, 70, 130), (60, 130, 190)), texture="water"),
    SynthClass("road", ("road", "street", "asphalt"), "stuff",
               colors=((70, 70, 75), (110, 110, 115)), texture="road"),
    SynthClass("wall", ("wall", "brickwork", "masonry"), "stuff",
               colors=((160, 70, 50), (200, 190, 170)), texture="brick"),
    SynthClass("sand", ("sand", "dune", "beach"), "stuff",
               colors=((215, 190, 130), (180, 150, 95)), texture="sand"),
)

DEFAULT_NUM_OBJECTS = 12
DEFAULT_NUM_STUFF = 6
