"""Padding-free text encoding: the bucket plan is optimal, and the encoder's output and gradients
equal the full 77-token computation."""

from __future__ import annotations

import itertools

import pytest
import torch

from cocu.models import create_model
from cocu.models.text_buckets import plan_buckets, round_length


def set_partitions(items: list[int]):
    """Every partition of ``items`` into non-empty blocks (naive recursive enumeration)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        yield [[first]] + part
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1:]


def cost(blocks, lengths, overhead, multiple=8, max_length=77) -> int:
    return sum(len(b) * max(round_length(lengths[r], multiple, max_length) for r in b) + overhead for b in blocks)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("overhead", [0, 20, 100])
def test_plan_is_optimal_against_brute_force(seed, overhead):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 78, (7,), generator=g).tolist()
    plan = plan_buckets(lengths, max_length=77, overhead=overhead)
    rows = sorted(r for b, _ in plan for r in b)
    assert rows == list(range(len(lengths)))  # every row exactly once
    for b, length in plan:  # each bucket runs long enough for its rows
        assert length >= max(lengths[r] for r in b) and length % 8 == 0 or length == 77
    best = min(cost(p, lengths, overhead) for p in set_partitions(list(range(len(lengths)))))
    assert cost([b for b, _ in plan], lengths, overhead) == best


def test_plan_examples_by_hand():
    # no overhead: one bucket per rounded length; huge overhead: a single bucket at the longest
    assert plan_buckets([9, 3, 20, 5], max_length=77, overhead=0) == [([1, 3], 8), ([0], 16), ([2], 24)]
    assert plan_buckets([9, 3, 20, 5], max_length=77, overhead=10**6) == [([0, 1, 2, 3], 24)]
    # 10 prompts of 8 and one caption of 77: splitting saves 10·69 = 690 > 32 tokens of overhead
    assert plan_buckets([8] * 10 + [77], max_length=77, overhead=32) == [(list(range(10)), 8), ([10], 77)]
    assert plan_buckets([], max_length=77) == []


def random_ids(n: int, seed: int, context: int = 77) -> torch.Tensor:
    """Rows of SOT, random ids, EOT (the largest id), zero padding; some rows repeated."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, context, dtype=torch.long)
    for i in range(n):
        length = int(torch.randint(3, context + 1, (1,), generator=g))
        ids[i, 0], ids[i, length - 1] = 49406, 49407
        ids[i, 1:length - 1] = torch.randint(1, 49000, (length - 2,), generator=g)
    ids[5] = ids[2]
    ids[9] = ids[2]
    return ids


def test_trimmed_encoder_equals_full_context_output_and_gradients():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny").double().train()
    ids = random_ids(16, seed=3).reshape(4, 4, 77)

    def run(trim: bool):
        model.text_encoder.trim = trim
        model.zero_grad(set_to_none=True)
        out = model.encode_text(ids)  # [4, 4, D]: through the projector's BatchNorm too
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.text_encoder.named_parameters() if p.grad is not None}
        return out.detach(), grads

    full, g_full = run(False)
    trimmed, g_trim = run(True)
    assert torch.allclose(trimmed, full, atol=1e-10, rtol=0)
    assert g_full.keys() == g_trim.keys()
    for name in g_full:
        assert torch.allclose(g_trim[name], g_full[name], atol=1e-10, rtol=0), name


def test_trimmed_encoder_runs_fewer_positions():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny").eval()
    ids = random_ids(12, seed=1)
    ids[:, 12:] = 0  # every text ends by position 11
    ids[:, 11] = 49407
    seen = []
    hook = model.text_encoder.transformer.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape))
    with torch.no_grad():
        model.text_encoder(ids)
    hook.remove()
    assert seen == [torch.Size([10, 16, model.config.text_width])]  # 10 unique rows, 16 positions


def test_untrimmed_when_disabled():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny", trim_text=False).eval()
    seen = []
    model.text_encoder.transformer.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape))
    with torch.no_grad():
        model.text_encoder(random_ids(10, seed=2))
    assert [s[1] for s in seen] == [77]


def test_plan_buckets_covers_many_rows():
    lengths = list(itertools.islice(itertools.cycle([8, 9, 12, 21, 33, 77]), 4096))
    plan = plan_buckets(lengths, max_length=77, overhead=4096)
    assert sorted(r for b, _ in plan for r in b) == list(range(4096))
