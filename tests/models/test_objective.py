"""The grounded objective's terms against plain per-element loops written from their definitions."""

from __future__ import annotations

import math

import pytest
import torch

from cocu.errors import CocuError
from cocu.models import create_model
from cocu.models.objective import (Objective, affinity_loss, distinct_groups_loss, grounding_loss, group_naming_loss,
                                   patch_colours, prompt_mask, usage_loss)

TINY = dict(image_size=32, patch_size=8, embed_dim=32, depths=[1, 1, 1], num_heads=[2, 2, 2],
            num_group_tokens=[8, 4, 0], num_output_groups=[8, 4], text_width=32, text_layers=1,
            text_heads=2, proj_hidden_dim=64, output_dim=32)


def _ref_grounding(z, t, valid, scale, tau):
    """Per prompt and per image, in float64 Python loops."""
    b, g, _ = z.shape
    k = t.shape[1]
    z = torch.nn.functional.normalize(z.double(), dim=-1)
    t = torch.nn.functional.normalize(t.double(), dim=-1)

    def score(p, j):  # prompt vector p against image j: tau * log sum_g exp(cos / tau)
        return tau * math.log(sum(math.exp(float(p @ z[j, q]) / tau) for q in range(g)))

    terms_t = []
    for i in range(b):
        for a in range(k):
            if not valid[i, a]:
                continue
            row = [scale * score(t[i, a], j) for j in range(b)]
            lse = math.log(sum(math.exp(v) for v in row))
            terms_t.append(lse - row[i])
    terms_i = []
    cols = [(j, a) for j in range(b) for a in range(k) if valid[j, a]]
    for i in range(b):
        own = [a for a in range(k) if valid[i, a]]
        if not own:
            continue
        row = {c: scale * score(t[c[0], c[1]], i) for c in cols}
        lse = math.log(sum(math.exp(v) for v in row.values()))
        terms_i.append(sum(lse - row[(i, a)] for a in own) / len(own))
    return 0.5 * (sum(terms_t) / len(terms_t) + sum(terms_i) / len(terms_i))


def test_grounding_loss_matches_loops():
    g = torch.Generator().manual_seed(0)
    z, t = torch.randn(5, 4, 8, generator=g), torch.randn(5, 3, 8, generator=g)
    valid = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1]], dtype=torch.bool)
    got = grounding_loss(z, t, valid, torch.tensor(10.0), tau=0.2)
    assert got.item() == pytest.approx(_ref_grounding(z, t, valid, 10.0, 0.2), rel=1e-6)


def _ref_naming(z, t, valid, shares, scale):
    """group_naming_loss with plain loops over images, groups and prompts."""
    b, g, _ = z.shape
    k = t.shape[1]
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
    cols = [(n, a) for n in range(b) for a in range(k) if valid[n, a]]
    per_image = []
    for i in range(b):
        if not valid[i].any():
            continue
        losses = []
        for j in range(g):
            ex = {c: math.exp(scale * cos(z[i, j], t[c])) for c in cols}
            losses.append(-math.log(sum(ex[(i, a)] for a in range(k) if valid[i, a]) / sum(ex.values())))
        w = shares[i].tolist()
        per_image.append(sum(wj * lj for wj, lj in zip(w, losses)) / sum(w))
    return sum(per_image) / len(per_image)


def test_group_naming_loss_matches_loops_and_needs_every_group_named():
    g = torch.Generator().manual_seed(1)
    z, t = torch.randn(4, 3, 8, generator=g), torch.randn(4, 2, 8, generator=g)
    valid = torch.tensor([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=torch.bool)
    shares = torch.rand(4, 3, generator=g)
    got = group_naming_loss(z, t, valid, shares, torch.tensor(5.0))
    assert got.item() == pytest.approx(_ref_naming(z, t, valid, shares, 5.0), rel=1e-6)
    # one image, two prompts; the grounding term is content once one group matches each prompt,
    # the naming term only once the third group (taking a share) matches a prompt too
    t1 = torch.eye(3)[None, :2] * 1.0                     # prompts e0, e1
    t_neg = torch.eye(3)[None, 2:3].expand(1, 2, 3)       # another image's prompts: e2
    text = torch.cat([t1, t_neg])
    v = torch.ones(2, 2, dtype=torch.bool)
    shares2 = torch.tensor([[0.4, 0.3, 0.3], [1.0, 0.0, 0.0]])
    stray = torch.stack([torch.stack([torch.eye(3)[0], torch.eye(3)[1], torch.eye(3)[2]]), torch.eye(3)])
    named = torch.stack([torch.stack([torch.eye(3)[0], torch.eye(3)[1], torch.eye(3)[1]]), torch.eye(3)])
    scale = torch.tensor(10.0)
    assert group_naming_loss(named, text, v, shares2, scale) < group_naming_loss(stray, text, v, shares2, scale) - 1
    # an empty group (share 0) does not count
    empty = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    assert group_naming_loss(stray, text, v, empty, scale).item() == pytest.approx(
        group_naming_loss(named, text, v, empty, scale).item(), rel=1e-6)


def test_distinct_groups_loss_matches_a_loop_and_its_ends():
    g = torch.Generator().manual_seed(2)
    z, shares = torch.randn(3, 4, 5, generator=g), torch.rand(3, 4, generator=g)
    ref = []
    for b in range(3):
        num = den = 0.0
        for i in range(4):
            for j in range(4):
                if i != j:
                    w = float(shares[b, i] * shares[b, j])
                    num += w * float(torch.nn.functional.cosine_similarity(z[b, i], z[b, j], dim=0))
                    den += w
        ref.append(num / den)
    assert distinct_groups_loss(z, shares).item() == pytest.approx(sum(ref) / 3, rel=1e-5)
    same = torch.ones(1, 3, 4)
    assert distinct_groups_loss(same, torch.ones(1, 3)).item() == pytest.approx(1.0)
    # an empty group does not count: two opposite groups with share, one copy of them without
    opposite = torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]]])
    assert distinct_groups_loss(opposite, torch.tensor([[0.5, 0.5, 0.0]])).item() == pytest.approx(-1.0)


def test_grounding_rewards_one_matching_group_over_the_average():
    """An image whose *one* group equals the prompt beats an image whose groups only average to it."""
    d = 6
    e = torch.eye(d)
    t = e[:2].reshape(2, 1, d)                     # prompts: concept 0 (image 0), concept 1 (image 1)
    sharp = torch.stack([torch.stack([e[0], e[2], e[3], e[4]]), torch.stack([e[1], e[2], e[3], e[4]])])
    blurred = torch.stack([(e[0] + e[1] + e[2]).repeat(4, 1), (e[1] + e[0] + e[2]).repeat(4, 1)])
    valid = torch.ones(2, 1, dtype=torch.bool)
    scale = torch.tensor(20.0)
    assert grounding_loss(sharp, t, valid, scale).item() < 0.01
    # the blurred images answer both prompts alike: chance between the two images, log 2
    assert grounding_loss(blurred, t, valid, scale).item() == pytest.approx(math.log(2), rel=1e-6)


def _ref_affinity(maps, colours, near, far):
    """Every pair of every image, pooled: same pairs cost 1 − co, different pairs cost co."""
    b, g, n = maps.shape
    same, diff = [], []
    for i in range(b):
        for p in range(n):
            for q in range(n):
                if p == q:
                    continue
                co = float(sum(maps[i, k, p] * maps[i, k, q] for k in range(g)))
                d = math.sqrt(float(((colours[i, p] - colours[i, q]) ** 2).sum()))
                if d < near:
                    same.append(1 - co)
                elif d > far:
                    diff.append(co)
    return 0.5 * (sum(same) / len(same) + sum(diff) / len(diff))


def test_affinity_loss_matches_loops():
    g = torch.Generator().manual_seed(1)
    maps = torch.randn(2, 3, 6, generator=g).softmax(dim=1)  # columns: distributions over groups
    colours = torch.randn(2, 6, 3, generator=g)
    got = affinity_loss(maps, colours, near=1.5, far=2.0)
    want = _ref_affinity(maps.double(), colours.double(), 1.5, 2.0)
    assert 0 < want < 1
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_affinity_prefers_groups_that_follow_colour():
    colours = torch.tensor([[[0.0, 0, 0], [0, 0, 0], [2, 2, 2], [2, 2, 2]]])
    follow = torch.tensor([[[1.0, 1, 0, 0], [0, 0, 1, 1]]])   # two groups = two colours
    mixed = torch.tensor([[[1.0, 0, 1, 0], [0, 1, 0, 1]]])    # groups cut across colours
    assert affinity_loss(follow, colours).item() == 0.0
    # mixed: both same-colour pairs are split (mean cost 1); of the four different-colour pairs
    # (0,2), (0,3), (1,2), (1,3), two share a group (mean cost 0.5): 0.5 · (1 + 0.5)
    assert affinity_loss(mixed, colours).item() == 0.75


def test_usage_loss_matches_a_loop_and_its_ends():
    g = torch.Generator().manual_seed(2)
    maps = torch.randn(3, 4, 5, generator=g).softmax(dim=1).double()  # [B, G, N]
    want = 0.0
    for b in range(3):
        shares = [sum(maps[b, k, i].item() for i in range(5)) / 5 for k in range(4)]
        h_patch = sum(-sum(maps[b, k, i].item() * math.log(maps[b, k, i].item()) for k in range(4))
                      for i in range(5)) / 5
        want += (1 - (-sum(u * math.log(u) for u in shares) - h_patch) / math.log(4)) / 3
    assert usage_loss(maps).item() == pytest.approx(want, rel=1e-9)
    even = torch.eye(4)[None]                   # 4 groups, one patch each, confidently: I = log 4
    one = torch.zeros(1, 4, 4); one[0, 0] = 1   # one group takes every patch
    spread = torch.full((1, 4, 4), 0.25)        # every patch spread evenly: the old trivial minimum
    assert usage_loss(even).item() == pytest.approx(0.0, abs=1e-7)
    assert usage_loss(one).item() == pytest.approx(1.0) and usage_loss(spread).item() == pytest.approx(1.0)


def test_usage_loss_capped_at_k_groups_matches_a_loop_and_its_ends():
    """``groups`` = k: the shares' entropy counts up to log k, and the loss is divided by log k."""
    g = torch.Generator().manual_seed(3)
    maps = torch.randn(2, 6, 5, generator=g).softmax(dim=1).double()  # [B, G=6, N]
    for k in (2, 3, 4):
        want = 0.0
        for b in range(2):
            shares = [sum(maps[b, j, i].item() for i in range(5)) / 5 for j in range(6)]
            h_shares = -sum(u * math.log(u) for u in shares)
            h_patch = sum(-sum(maps[b, j, i].item() * math.log(maps[b, j, i].item()) for j in range(6))
                          for i in range(5)) / 5
            want += (1 - (min(h_shares, math.log(k)) - h_patch) / math.log(k)) / 2
        assert usage_loss(maps, k).item() == pytest.approx(want, rel=1e-9)
    assert torch.equal(usage_loss(maps, 6), usage_loss(maps)) and torch.equal(usage_loss(maps, 0), usage_loss(maps))
    two = torch.zeros(1, 6, 4); two[0, 0, :2] = 1; two[0, 1, 2:] = 1   # two groups, equal shares, confident
    four = torch.zeros(1, 6, 4); four[0, :4] = torch.eye(4)             # four groups
    assert usage_loss(two, 2).item() == pytest.approx(0.0, abs=1e-7)   # k = 2 asks no more than two
    assert usage_loss(four, 2).item() == pytest.approx(0.0, abs=1e-7)   # ... and does not punish more
    assert usage_loss(two, 4).item() == pytest.approx(0.5)             # k = 4: half of log 4 missing
    assert usage_loss(four, 4).item() == pytest.approx(0.0, abs=1e-7)
    assert usage_loss(four).item() == pytest.approx(1 - math.log(4) / math.log(6))  # the uncapped form wants all 6
    with pytest.raises(CocuError, match="usage-groups"):
        Objective("grounded", usage_groups=1)


def test_prompt_mask_and_patch_colours():
    ids = torch.tensor([[[5, 6], [7, 8], [5, 6]], [[1, 2], [1, 2], [1, 3]]])  # [B=2, 1+K=3, T=2]
    assert prompt_mask(ids).tolist() == [[True, False], [False, True]]
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    got = patch_colours(images, (2, 2))  # [B, 4 patches, 3]
    assert got.shape == (2, 4, 3)
    assert got[1, 2, 0].item() == images[1, 0, 2:4, 0:2].mean().item()  # patch (row 1, col 0)


def test_objective_validation_and_paper_forward_unchanged():
    with pytest.raises(CocuError, match="--objective"):
        Objective("magic")
    with pytest.raises(CocuError, match="affinity-far"):
        Objective("grounded", affinity_near=1.0, affinity_far=0.5)
    torch.manual_seed(0)
    m = create_model("groupvit_tiny", **TINY).eval()
    images = torch.randn(3, 3, 32, 32)
    ids = torch.randint(1, 1000, (3, 3, 10))
    paper = m(images, ids)
    assert paper.loss_grounding is None and paper.loss_affinity is None
    grounded = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.0,
                                        first_usage_weight=0.0))
    torch.testing.assert_close(grounded.loss_caption, paper.loss_caption)
    torch.testing.assert_close(grounded.loss, paper.loss + grounded.loss_grounding + grounded.loss_affinity)
    assert grounded.loss_usage is None  # off at weight 0
    used = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.3,
                                    first_usage_weight=0.0))
    torch.testing.assert_close(used.loss, grounded.loss + used.loss_usage)
    assert used.loss_usage.item() > 0
    capped = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.3,
                                      first_usage_weight=0.0, usage_groups=2))
    group_maps = m.encode_image(images, return_attn=True).seg_maps().flatten(2)  # eval: no Gumbel noise
    torch.testing.assert_close(capped.loss_usage, 0.3 * usage_loss(group_maps, 2))
    torch.testing.assert_close(used.loss_usage, 0.3 * usage_loss(group_maps))
    # the first-stage term: the same loss on the first grouping stage's soft assignment
    both = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.3,
                                    first_usage_weight=0.2))
    first_maps = m.encode_image(images, return_attn=True).attn_soft[0]  # eval: no Gumbel noise
    torch.testing.assert_close(both.loss_usage, used.loss_usage + 0.2 * usage_loss(first_maps))
    torch.testing.assert_close(both.loss, grounded.loss + both.loss_usage)
    # the naming term: added to loss_grounding, on the final groups' features and patch shares
    named = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.0,
                                     first_usage_weight=0.0, naming_weight=0.4))
    out = m.encode_image(images, return_feat=True, return_attn=True)
    shares = out.seg_maps().flatten(2).mean(dim=-1)
    term = group_naming_loss(out.image_feat, m.encode_text(ids)[:, 1:], prompt_mask(ids), shares,
                             m.multi_label_logit_scale.exp().clamp(max=100))
    torch.testing.assert_close(named.loss_grounding, grounded.loss_grounding + 0.4 * term)
    apart = m(images, ids, Objective("grounded", grounding_weight=2.0, affinity_weight=0.5, usage_weight=0.0,
                                     first_usage_weight=0.0, distinct_weight=0.7))
    torch.testing.assert_close(apart.loss_grounding,
                               grounded.loss_grounding + 0.7 * distinct_groups_loss(out.image_feat, shares))


def test_settings_name_what_is_trained():
    """The paper's objective ignores the weights; the grounded one is every weight (the usage terms on by
    default: the final one throughout, the first-stage one for the first 40 % of the steps)."""
    assert Objective("paper", usage_weight=5.0).settings() == {"objective": "paper"}
    grounded = Objective("grounded").settings()
    assert grounded["objective"] == "grounded" and grounded["usage_weight"] == 2.0
    assert grounded["first_usage_weight"] == 2.0 and grounded["first_usage_until"] == 0.4
    assert Objective("grounded").usage and not Objective("grounded", usage_weight=0.0).usage
    assert set(grounded) - {"objective"} == {f for f in Objective.__dataclass_fields__ if f != "name"}


def test_first_stage_term_stops_at_its_fraction():
    obj = Objective("grounded", first_usage_weight=2.0, first_usage_until=0.4)
    assert obj.at(0.0) is obj and obj.at(0.399).first_usage
    off = obj.at(0.4)
    assert not off.first_usage and off.usage_weight == obj.usage_weight and off.grounding_weight == obj.grounding_weight
    assert Objective("grounded", first_usage_weight=2.0, first_usage_until=1.0).at(0.999).first_usage
    for bad in (0.0, 1.5):
        with pytest.raises(CocuError, match="first-usage-until"):
            Objective("grounded", first_usage_until=bad)


def test_final_stage_term_stops_at_its_fraction():
    obj = Objective("grounded", usage_until=0.6)  # the first-stage term still stops at 0.4
    assert obj.at(0.0) is obj
    mid = obj.at(0.5)
    assert mid.usage and not mid.first_usage
    late = obj.at(0.6)
    assert not late.usage and not late.first_usage and late.grounding_weight == obj.grounding_weight
    assert Objective("grounded").at(0.999).usage  # the default never stops it
    for bad in (0.0, 1.5):
        with pytest.raises(CocuError, match="usage-until"):
            Objective("grounded", usage_until=bad)
