"""Concept curation (CoCu): embed, index, expand, rank, write the sidecars training reads.

Modules: ``core`` (vectorised scoring on arrays), ``reference`` (the official per-image
loop, for checks and timing), ``encoder`` (``load_clip``: the curator's CLIP encoder, a
small CLIP or an open_clip model), ``small_clip`` (the small CLIP trained on the synthetic
world), ``embed``, ``index``, ``curate`` (the streaming driver; writes through
``cocu.data.sidecar``), ``report`` (quality on the synthetic world). The sidecar format
and the ⑤ / ⑥ samplers live in ``cocu.data`` (``sidecar``, ``concept_sampling``).
"""
