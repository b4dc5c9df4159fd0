"""Two CPU processes (gloo) give the loss and gradients of one process on the concatenated batch.

Both sides run the model in eval mode: Gumbel noise and drop-path draw per-process random
numbers, and BatchNorm in training mode would normalise each half with its own statistics
(SyncBN, which would make them equal, only runs on GPUs). Eval mode keeps the forward
deterministic so the comparison tests exactly what DDP adds: the all-gather with gradients
inside the contrastive losses and the gradient averaging. The model runs in float64 but the
losses compute in float32 (cocu.models.loss), so results agree to ~1e-7: the test demands a
relative error ||g_2proc − g_1proc|| / max(||g_1proc||, 1e-6·||all gradients||) ≤ 1e-5 for every
parameter tensor (the floor covers tensors whose gradient is ~1e-14, e.g. biases in front of a
LayerNorm) and 1e-6 on the loss; a wrong all-gather or averaging is off by O(1).
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

from cocu.models import create_model
from cocu.train.gradcache import grad_cache_backward
from cocu.models.groupvit import Embeddings
from cocu.train.loop import _all_reduce_grads

from .conftest import TINY

B, K, T = 8, 2, 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup():
    torch.manual_seed(0)
    model = create_model("groupvit_tiny", **TINY).double().eval()
    g = torch.Generator().manual_seed(1)
    images = torch.randn(B, 3, 32, 32, generator=g, dtype=torch.float64)
    ids = torch.randint(1, 1000, (B, 1 + K, T), generator=g)
    ids[..., -1] = 49407
    return model, images, ids


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        results = {}
        for mode in ("ddp", "gradcache"):
            model, images, ids = _setup()
            n = B // world
            im, tx = images[rank * n:(rank + 1) * n], ids[rank * n:(rank + 1) * n]
            if mode == "ddp":
                ddp = DDP(model)  # keep a reference: the reducer must outlive backward()
                loss = ddp(im, tx).loss
                loss.backward()
            else:  # gradient caching inside each rank (chunks of 2), then the manual gradient average
                loss = grad_cache_backward(
                    model, im, tx, chunk=2,
                    embed=lambda a, b, m=model: (m.encode_image(a).image_x, m.encode_text(b)),
                    loss_fn=lambda a, b, m=model: m.loss(Embeddings(a, b))).loss
                _all_reduce_grads(list(model.parameters()), world)
            loss = loss.detach().clone()
            dist.all_reduce(loss)
            results[mode] = {"loss": loss / world,
                             "grads": {k: p.grad for k, p in model.named_parameters() if p.grad is not None}}
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


def _single():
    model, images, ids = _setup()
    out = model(images, ids)
    out.loss.backward()
    return out.loss.detach(), {k: p.grad for k, p in model.named_parameters() if p.grad is not None}


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory):
    """One 2-process launch computing both variants (spawning costs most of the test time)."""
    out = str(tmp_path_factory.mktemp("ddp") / "results.pt")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for attempt in range(2):  # a free port can be taken between probing and binding: retry once
        try:
            mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
            break
        except mp.ProcessRaisedException as exc:
            if attempt or "address" not in str(exc).lower():
                raise
    return torch.load(out, weights_only=True)


def _compare(res):
    loss, grads = _single()
    torch.testing.assert_close(res["loss"], loss, rtol=1e-6, atol=0)
    assert grads.keys() == res["grads"].keys() and len(grads) > 20
    floor = 1e-6 * torch.stack([g.norm() for g in grads.values()]).norm()
    for k in grads:
        err = (res["grads"][k] - grads[k]).norm() / torch.maximum(grads[k].norm(), floor)
        assert err <= 1e-5, f"{k}: relative gradient error {err:.2e}"


def test_two_processes_equal_one_process_ddp(two_process_results):
    _compare(two_process_results["ddp"])


def test_two_processes_with_grad_cache_equal_one_process(two_process_results):
    _compare(two_process_results["gradcache"])
