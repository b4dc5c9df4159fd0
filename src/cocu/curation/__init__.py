"""Concept curation (CoCu): embed, index, expand, rank, sample.

Modules: ``core`` (vectorised scoring on arrays), ``reference`` (the official per-image
loop, for checks and timing), ``clip_small`` (the curator CLIP), ``embed``, ``index``,
``curate`` (the streaming driver), ``sidecar`` (``load_curation``), ``sampling``
(``sample_plain`` / ``sample_cluster``), ``report`` (quality on the synthetic world).
"""

from cocu.curation.sampling import sample_cluster, sample_plain
from cocu.curation.sidecar import CuratedConcepts, load_curation

__all__ = ["CuratedConcepts", "load_curation", "sample_cluster", "sample_plain"]
