"""Per-benchmark test-time protocols (resize, sliding window, background threshold, prompts).

Defaults reproduce the configs GroupViT and CoCu evaluate with; each preset names its source:
- [G] NVlabs/GroupViT ``segmentation/configs/_base_/datasets/pascal_voc12.py``,
  ``pascal_context.py``, ``coco.py``: ``MultiScaleFlipAug(img_scale=(2048, 448))`` with a
  keep-ratio ``Resize`` (short side 448 unless the long side would pass 2048),
  ``test_cfg = dict(mode='slide', crop_size=(448, 448), stride=(224, 224), bg_thresh=...)``.
- [C] xing0047/rewrite (CoCu) ``segmentation/configs/_base_/datasets/imagenet-s-50.py``,
  ``imagenet-s-300.py``, ``cityscapes.py`` (img_scale (2048, 1024)), ``ade.py`` and
  ``coco_stuff.py`` (img_scale (2048, 512), crop 224, stride 112).
- Prompts: GroupViT/CoCu eval configs use ``template: simple`` = ["a photo of a {}."]
  (GroupViT ``datasets/imagenet_template.py``). TCL (khanrc/tcl ``configs/eval.yml``:
  ``template: custom``, ``pamr: true``) uses the 9 templates in ``TCL_TEMPLATES`` and PAMR
  (10 iterations, dilations 1, 2, 4, 8, 12, 24); offered via :func:`tcl_style`.
- Top-k = 5 classes kept per window from the image-level similarity (GroupViT
  ``group_vit_seg.py``: ``topk(k=min(5, num_fg_classes))``); ``gate="groups"`` (ours) ranks the
  classes by their best group instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from cocu.errors import CocuError
from cocu.data.templates import GROUPVIT_EVAL_TEMPLATES
from cocu.data.transforms import IMAGENET_MEAN_255, IMAGENET_STD_255

#: What may pick the ``topk`` classes a window uses (``Protocol.gate``).
GATES: tuple[str, ...] = ("image", "groups")

# TCL's "custom" set: GroupViT's 7 "subset" ImageNet templates + 2 (khanrc/tcl datasets/templates.py)
TCL_TEMPLATES: tuple[str, ...] = (
    "itap of a {}.", "a bad photo of a {}.", "a origami {}.", "a photo of the large {}.",
    "a {} in a video game.", "art of the {}.", "a photo of the small {}.",
    "a photo of many {}.", "a photo of {}s.",
)


@dataclass(frozen=True)
class Protocol:
    """How one benchmark is evaluated.

    ``img_scale``: mmseg keep-ratio resize bound (long, short); ``None`` keeps the image size.
    ``mode``: ``"slide"`` (windows ``crop`` × ``crop`` every ``stride`` px, logits averaged
    over overlaps) or ``"whole"``. ``bg_thresh`` applies only to benchmarks with a background
    class. ``mean``/``std`` normalise 0..255 RGB pixels. ``gate``: what picks the ``topk``
    classes a window may use: ``"image"`` (official: the image embedding) or ``"groups"`` (each
    class's best group score; for models whose image embedding recognises less than their
    groups name, as measured on the synthetic world in docs/STUDY.md, stop 17).
    """

    name: str
    img_scale: tuple[int, int] | None = (2048, 448)
    mode: Literal["slide", "whole"] = "slide"
    crop: int = 448
    stride: int = 224
    bg_thresh: float | None = None
    templates: tuple[str, ...] = GROUPVIT_EVAL_TEMPLATES
    topk: int = 5
    gate: Literal["image", "groups"] = "image"
    pamr: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN_255
    std: tuple[float, float, float] = IMAGENET_STD_255
    source: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("slide", "whole"):
            raise CocuError(f"protocol mode must be 'slide' or 'whole', got {self.mode!r}")
        if self.mode == "slide" and not (0 < self.stride <= self.crop):
            raise CocuError(f"sliding window needs 0 < stride <= crop, got {self.stride}/{self.crop}")
        if self.bg_thresh is not None and not 0.0 <= self.bg_thresh <= 1.0:
            raise CocuError(f"background threshold must be in [0, 1], got {self.bg_thresh}")
        if self.gate not in GATES:
            raise CocuError(f"protocol gate must be one of {GATES}, got {self.gate!r}")
        if self.topk < 1:
            raise CocuError(f"top-k must be >= 1, got {self.topk}")
        if not self.templates or any("{}" not in t for t in self.templates):
            raise CocuError("every prompt template needs a '{}' placeholder")

    def with_(self, **changes) -> Protocol:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> dict:
        """JSON-ready summary (saved beside the results)."""
        return {
            "name": self.name, "img_scale": list(self.img_scale) if self.img_scale else None,
            "mode": self.mode, "crop": self.crop, "stride": self.stride,
            "bg_thresh": self.bg_thresh, "templates": list(self.templates), "topk": self.topk,
            "gate": self.gate,
            "pamr": self.pamr, "mean": list(self.mean), "std": list(self.std), "source": self.source,
        }


_G = "NVlabs/GroupViT segmentation/configs/_base_/datasets/"
_C = "xing0047/rewrite (CoCu) segmentation/configs/_base_/datasets/"

PRESETS: dict[str, Protocol] = {
    # short side 448, window 448 / stride 224, bg 0.95            [G] pascal_voc12.py
    "voc": Protocol("voc", bg_thresh=0.95, source=_G + "pascal_voc12.py"),
    # short side 448, window 448 / 224, bg 0.35                   [G] pascal_context.py
    "context": Protocol("context", bg_thresh=0.35, source=_G + "pascal_context.py"),
    # Context-59 (no background class): same resize/window as Context
    "context59": Protocol("context59", source=_G + "pascal_context.py (resize/window); "
                          "mmseg PascalContextDataset59 classes"),
    # short side 448, window 448 / 224, bg 0.95                   [G] coco.py
    "coco_object": Protocol("coco_object", bg_thresh=0.95, source=_G + "coco.py"),
    # short side 448, window 448 / 224, bg 0.95                   [C] imagenet-s-50.py
    "imagenet_s50": Protocol("imagenet_s50", bg_thresh=0.95, source=_C + "imagenet-s-50.py"),
    # short side 448, window 448 / 224, bg 0.75                   [C] imagenet-s-300.py
    "imagenet_s300": Protocol("imagenet_s300", bg_thresh=0.75, source=_C + "imagenet-s-300.py"),
    # short side 1024 (img_scale (2048, 1024)), window 448 / 224  [C] cityscapes.py
    "cityscapes": Protocol("cityscapes", img_scale=(2048, 1024), source=_C + "cityscapes.py"),
    # short side 512, window 224 / stride 112                     [C] ade.py
    "ade20k": Protocol("ade20k", img_scale=(2048, 512), crop=224, stride=112, source=_C + "ade.py"),
    # short side 512, window 224 / stride 112                     [C] coco_stuff.py
    "coco_stuff": Protocol("coco_stuff", img_scale=(2048, 512), crop=224, stride=112,
                           source=_C + "coco_stuff.py"),
    # Synthetic splits (64 px images, the tiny model's input size): whole image, no resize.
    # The VOC-like threshold mirrors VOC's 0.95 and is meant to be tuned (--threshold).
    # The top-k gate ranks classes by their best group: the tiny models' image embeddings rank
    # the present classes poorly (docs/STUDY.md, stop 17); --gate image gives the official one.
    "synthetic_voc": Protocol("synthetic_voc", img_scale=None, mode="whole", bg_thresh=0.95, gate="groups",
                              source="cocu synthetic VOC-like split (whole image, VOC threshold)"),
    "synthetic_ade": Protocol("synthetic_ade", img_scale=None, mode="whole", gate="groups",
                              source="cocu synthetic ADE-like split (whole image)"),
}


def get_protocol(name: str) -> Protocol:
    """The preset for benchmark/protocol ``name``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise CocuError(f"no protocol preset {name!r}; known: {', '.join(PRESETS)}") from None


def tcl_style(protocol: Protocol, *, pamr: bool = True) -> Protocol:
    """TCL's prompt ensemble (9 templates) and, by default, PAMR refinement on top of ``protocol``."""
    return replace(protocol, name=protocol.name + "+tcl", templates=TCL_TEMPLATES, pamr=pamr,
                   source=protocol.source + "; templates/PAMR: khanrc/tcl configs/eval.yml")
