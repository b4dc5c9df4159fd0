"""Training objectives: the paper's, and a grounded one that tells every group which concept it is.

GroupViT's objective (``paper``) contrasts the *pooled* image embedding with the caption and the
K concept prompts; no single group is ever told which concept it shows, so nothing drives the
groups apart or names them (DESIGN §5). The ``grounded`` objective keeps the paper's two terms
and adds:

- **prompt–group grounding** (`grounding_loss`): each prompt is scored against an image by its
  best-matching final group (a smooth maximum over the groups, in the spirit of OpenSeg's
  region–word grounding loss) and contrasted over the batch in both directions, so a prompt must
  be matched by *one group* of its own image better than by any group of another image;
- **group naming** (`group_naming_loss`, off by default): the converse direction, every group
  that takes patches must match one of its own image's prompts better than the batch's other
  prompts, so no group that wins pixels is left unnamed;
- **distinct groups** (`distinct_groups_loss`, off by default): the share-weighted mean cosine
  between an image's groups, so they cannot all carry the same summary of the image;
- **exclusive claims** (`exclusivity_loss`): the K prompts of an image name different concepts,
  so they should claim different groups. Without this a single "summary" group that resembles
  every prompt a little satisfies the grounding term, and the other groups are never named;
  the term penalises the overlap of two prompts' soft choices of group;
- **appearance affinity** (`affinity_loss`): two patches of clearly similar colour should share a
  group and two of clearly different colour should not. For every such patch pair the
  co-assignment probability (from the soft group maps that segmentation uses) is pushed to 1 or
  0 with a bounded, linear (cut-like) penalty, so the few pairs the colour rule gets wrong
  (textured objects, patches on a boundary) cannot dominate. It needs no labels (a low-level
  prior like the superpixel losses of SegCLIP) and gives the assignment a reason to follow
  content rather than position;
- **group usage** (`usage_loss`, weight 2 by default since stop 13): one minus the normalised mutual information
  between a patch and its final group, so an image spreads its patches over the groups, each
  patch confidently in one, instead of collapsing onto one or two (the failure measured in
  docs/STUDY.md). ``first_usage_weight`` puts the same term on the first grouping stage's
  groups: the collapse starts there (collapsed runs use 3 of the tiny model's 16 first-stage
  groups per image, runs that form masks 5–6; docs/STUDY.md); ``first_usage_until`` stops it
  after that fraction of the training steps (`Objective.at`; ``usage_until`` does the same for the
  final-stage term, default never). Since stop 14 the default is
  weight 2 for the first 40 % of the steps: throughout, it formed groups and cost naming; early
  only, CoCu formed ≥ 3 groups in 5 of 6 seeds and named them no worse (docs/STUDY.md).

Neither term adds parameters: the state dict is the official one, and official checkpoints
still load. Every loss here is computed in float32 (autocast-safe).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from cocu.errors import CocuError
from cocu.models.loss import _compute_dtype, _world, all_gather_with_grad

OBJECTIVES = ("paper", "grounded")


@dataclass(frozen=True)
class Objective:
    """Which loss terms a training step uses and their weights (see the module docstring)."""

    name: str = "paper"
    grounding_weight: float = 3.0      # measured best of 1 / 3 on the synthetic world (docs/STUDY.md)
    grounding_tau: float = 0.1       # smooth-max temperature over the groups (cosine units)
    exclusivity_weight: float = 0.0    # off: measured no better on the synthetic world (docs/STUDY.md)
    affinity_weight: float = 1.0
    affinity_near: float = 0.5       # patch pairs whose mean colours are closer: same group
    affinity_far: float = 1.0        # ... farther apart: different groups (CLIP-normalised units)
    usage_weight: float = 2.0        # measured over 6 seeds (docs/STUDY.md); runs before stop 13 had 0
    usage_groups: int = 0            # the final-stage term asks each image for this many equal shares (0: all groups)
    usage_until: float = 1.0         # ... and stops after this fraction of the steps (1: never)
    first_usage_weight: float = 2.0  # the usage term on the first grouping stage (docs/STUDY.md) ...
    first_usage_until: float = 0.4   # ... for the first 40 % of the steps; runs before stop 14: 0 / 1
    naming_weight: float = 0.0       # every group that takes patches must match an own prompt
    distinct_weight: float = 0.0     # an image's groups should not all look alike

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise CocuError(f"--objective must be one of {OBJECTIVES}, got {self.name!r}")
        for field in ("grounding_weight", "exclusivity_weight", "affinity_weight", "usage_weight",
                      "first_usage_weight", "naming_weight", "distinct_weight"):
            if getattr(self, field) < 0:
                raise CocuError(f"--{field.replace('_', '-')} must be ≥ 0, got {getattr(self, field)}")
        for field in ("grounding_tau", "affinity_near"):
            if getattr(self, field) <= 0:
                raise CocuError(f"--{field.replace('_', '-')} must be > 0, got {getattr(self, field)}")
        if self.usage_groups < 0 or self.usage_groups == 1:
            raise CocuError(f"--usage-groups must be 0 (all groups) or ≥ 2, got {self.usage_groups}")
        if not 0 < self.first_usage_until <= 1:
            raise CocuError(f"--first-usage-until must be in (0, 1], got {self.first_usage_until}")
        if not 0 < self.usage_until <= 1:
            raise CocuError(f"--usage-until must be in (0, 1], got {self.usage_until}")
        if self.affinity_far < self.affinity_near:
            raise CocuError(f"--affinity-far ({self.affinity_far}) must be ≥ --affinity-near ({self.affinity_near})")

    def settings(self) -> dict[str, float | str]:
        """The settings that change what is trained: the name alone for the paper's objective
        (its weights are unused), every field for the grounded one. Keys as in ``TrainConfig``."""
        fields = {"objective": self.name}
        if self.name == "grounded":
            fields.update({k: v for k, v in asdict(self).items() if k != "name"})
        return fields

    def at(self, progress: float) -> Objective:
        """The objective at ``progress`` = step / total steps ∈ [0, 1]: the first-stage usage term
        stops once ``first_usage_until`` of the steps are done, the final-stage one once
        ``usage_until`` are; everything else is constant."""
        out = self
        if out.first_usage and progress >= out.first_usage_until:
            out = replace(out, first_usage_weight=0.0)
        if out.usage and progress >= out.usage_until:
            out = replace(out, usage_weight=0.0)
        return out

    def _on(self, weight: float) -> bool:
        """A term of the grounded objective runs when that objective is chosen and its weight is > 0."""
        return self.name == "grounded" and weight > 0

    @property
    def grounding(self) -> bool:
        return self._on(self.grounding_weight)

    @property
    def exclusivity(self) -> bool:
        return self._on(self.exclusivity_weight)

    @property
    def naming(self) -> bool:
        return self._on(self.naming_weight)

    @property
    def distinct(self) -> bool:
        return self._on(self.distinct_weight)

    @property
    def needs_groups(self) -> bool:
        """Whether a term reads the per-group embeddings (grounding, exclusivity, naming, distinct)."""
        return self.grounding or self.exclusivity or self.naming or self.distinct

    @property
    def affinity(self) -> bool:
        return self._on(self.affinity_weight)

    @property
    def usage(self) -> bool:
        return self._on(self.usage_weight)

    @property
    def first_usage(self) -> bool:
        return self._on(self.first_usage_weight)

    @property
    def needs_maps(self) -> bool:
        """Whether a term reads the soft group maps (affinity, usage, or the group shares that
        naming and distinct groups weigh by)."""
        return self.affinity or self.usage or self.first_usage or self.naming or self.distinct


PAPER = Objective()


def prompt_mask(text_ids: torch.Tensor) -> torch.Tensor:
    """text_ids [B, 1+K, T] → [B, K] bool: True where prompt k is a concept, False where it is
    the caption repeated as padding (fewer than K concepts, see ``train.prompts.build_texts``)."""
    return (text_ids[:, 1:] != text_ids[:, :1]).any(dim=-1)


def patch_colours(images: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Mean colour of every patch: images [B, 3, H, W] → [B, h·w, 3] (row-major, like the tokens)."""
    h, w = grid
    pooled = F.adaptive_avg_pool2d(images.detach().float(), (h, w))  # [B, 3, h, w]
    return pooled.flatten(2).transpose(1, 2)


def grounding_loss(group_x: torch.Tensor, text_x: torch.Tensor, valid: torch.Tensor,
                   logit_scale: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Prompt ↔ image contrast where an image answers a prompt with its best group.

    group_x [B, G, D] (projected final groups), text_x [B, K, D] (projected prompts),
    valid [B, K] bool (padding prompts take no part), logit_scale: the exp'd multiplier.
    score(prompt p, image j) = τ · logsumexp_g(cos(p, group_jg) / τ) (→ max as τ → 0).
    Returns 0.5 · (CE over images per prompt + multi-positive CE over prompts per image), local
    rows against the global batch (all ranks gathered with gradients).
    """
    rank, _ = _world()
    dtype = _compute_dtype(group_x)
    b, g, _ = group_x.shape
    k = text_x.shape[1]
    z = F.normalize(group_x.to(dtype), dim=-1)
    t = F.normalize(text_x.to(dtype), dim=-1)
    z_all = all_gather_with_grad(z)                       # [W·B, G, D]
    t_all = all_gather_with_grad(t)                       # [W·B, K, D]
    valid_all = all_gather_with_grad(valid.to(dtype)) > 0.5  # [W·B, K]
    scale = logit_scale.to(dtype)
    own = torch.arange(b, device=z.device) + b * rank     # global index of the local images

    # prompts of this rank against every image of the batch
    sim_t = torch.einsum("bkd,ngd->bkng", t, z_all)       # [B, K, W·B, G]
    score_t = tau * torch.logsumexp(sim_t / tau, dim=-1)  # [B, K, W·B]
    logits_t = scale * score_t.reshape(b * k, -1)
    target_t = own.repeat_interleave(k)
    keep = valid.reshape(-1)
    loss_t = F.cross_entropy(logits_t[keep], target_t[keep]) if keep.any() else logits_t.sum() * 0

    # images of this rank against every prompt of the batch (their own valid prompts are positives)
    sim_i = torch.einsum("bgd,nkd->bnkg", z, t_all)       # [B, W·B, K, G]
    score_i = tau * torch.logsumexp(sim_i / tau, dim=-1)  # [B, W·B, K]
    logits_i = (scale * score_i).reshape(b, -1)
    logits_i = logits_i.masked_fill(~valid_all.reshape(1, -1), float("-inf"))
    logp_i = logits_i.log_softmax(dim=-1).reshape(b, -1, k)
    pos = valid.to(dtype)                                  # [B, K]
    own_logp = logp_i[torch.arange(b, device=z.device), own]  # [B, K]
    has = pos.sum(dim=1) > 0
    per_image = -(own_logp.masked_fill(pos == 0, 0.0) * pos).sum(dim=1) / pos.sum(dim=1).clamp(min=1)
    loss_i = per_image[has].mean() if has.any() else per_image.sum() * 0
    return 0.5 * (loss_t + loss_i)


def group_naming_loss(group_x: torch.Tensor, text_x: torch.Tensor, valid: torch.Tensor,
                      shares: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Every group that takes patches must look like one of its own image's prompts.

    The converse of `grounding_loss` (which asks each prompt for *one* matching group and so
    leaves the other groups unnamed): each group g of image b is contrasted with every valid
    prompt of the global batch, and its own image's valid prompts together are the positive,
    loss_bg = −log Σ_{k own} softmax(scale · cos(z_bg, t))_k.
    group_x [B, G, D], text_x [B, K, D], valid [B, K] bool, shares [B, G]: the share of the
    image's patches each group takes (treated as a constant, so emptying a group is no way out).
    Returns Σ_g share_bg · loss_bg / Σ_g share_bg, averaged over the images with a valid prompt.
    """
    rank, _ = _world()
    dtype = _compute_dtype(group_x)
    b, g, _ = group_x.shape
    k = text_x.shape[1]
    z = F.normalize(group_x.to(dtype), dim=-1)
    t_all = all_gather_with_grad(F.normalize(text_x.to(dtype), dim=-1))    # [W·B, K, D]
    valid_all = all_gather_with_grad(valid.to(dtype)) > 0.5               # [W·B, K]
    logits = logit_scale.to(dtype) * torch.einsum("bgd,nkd->bgnk", z, t_all).reshape(b, g, -1)
    logits = logits.masked_fill(~valid_all.reshape(1, 1, -1), float("-inf"))
    logp = logits.log_softmax(dim=-1)                                      # [B, G, W·B·K]
    own = torch.zeros(b, valid_all.shape[0], k, dtype=torch.bool, device=z.device)
    own[torch.arange(b, device=z.device), torch.arange(b, device=z.device) + b * rank] = valid
    own = own.reshape(b, 1, -1)
    per_group = -torch.logsumexp(logp.masked_fill(~own, float("-inf")), dim=-1)  # [B, G]
    has = valid.any(dim=1)
    if not has.any():
        return logits.nan_to_num(0.0, 0.0, 0.0).sum() * 0
    w = shares.detach().to(dtype)[has]
    return ((w * per_group[has]).sum(dim=1) / w.sum(dim=1).clamp(min=1e-12)).mean()


def distinct_groups_loss(group_x: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """How alike an image's groups are: the share-weighted mean cosine between its groups.

    group_x [B, G, D], shares [B, G] (each group's share of the image's patches, held constant).
    Per image Σ_{g≠h} s_g s_h cos(z_g, z_h) / Σ_{g≠h} s_g s_h, averaged over the images.
    Range [−1, 1]; groups that all carry the same summary of the image score 1.
    """
    dtype = _compute_dtype(group_x)
    z = F.normalize(group_x.to(dtype), dim=-1)
    s = shares.detach().to(dtype)
    off = 1 - torch.eye(z.shape[1], dtype=dtype, device=z.device)
    w = s[:, :, None] * s[:, None, :] * off                                # [B, G, G]
    cos = z @ z.transpose(1, 2)
    return ((w * cos).sum(dim=(1, 2)) / w.sum(dim=(1, 2)).clamp(min=1e-12)).mean()


def exclusivity_loss(group_x: torch.Tensor, text_x: torch.Tensor, valid: torch.Tensor,
                     tau: float = 0.1) -> torch.Tensor:
    """Overlap of the groups that different prompts of one image choose.

    group_x [B, G, D], text_x [B, K, D], valid [B, K] bool. Prompt k of image b chooses its
    image's groups softly, q_bk = softmax_g(cos(t_bk, z_bg) / τ) [G]; the loss is the mean of
    ⟨q_bk, q_bk'⟩ over all ordered pairs k ≠ k' of valid prompts (0 when no image has two).
    Range [0, 1]: 1 when every pair of prompts picks the same group with certainty.
    """
    dtype = _compute_dtype(group_x)
    z = F.normalize(group_x.to(dtype), dim=-1)
    t = F.normalize(text_x.to(dtype), dim=-1)
    q = (torch.einsum("bkd,bgd->bkg", t, z) / tau).softmax(dim=-1)      # [B, K, G]
    overlap = q @ q.transpose(1, 2)                                        # [B, K, K]
    k = q.shape[1]
    pairs = valid[:, :, None] & valid[:, None, :] & ~torch.eye(k, dtype=torch.bool, device=q.device)
    return overlap[pairs].mean() if pairs.any() else overlap.sum() * 0


def affinity_loss(group_maps: torch.Tensor, colours: torch.Tensor, near: float = 0.5,
                  far: float = 1.0) -> torch.Tensor:
    """Cut-like loss between patch-pair co-assignment and colour similarity.

    group_maps [B, G, N]: each patch's soft distribution over the final groups (columns sum to 1);
    colours [B, N, 3]: the patches' mean colours (`patch_colours`).
    co(i, j) = Σ_g p_gi p_gj ∈ [0, 1]; pairs i ≠ j with ‖c_i − c_j‖ < near are "same"
    (penalty 1 − co), pairs with distance > far are "different" (penalty co), the rest are left out.
    Returns 0.5 · (mean penalty over same pairs + mean over different pairs), pooled over the batch
    (a side with no pairs contributes 0). Range [0, 1].
    """
    dtype = _compute_dtype(group_maps)
    p = group_maps.to(dtype)
    n = p.shape[-1]
    co = torch.einsum("bgi,bgj->bij", p, p)                                 # [B, N, N]
    dist = torch.cdist(colours.to(dtype), colours.to(dtype))
    off = ~torch.eye(n, dtype=torch.bool, device=p.device)
    same = (dist < near) & off
    diff = (dist > far) & off
    loss_same = (1 - co)[same].mean() if same.any() else co.sum() * 0
    loss_diff = co[diff].mean() if diff.any() else co.sum() * 0
    return 0.5 * (loss_same + loss_diff)


def usage_loss(group_maps: torch.Tensor, groups: int = 0) -> torch.Tensor:
    """Groups used evenly *and* patches assigned confidently: 1 − I(patch; group) / log G.

    group_maps [B, G, N] (columns sum to 1). Per image, u_b = mean over patches of p_b [G] (the
    share each group takes) and I_b = H(u_b) − mean_i H(p_bi), the mutual information between a
    patch and its group (as in IIC); loss = mean over images of 1 − I_b / log G. Range [0, 1]:
    0 when the groups take equal shares and every patch sits in one group, 1 when one group takes
    everything or every patch is spread evenly over the groups. (The shares' entropy alone was
    tried first: its easiest minimum is the even spread of every patch, docs/STUDY.md.)
    ``groups`` = k in [2, G) caps the shares' entropy at log k and divides by log k instead: an image
    gets no reward for spreading over more than k groups' worth of shares, so spare groups are not
    pushed onto it (0: k = G, the form above). Capped, 0 is still the minimum; unconfident patches
    can take the loss above 1.
    """
    dtype = _compute_dtype(group_maps)
    p = group_maps.to(dtype)
    u = p.mean(dim=-1)                                                       # [B, G]
    h_shares = -(u * u.clamp(min=1e-12).log()).sum(dim=-1)                   # [B]
    h_patch = -(p * p.clamp(min=1e-12).log()).sum(dim=1).mean(dim=-1)        # [B]
    if 0 < groups < u.shape[-1]:
        h_max = math.log(groups)
        return (1 - (h_shares.clamp(max=h_max) - h_patch) / h_max).mean()
    return (1 - (h_shares - h_patch) / math.log(u.shape[-1])).mean()
