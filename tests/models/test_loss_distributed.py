"""Two gloo processes: gathered-with-gradient losses equal the single-process loss on the whole batch."""

from __future__ import annotations

import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cocu.models.loss import contrastive_loss, multi_label_contrastive_loss

WORLD = 2
B_LOCAL = 3


def _features():
    g = torch.Generator().manual_seed(0)
    img = torch.randn(WORLD * B_LOCAL, 8, generator=g, dtype=torch.float64)
    txt = torch.randn(WORLD * B_LOCAL, 8, generator=g, dtype=torch.float64)
    prompts = torch.randn(WORLD * B_LOCAL, 3, 8, generator=g, dtype=torch.float64)
    return img, txt, prompts


def _losses(img, txt, prompts, scale):
    return contrastive_loss(img, txt, scale) + 0.7 * multi_label_contrastive_loss(img[:, None], prompts, scale)


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        img, txt, prompts = (t[rank * B_LOCAL:(rank + 1) * B_LOCAL].clone().requires_grad_(True)
                             for t in _features())
        scale = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
        loss = _losses(img, txt, prompts, scale)
        loss.backward()
        torch.save({"loss": loss.detach(), "img": img.grad, "txt": txt.grad, "prompts": prompts.grad,
                    "scale": scale.grad}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_loss_and_gradients_equal_single_process():
    with tempfile.TemporaryDirectory() as tmp:
        # fork: the children reuse the imported modules (spawn would re-import torch per process)
        mp.start_processes(_worker, args=(os.path.join(tmp, "init"), tmp), nprocs=WORLD, join=True,
                           start_method="fork")
        ranks = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(WORLD)]
    img, txt, prompts = (t.clone().requires_grad_(True) for t in _features())
    scale = torch.tensor(8.0, dtype=torch.float64, requires_grad=True)
    full = _losses(img, txt, prompts, scale)
    full.backward()
    # DDP averages over ranks: the mean of the rank losses / gradients is the global one
    torch.testing.assert_close(sum(r["loss"] for r in ranks) / WORLD, full.detach(), atol=1e-10, rtol=0)
    for name, leaf in (("img", img), ("txt", txt), ("prompts", prompts)):
        gathered = torch.cat([r[name] for r in ranks]) / WORLD
        torch.testing.assert_close(gathered, leaf.grad, atol=1e-10, rtol=0)
    torch.testing.assert_close(sum(r["scale"] for r in ranks) / WORLD, scale.grad, atol=1e-10, rtol=0)
