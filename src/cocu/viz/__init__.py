"""Visualisation: masks, overlays, heatmaps and reports.

Public API (imported lazily so that ``cocu --help`` does not load matplotlib or torch):

- ``palette``, ``save_mask_png``, ``overlay``, ``save_overlay``            (masks, palette)
- ``activation_maps``, ``concept_activation_maps``, ``region_contrast``,
  ``synonym_consistency``, ``compare_heatmaps``, ``ConceptSpec``          (heatmap)
- ``render_heatmaps``, ``bar_chart``, ``line_plot``                        (plots)
- ``segment_image``, ``SegmentationResult``, ``write_segmentation``        (segment)
- ``Report``                                                               (report)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "palette": "cocu.viz.palette",
    "flat_palette": "cocu.viz.palette",
    "load_image": "cocu.viz.images",
    "load_mask": "cocu.viz.images",
    "save_mask_png": "cocu.viz.masks",
    "overlay": "cocu.viz.masks",
    "save_overlay": "cocu.viz.masks",
    "save_image": "cocu.viz.masks",
    "activation_maps": "cocu.viz.heatmap",
    "concept_activation_maps": "cocu.viz.heatmap",
    "region_contrast": "cocu.viz.heatmap",
    "synonym_consistency": "cocu.viz.heatmap",
    "compare_heatmaps": "cocu.viz.heatmap",
    "ConceptSpec": "cocu.viz.heatmap",
    "HeatmapResult": "cocu.viz.heatmap",
    "render_heatmaps": "cocu.viz.plots",
    "bar_chart": "cocu.viz.plots",
    "line_plot": "cocu.viz.plots",
    "segment_image": "cocu.viz.segment",
    "SegmentationResult": "cocu.viz.segment",
    "write_segmentation": "cocu.viz.segment",
    "Report": "cocu.viz.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cocu.viz' has no attribute {name!r}")
