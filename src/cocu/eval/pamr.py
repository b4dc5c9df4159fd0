"""PAMR (pixel-adaptive mask refinement, Araslanov & Roth 2020) as TCL applies it at test time.

Semantics of visinf/1-stage-wseg ``models/mods/pamr.py`` (used by khanrc/tcl with 10 iterations
and dilations 1, 2, 4, 8, 12, 24): affinities from the image's local colour differences scaled
by the local standard deviation, averaged over channels, softmaxed over the 8·len(dilations)
neighbours; the mask is then propagated ``num_iter`` times as the affinity-weighted neighbour sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TCL_DILATIONS = (1, 2, 4, 8, 12, 24)
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _neighbours(x: torch.Tensor, dilations: tuple[int, ...], with_centre: bool = False) -> torch.Tensor:
    """Replicate-padded shifted copies: ``x [B,K,H,W] -> [B,K,P,H,W]`` (P neighbours)."""
    h, w = x.shape[-2:]
    outs = []
    for d in dilations:
        xp = F.pad(x, [d] * 4, mode="replicate")
        offsets = _OFFSETS if not with_centre else (
            (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1))
        for dy, dx in offsets:
            outs.append(xp[..., d + dy * d: d + dy * d + h, d + dx * d: d + dx * d + w])
    return torch.stack(outs, dim=2)


def pamr(image: torch.Tensor, mask: torch.Tensor, num_iter: int = 10,
         dilations: tuple[int, ...] = TCL_DILATIONS) -> torch.Tensor:
    """Refine ``mask [B,C,h,w]`` with ``image [B,3,H,W]`` (resized to the mask, align_corners=True)."""
    image = F.interpolate(image, size=mask.shape[-2:], mode="bilinear", align_corners=True)
    centre = image.unsqueeze(2)
    # one std per pixel/channel over all 9 * len(dilations) samples (centre included per dilation)
    std = _neighbours(image, dilations, with_centre=True).std(dim=2, keepdim=True)
    aff = (_neighbours(image, dilations) - centre).abs()
    aff = -aff / (1e-8 + 0.1 * std)
    aff = F.softmax(aff.mean(dim=1, keepdim=True), dim=2)  # [B,1,P,h,w]
    for _ in range(num_iter):
        mask = (_neighbours(mask, dilations) * aff).sum(dim=2)
    return mask
