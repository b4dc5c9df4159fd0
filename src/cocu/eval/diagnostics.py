"""Diagnostics on the synthetic world, where every image's true classes and masks are known.

Beside mIoU these separate the two things a GroupViT must learn (DESIGN §5):
*grouping* (do the final groups follow the true regions?) and *naming* (does each group
get the right class?). Reported per split (IoUs in percent, like mmseg's printed mIoU):

- ``miou``, ``object_miou``, ``stuff_miou``: zero-shot IoU (the standard path), overall and
  over object / stuff classes, with the top-k gate of the synthetic protocol (``gate``);
  ``image_gate``: the same three with the official gate (the image embedding picks the top-k);
- ``chance_miou``: mIoU of uniformly random labels on the same split (a floor to compare with);
- ``grouping_miou``: IoU after labelling every final group with the majority true class of its
  pixels (perfect naming: measures grouping alone); ``object_grouping_miou``: its mean over
  the object classes;
- ``naming_accuracy``: fraction of labelled pixels whose group's predicted class equals that
  group's majority true class;
- ``object_naming_accuracy``: the same over the pixels of groups whose majority class is an
  object (``naming_accuracy`` counts pixels, so the large stuff regions dominate it);
- ``groups_in_use``: distinct final groups that win at least one pixel, mean over images;
- ``image_recall``: fraction of present classes ranked within the image's top-k classes by the
  pooled image embedding (k = number of classes present), also split into often- and
  rarely-captioned classes (``naming_rates`` from ``world.json``, threshold 0.5).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cocu.eval.datasets.base import SegBenchmark
from cocu.eval.metrics import IoUAccumulator, prepare_label
from cocu.eval.protocol import get_protocol
from cocu.eval.segmenter import ZeroShotSegmenter, group_maps, window_logits
from cocu.eval.transforms import normalize, resize_uint8
from cocu.utils.progress import progress


def naming_rates(world_json: str | Path) -> dict[str, float]:
    """Per-class probability that a gap caption names the class (from ``world.json``)."""
    stats = json.loads(Path(world_json).read_text())["caption_stats"]["per_class"]
    return {name: float(v["named_rate"]) for name, v in stats.items() if v.get("named_rate") is not None}


def class_kinds(world_json: str | Path) -> dict[str, str]:
    """Class name → ``object`` or ``stuff`` (from ``world.json``)."""
    return {c["name"]: c["kind"] for c in json.loads(Path(world_json).read_text())["classes"]}


def majority_labels(groups: np.ndarray, label: np.ndarray, num_groups: int, num_classes: int,
                    ignore_index: int = 255) -> np.ndarray:
    """For each group id, the most frequent valid label among its pixels (−1 if it has none).

    ``groups``, ``label``: int arrays of the same shape; labels outside [0, num_classes) ignored.
    """
    valid = (label != ignore_index) & (label >= 0) & (label < num_classes)
    counts = np.zeros((num_groups, num_classes), dtype=np.int64)
    np.add.at(counts, (groups[valid], label[valid]), 1)
    return np.where(counts.sum(1) > 0, counts.argmax(1), -1)


def naming_counts(groups: np.ndarray, label: np.ndarray, major: np.ndarray, group_class: np.ndarray,
                  is_object: np.ndarray, ignore_index: int = 255) -> tuple[int, int, int, int]:
    """Pixels of one image whose group is named as its majority class: (right, counted, right on
    object groups, counted on object groups).

    ``groups``, ``label``: [H, W] group ids and true labels; ``major`` [G]: each group's majority
    class (−1: none, from `majority_labels`); ``group_class`` [G]: each group's predicted class;
    ``is_object`` [C]: bool per class. Pixels with an ignored label or a group without a
    majority are not counted."""
    major_px = major[groups]
    valid = (label != ignore_index) & (major_px >= 0)
    right = (group_class[groups] == major_px) & valid
    on_object = valid & is_object[np.maximum(major_px, 0)]
    return int(right.sum()), int(valid.sum()), int((right & on_object).sum()), int(on_object.sum())


def kind_mean(per_class: dict[str, float], kinds: dict[str, str], kind: str) -> float:
    """Mean of the per-class values of the classes of ``kind`` (NaNs skipped; NaN if none)."""
    vals = [v for c, v in per_class.items() if kinds.get(c) == kind and not np.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def recall_at_present(scores: np.ndarray, present: Sequence[int]) -> list[bool]:
    """For each present class: is it ranked within the top-|present| of ``scores`` [C]?"""
    k = len(present)
    top = set(np.argsort(-scores, kind="stable")[:k].tolist())
    return [c in top for c in present]


def chance_miou(benchmark: SegBenchmark, seed: int = 0) -> float:
    """mIoU of uniformly random labels over the benchmark's classes (same label handling)."""
    rng = np.random.default_rng(seed)
    acc = IoUAccumulator(benchmark.num_classes, benchmark.ignore_index, benchmark.reduce_zero_label)
    for sample in benchmark.samples:
        label = benchmark.load_label(sample)
        acc.update(rng.integers(0, benchmark.num_classes, size=label.shape), label)
    return float(acc.compute()["mIoU"])


def zero_shot_labels(out: Any, maps: torch.Tensor, seg: ZeroShotSegmenter, logit_scale: torch.Tensor,
                     gate: str) -> np.ndarray:
    """Zero-shot label maps ``[B, H, W]`` of one batch: ``out`` the model's ``encode_image`` output,
    ``maps [B, G, H, W]`` its group maps, classes kept by the top-k ``gate``."""
    logits = window_logits(out.image_x, out.image_feat, maps, seg.text, logit_scale, bg_thresh=None,
                           topk=seg.topk, gate=gate)
    return F.softmax(logits, dim=1).argmax(1).cpu().numpy()


def iou_summary(result: dict[str, Any], classes: Sequence[str], kinds: dict[str, str]) -> dict[str, Any]:
    """mIoU, the object and stuff means and the per-class IoUs (percent) of an ``IoUAccumulator`` result."""
    per_class = {c: 100.0 * v for c, v in zip(classes, result["per_class"]["IoU"])}
    return {"miou": float(result["mIoU"]), "object_miou": kind_mean(per_class, kinds, "object"),
            "stuff_miou": kind_mean(per_class, kinds, "stuff"), "per_class_iou": per_class}


@torch.no_grad()
def synthetic_diagnostics(model: Any, benchmark: SegBenchmark, world_json: str | Path, *,
                          device: str | torch.device = "cpu", batch_size: int = 32,
                          often_threshold: float = 0.5, gate: str | None = None) -> dict[str, Any]:
    """All diagnostics above for ``model`` on a synthetic split without background (ADE-like).

    Images are segmented whole at their own size (the synthetic protocol), in batches.
    ``gate``: the top-k gate of the zero-shot path (default: the protocol's).
    """
    if benchmark.background:
        raise ValueError("synthetic_diagnostics expects a split without background (ade_like)")
    model = model.to(device).eval()
    classes = list(benchmark.classes)
    n_cls = len(classes)
    protocol = get_protocol("synthetic_ade")
    gate = gate or protocol.gate
    seg = ZeroShotSegmenter(model, benchmark.prompt_classes, protocol.templates, None,
                            protocol=protocol, device=device)
    kinds = class_kinds(world_json)
    rates = naming_rates(world_json)
    zero_shot = {g: IoUAccumulator(n_cls, benchmark.ignore_index, False, class_names=classes)
                 for g in dict.fromkeys((gate, "image"))}  # this gate, and the official one
    grouping = IoUAccumulator(n_cls, benchmark.ignore_index, False, class_names=classes)
    is_object = np.array([kinds.get(c) == "object" for c in classes])
    named = np.zeros(4, dtype=np.int64)  # naming_counts summed over the images
    used_groups: list[int] = []
    hits: dict[str, list[bool]] = {"all": [], "often": [], "rare": []}

    samples = benchmark.samples
    for start in progress(range(0, len(samples), batch_size), desc="diagnostics", unit="batch"):
        chunk = samples[start:start + batch_size]
        images = [benchmark.load_image(s) for s in chunk]
        labels = [prepare_label(benchmark.load_label(s),
                                reduce_zero_label=benchmark.reduce_zero_label).numpy() for s in chunk]
        size = images[0].shape[:2]
        x = torch.stack([normalize(resize_uint8(im, size).to(device), protocol.mean, protocol.std)
                         for im in images])
        out = model.encode_image(x, return_feat=True, return_attn=True)
        maps = group_maps(out.attn_soft, getattr(out, "grid", None), size)  # [B, G, H, W]
        preds = {g: zero_shot_labels(out, maps, seg, model.logit_scale, g) for g in zero_shot}
        groups = maps.argmax(1).cpu().numpy()
        feat = F.normalize(out.image_feat.float(), dim=-1)
        group_class = (feat @ seg.text.T).argmax(-1).cpu().numpy()  # [B, G] best class per group
        image_scores = (F.normalize(out.image_x.float(), dim=-1) @ seg.text.T).cpu().numpy()
        num_groups = maps.shape[1]
        for b, label in enumerate(labels):
            for g, acc in zero_shot.items():
                acc.update(preds[g][b], label)
            major = majority_labels(groups[b], label, num_groups, n_cls, benchmark.ignore_index)
            grouping.update(np.where(major[groups[b]] >= 0, major[groups[b]], 255), label)
            named += naming_counts(groups[b], label, major, group_class[b], is_object, benchmark.ignore_index)
            used_groups.append(len(np.unique(groups[b])))
            present = sorted(int(c) for c in np.unique(label) if 0 <= c < n_cls)
            for c, hit in zip(present, recall_at_present(image_scores[b], present)):
                hits["all"].append(hit)
                hits["often" if rates.get(classes[c], 0.0) >= often_threshold else "rare"].append(hit)

    zs, official, gr = (iou_summary(acc.compute(), classes, kinds)
                        for acc in (zero_shot[gate], zero_shot["image"], grouping))

    def mean(v: list[bool]) -> float:
        return float(np.mean(v)) if v else float("nan")

    return {
        **{k: zs[k] for k in ("miou", "object_miou", "stuff_miou")},
        "gate": gate,
        "image_gate": {k: official[k] for k in ("miou", "object_miou", "stuff_miou")},
        "chance_miou": chance_miou(benchmark),
        "grouping_miou": gr["miou"],
        "object_grouping_miou": gr["object_miou"],
        "naming_accuracy": float(named[0] / max(named[1], 1)),
        "object_naming_accuracy": float(named[2] / max(named[3], 1)),
        "groups_in_use": float(np.mean(used_groups)) if used_groups else float("nan"),
        "groups_total": int(num_groups) if samples else 0,
        "image_recall": mean(hits["all"]),
        "image_recall_often": mean(hits["often"]),
        "image_recall_rare": mean(hits["rare"]),
        "per_class_iou": zs["per_class_iou"],
        "images": len(samples),
    }

