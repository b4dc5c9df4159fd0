"""Concept activation maps (CoCu paper Fig. 2) and two scores to compare them across models.

For concept c with normalised text embedding t_c, final groups g with embeddings e_g and soft
group→pixel maps S[g, p] (the product of the grouping stages' soft assignments):

    A_c(p) = sum_g S[g, p] · cos(e_g, t_c)

computed on the patch grid and bilinearly upsampled to the image.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cocu.data.templates import GROUPVIT_EVAL_TEMPLATES
from cocu.errors import CocuError
from cocu.viz.images import ImageLike, load_image



def _to_tensor(x: Any, name: str, ndim: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim != ndim:
        raise CocuError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    return t.detach().to(torch.float64).cpu()


def activation_maps(seg_maps: torch.Tensor | np.ndarray, group_embeds: torch.Tensor | np.ndarray,
                    text_embeds: torch.Tensor | np.ndarray, out_size: tuple[int, int] | None = None
                    ) -> np.ndarray:
    """Per-concept pixel activations, float32 [C, H, W].

    seg_maps [G, h, w] (soft group weight per patch), group_embeds [G, D], text_embeds [C, D]
    (neither needs to be normalised: cosine similarities are used). ``out_size = (H, W)``
    bilinearly upsamples (align_corners=False) from (h, w); None keeps (h, w).
    """
    seg = _to_tensor(seg_maps, "seg_maps", 3)
    groups = _to_tensor(group_embeds, "group_embeds", 2)
    text = _to_tensor(text_embeds, "text_embeds", 2)
    if seg.shape[0] != groups.shape[0]:
        raise CocuError(f"seg_maps has {seg.shape[0]} groups but group_embeds has {groups.shape[0]}")
    if groups.shape[1] != text.shape[1]:
        raise CocuError(f"group_embeds dim {groups.shape[1]} != text_embeds dim {text.shape[1]}")
    cos = F.normalize(text, dim=-1) @ F.normalize(groups, dim=-1).T  # [C, G]
    act = torch.einsum("cg,ghw->chw", cos, seg)
    if out_size is not None and tuple(out_size) != tuple(act.shape[-2:]):
        act = F.interpolate(act[None], size=tuple(int(s) for s in out_size), mode="bilinear",
                            align_corners=False)[0]
    return act.to(torch.float32).numpy()


def region_contrast(act: np.ndarray, mask: np.ndarray) -> float:
    """Mean activation inside the concept's true region minus the mean outside it.

    act float [H, W], mask bool [H, W]. In cosine units (range [-2, 2]); > 0 means the map
    lights up on the concept's region more than elsewhere.
    """
    act = np.asarray(act, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if act.shape != mask.shape:
        raise CocuError(f"activation map shape {act.shape} != mask shape {mask.shape}")
    n_in = int(mask.sum())
    if n_in == 0 or n_in == mask.size:
        raise CocuError("region contrast needs a region that covers some but not all pixels "
                        f"(region has {n_in} of {mask.size})")
    return float(act[mask].mean() - act[~mask].mean())


def _unit_centred(acts: np.ndarray) -> np.ndarray | None:
    """Rows of acts [S, N] centred and scaled to unit norm; None when any row is constant."""
    centred = acts - acts.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred ** 2).sum(axis=1))
    scale = np.maximum(1.0, np.abs(acts).max(axis=1)) * math.sqrt(acts.shape[1])
    if np.any(norms <= 1e-6 * scale):
        return None
    return centred / norms[:, None]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps of the same shape; NaN if either is constant."""
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise CocuError(f"maps differ in size: {a.size} vs {b.size}")
    unit = _unit_centred(np.stack([a, b]))
    return float("nan") if unit is None else float(unit[0] @ unit[1])


def synonym_consistency(acts: np.ndarray) -> float:
    """Mean Pearson correlation over all pairs of synonyms' maps, acts float [S ≥ 2, H, W].

    1 = the maps have the same shape; NaN when any map is constant (correlation undefined).
    Maps of *unrelated* concepts also correlate when a model's groups dominate every map, so
    read it beside the correlation with other concepts (``ConceptScore.other_consistency``).
    """
    acts = np.asarray(acts, dtype=np.float64)
    if acts.ndim != 3 or acts.shape[0] < 2:
        raise CocuError(f"synonym consistency needs [S >= 2, H, W] maps, got shape {acts.shape}")
    unit = _unit_centred(acts.reshape(acts.shape[0], -1))
    if unit is None:
        return float("nan")
    pairs = [float(unit[i] @ unit[j]) for i, j in itertools.combinations(range(len(unit)), 2)]
    return float(np.mean(pairs))


# ---------------------------------------------------------------------------------------------
# model wrapper


def _tokenize(texts: list[str]) -> torch.Tensor:
    from cocu.models.tokenizer import tokenize

    return tokenize(texts)


def _model_geometry(model: torch.nn.Module) -> tuple[int, int]:
    """(input short side, patch size) from the model's config, with CLIP-like defaults."""
    cfg = getattr(model, "config", None) or getattr(model, "cfg", None)
    size = patch = None
    for obj in (cfg, getattr(model, "img_encoder", None)):
        if obj is None:
            continue
        size = size or getattr(obj, "image_size", None) or getattr(obj, "img_size", None)
        patch = patch or getattr(obj, "patch_size", None)
    size = size[0] if isinstance(size, (tuple, list)) else size
    patch = patch[0] if isinstance(patch, (tuple, list)) else patch
    return int(size or 224), int(patch or 16)


def preprocess(image: np.ndarray, short_side: int, patch: int,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None
               ) -> torch.Tensor:
    """uint8 [H, W, 3] → normalised float [1, 3, H', W'] as the evaluation feeds the model:
    short side resized to ``short_side`` and both sides rounded to a multiple of ``patch``
    (bilinear), then (x - mean) / std on 0..255 pixels (default: the evaluation protocol's)."""
    from cocu.eval.protocol import Protocol
    from cocu.eval.transforms import normalize, resize_uint8

    default = Protocol("heatmap")
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    nh = max(patch, int(round(h * scale / patch)) * patch)
    nw = max(patch, int(round(w * scale / patch)) * patch)
    x = resize_uint8(image, (nh, nw))
    return normalize(x, tuple(mean or default.mean), tuple(std or default.std))[None]


def _device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def concept_text_embeddings(model: torch.nn.Module, names: Sequence[str],
                            templates: Sequence[str] = GROUPVIT_EVAL_TEMPLATES) -> torch.Tensor:
    """Normalised concept embeddings [C, D], built exactly as the zero-shot segmenter builds
    class embeddings (``cocu.eval.segmenter.build_class_embeddings``)."""
    from cocu.eval.segmenter import build_class_embeddings

    if not names:
        raise CocuError("no concepts given")
    if not templates:
        raise CocuError("no prompt templates given")
    return build_class_embeddings(model, list(names), list(templates), tokenizer=_tokenize)


@torch.no_grad()
def concept_activation_maps(model: torch.nn.Module, image: ImageLike, concepts: Sequence[str],
                            templates: Sequence[str] = GROUPVIT_EVAL_TEMPLATES,
                            input_size: int | None = None, *, mean: Sequence[float] | None = None,
                            std: Sequence[float] | None = None) -> np.ndarray:
    """Activation maps float32 [C, H, W] of ``concepts`` over ``image`` (uint8 [H, W, 3] or path).

    The image is resized to the model's input size (short side, sides a multiple of the patch),
    run once through ``model.encode_image(return_feat=True, return_attn=True)`` (group embeddings
    and the multiplied soft assignments), and the maps
    are upsampled back to the image's own size. ``mean``/``std`` (0..255 scale) default to the
    evaluation protocol's normalisation.
    """
    img = load_image(image)
    was_training = model.training
    model.eval()
    try:
        size, patch = _model_geometry(model)
        x = preprocess(img, input_size or size, patch, mean, std).to(_device(model))
        out = model.encode_image(x, return_feat=True, return_attn=True)
        seg = out.seg_maps()[0]  # [G, h, w]
        feat = out.image_feat
        text = concept_text_embeddings(model, list(concepts), templates)
        return activation_maps(seg.float(), feat[0].float(), text, out_size=img.shape[:2])
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------
# comparisons across checkpoints


@dataclass
class ConceptSpec:
    """A concept to map: its display name, its synonyms (other names) and optionally the mask
    class id of its true region."""

    name: str
    synonyms: list[str] = field(default_factory=list)
    mask_class: int | None = None

    @property
    def names(self) -> list[str]:
        """The name followed by the synonyms, duplicates removed."""
        return list(dict.fromkeys([self.name, *self.synonyms]))


@dataclass
class ConceptScore:
    """Scores of one concept's map under one checkpoint (None = not measurable here).

    region_contrast: see ``region_contrast``; synonym_consistency: mean pairwise Pearson r of
    the concept's and its synonyms' maps; other_consistency: mean Pearson r between the
    concept's map and the other (non-synonym) concepts' maps, the reference level that
    synonym_consistency should exceed.
    """

    checkpoint: str
    concept: str
    region_contrast: float | None
    synonym_consistency: float | None
    other_consistency: float | None
    synonyms: list[str]
    mask_class: int | None

    def as_row(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "concept": self.concept,
                "region_contrast": self.region_contrast,
                "synonym_consistency": self.synonym_consistency,
                "other_consistency": self.other_consistency,
                "synonyms": ", ".join(self.synonyms), "mask_class": self.mask_class}


@dataclass
class HeatmapResult:
    """image uint8 [H, W, 3]; maps[checkpoint] float32 [C, H, W] in ``concepts`` order."""

    image: np.ndarray
    concepts: list[str]
    maps: dict[str, np.ndarray]
    scores: list[ConceptScore]


def parse_concepts(text: str) -> list[ConceptSpec]:
    """``"dog|puppy|kuvasz, grass"`` → specs; ``|`` lists a concept's synonyms explicitly."""
    specs = []
    for item in text.split(","):
        names = [n.strip() for n in item.split("|") if n.strip()]
        if names:
            specs.append(ConceptSpec(names[0], names[1:]))
    if not specs:
        raise CocuError(f"no concepts in {text!r}")
    return specs


def score_concepts(checkpoint: str, specs: Sequence[ConceptSpec], maps: Mapping[str, np.ndarray],
                   mask: np.ndarray | None = None) -> list[ConceptScore]:
    """Scores per spec from ``maps[name]`` float [H, W] (every name and synonym present).

    region_contrast needs ``mask`` (int [H, W]) and the spec's ``mask_class``;
    synonym_consistency needs ≥ 1 synonym; other_consistency needs another spec that is not
    among this one's names.
    """
    out = []
    for spec in specs:
        rc = None
        if mask is not None and spec.mask_class is not None:
            rc = region_contrast(maps[spec.name], np.asarray(mask) == spec.mask_class)
        names = spec.names
        sc = synonym_consistency(np.stack([maps[n] for n in names])) if len(names) > 1 else None
        own = {n.lower() for n in names}
        others = [o.name for o in specs if not own & {n.lower() for n in o.names}]
        oc = (float(np.mean([pearson(maps[spec.name], maps[o]) for o in others]))
              if others else None)
        out.append(ConceptScore(checkpoint, spec.name, rc, sc, oc, names[1:], spec.mask_class))
    return out


def compare_heatmaps(models: Mapping[str, torch.nn.Module], image: ImageLike,
                     concepts: Sequence[ConceptSpec | str], mask: np.ndarray | None = None,
                     templates: Sequence[str] = GROUPVIT_EVAL_TEMPLATES,
                     input_size: int | None = None, *, mean: Sequence[float] | None = None,
                     std: Sequence[float] | None = None) -> HeatmapResult:
    """Maps and scores of ``concepts`` under every model (name → model), on one image.

    ``mask`` int [H, W] at the image's size enables region contrast for specs with a mask_class.
    """
    if not models:
        raise CocuError("no checkpoints given")
    specs = [c if isinstance(c, ConceptSpec) else ConceptSpec(c) for c in concepts]
    if not specs:
        raise CocuError("no concepts given")
    img = load_image(image)
    if mask is not None and np.asarray(mask).shape != img.shape[:2]:
        raise CocuError(f"mask shape {np.asarray(mask).shape} != image shape {img.shape[:2]}")
    all_names = list(dict.fromkeys(n for s in specs for n in s.names))
    maps, scores = {}, []
    for ckpt, model in models.items():
        arr = concept_activation_maps(model, img, all_names, templates, input_size,
                                      mean=mean, std=std)
        by_name = dict(zip(all_names, arr))
        maps[ckpt] = np.stack([by_name[s.name] for s in specs])
        scores.extend(score_concepts(ckpt, specs, by_name, mask))
    return HeatmapResult(img, [s.name for s in specs], maps, scores)
