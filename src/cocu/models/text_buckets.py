"""Which text rows run together, at what padded length (padding-free text encoding).

CLIP's text transformer is causal and reads its output at the EOT token, so the tokens after a
row's EOT change nothing: a row can run at any length ≥ its own. Captions (≈ 20 tokens) and
prompts (≈ 8) padded to 77 waste most of the text tower's work. `plan_buckets` splits the rows
into groups that each run at their longest member's length (rounded up to a multiple of 8),
choosing the split that minimises padded tokens plus a fixed cost per extra group (a separate
pass through the tower has launch overhead that only pays off when it saves enough tokens).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: [(row indices, run length), ...]
Buckets = list[tuple[list[int], int]]

#: token-rows one extra bucket must save to pay for its own pass through the tower
BUCKET_OVERHEAD = {"cpu": 32}
#: devices not listed above (GPUs: fast GEMMs, costly kernel launches)
DEFAULT_BUCKET_OVERHEAD = 4096


def bucket_overhead(device: torch.device) -> int:
    """The per-bucket cost (in token-rows) used for a device type."""
    return BUCKET_OVERHEAD.get(device.type, DEFAULT_BUCKET_OVERHEAD)


def round_length(length: int, multiple: int, max_length: int) -> int:
    """``length`` rounded up to a multiple of ``multiple``, at most ``max_length``."""
    return min(max_length, -(-length // multiple) * multiple)


def plan_buckets(lengths: Sequence[int], *, max_length: int, multiple: int = 8, overhead: int = 32) -> Buckets:
    """Split rows (token counts up to and including EOT) into ``[(row indices, run length), ...]``.

    Minimises Σ rows·length + overhead·(number of buckets) over partitions into runs of rows
    sorted by length (an optimal partition is always of that form). Rows of one rounded length
    always share a bucket, so the dynamic programme runs over ≤ max_length/multiple values.
    Buckets come out in ascending length, rows in ascending index within a bucket.
    """
    if not lengths:
        return []
    rounded = [round_length(max(1, int(n)), multiple, max_length) for n in lengths]
    values = sorted(set(rounded))
    counts = [rounded.count(v) for v in values]
    # best[j]: cost of covering values[:j]; cut[j]: where its last bucket starts
    best = [0.0] + [float("inf")] * len(values)
    cut = [0] * (len(values) + 1)
    for j in range(1, len(values) + 1):
        rows = 0
        for i in range(j - 1, -1, -1):
            rows += counts[i]
            cost = best[i] + rows * values[j - 1] + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    bounds = []
    j = len(values)
    while j > 0:
        bounds.append((cut[j], j))
        j = cut[j]
    plan = []
    for i, j in reversed(bounds):
        members = set(values[i:j])
        plan.append(([r for r, v in enumerate(rounded) if v in members], values[j - 1]))
    return plan
