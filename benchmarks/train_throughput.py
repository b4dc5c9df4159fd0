"""Training-step throughput and peak memory: ours vs a faithful eager re-creation of the official step.

    python benchmarks/train_throughput.py                       # CPU: official config @ batch 8/224 px + tiny
    python benchmarks/train_throughput.py --device cuda --batch 256 --amp fp16 --ours-amp bf16 --compile

*official*: the NVlabs/GroupViT ``train_one_epoch`` step on our model with the official
attention maths (explicit ``softmax(q kᵀ) v``, ``set_fused_attention(False)``), fp32 unless
``--amp``, ``optimizer.zero_grad()``, ``loss.backward()``, ``clip_grad_norm_(5)``,
``optimizer.step()``, ``lr_scheduler.step_update``, then ``torch.cuda.synchronize()`` and
``loss.item()`` every step (host syncs), plain (for-each) AdamW.
*ours*: ``cocu.train``'s step: fused SDPA attention, losses kept on the device (no sync
per step), ``zero_grad(set_to_none=True)``, fused AdamW on CUDA, optional bf16/fp16 autocast,
``torch.compile`` and channels-last.

Each variant runs in its own subprocess (so peak RSS is its own), in alternating rounds
(official, ours, official, ours, ...) so that load from other processes hits both; the
best round of each is reported. Synthetic inputs (the data loader is measured separately by
the training loop's data-wait scalar).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def run_variant(a: argparse.Namespace) -> dict:
    import torch

    from cocu.models import create_model
    from cocu.train.optim import WarmupCosine, build_optimizer

    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = create_model(a.model, **json.loads(a.overrides)).to(dev)
    official = a.variant == "official"
    model.set_fused_attention(not official)
    size = model.config.image_size
    k = 3
    images = torch.randn(a.batch, 3, size, size, device=dev)
    ids = torch.randint(1, 49000, (a.batch, 1 + k, 77), device=dev)
    ids[..., 20] = 49407  # EOT at position 20 (typical caption length); argmax picks it
    ids[..., 21:] = 0
    opt = build_optimizer(model, lr=1e-4, weight_decay=0.05, fused=False if official else None)
    sched = WarmupCosine(opt, base_lr=1e-4, warmup_lr=1e-6, min_lr=1e-6, warmup_steps=10, total_steps=1000)
    amp = a.amp if official else a.ours_amp
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == "fp16")
    autocast = (torch.autocast(dev.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)
                if amp != "none" else None)
    step_model = model
    if not official:
        if a.channels_last:
            model.to(memory_format=torch.channels_last)
            images = images.contiguous(memory_format=torch.channels_last)
        if a.compile:
            step_model = torch.compile(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    def official_step() -> None:
        opt.zero_grad()
        if autocast is not None:
            with autocast:
                loss = model(images, ids).loss
        else:
            loss = model(images, ids).loss
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        scaler.step(opt)
        scaler.update()
        sched.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        loss.item()

    pending = []

    def our_step() -> None:
        if autocast is not None:
            with autocast:
                out = step_model(images, ids)
        else:
            out = step_model(images, ids)
        scaler.scale(out.loss).backward()
        scaler.unscale_(opt)
        gn = torch.nn.utils.clip_grad_norm_(params, 5.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sched.step()
        pending.append(torch.stack([out.loss.detach(), gn.detach()]))

    step = official_step if official else our_step
    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    if pending:
        torch.stack(pending).tolist()  # the one sync of the interval
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"images_per_s": a.batch * a.steps / dt, "peak_bytes": peak, "s_per_step": dt / a.steps}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--configs", default="official,tiny", help="official (groupvit_gcc_yfcc_30e) and/or tiny")
    p.add_argument("--batch", type=int, default=8, help="batch of the official config")
    p.add_argument("--tiny-batch", type=int, default=64)
    p.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"], help="official variant's AMP")
    p.add_argument("--ours-amp", default="none", choices=["none", "bf16", "fp16"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the results here")
    # internal: run one variant
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.variant:
        print(json.dumps(run_variant(a)))
        return

    configs = {"official": ("groupvit_gcc_yfcc_30e", a.batch), "tiny": ("groupvit_tiny", a.tiny_batch)}
    results = {}
    for name in a.configs.split(","):
        model, batch = configs[name]
        best: dict[str, dict] = {}
        for r in range(a.rounds):
            for variant in ("official", "ours"):
                cmd = [sys.executable, __file__, "--variant", variant, "--model", model, "--device", a.device,
                       "--batch", str(batch), "--amp", a.amp, "--ours-amp", a.ours_amp, "--steps", str(a.steps),
                       "--warmup", str(a.warmup), "--threads", str(a.threads)]
                cmd += ["--compile"] * a.compile + ["--channels-last"] * a.channels_last
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                res = json.loads(out.strip().splitlines()[-1])
                print(f"  {name:8s} round {r} {variant:8s} {res['images_per_s']:8.2f} img/s  "
                      f"peak {res['peak_bytes'] / 2**30:6.2f} GiB", flush=True)
                if variant not in best or res["images_per_s"] > best[variant]["images_per_s"]:
                    best[variant] = res
        ratio = best["ours"]["images_per_s"] / best["official"]["images_per_s"]
        results[name] = {"model": model, "batch": batch, **best, "ratio": ratio}
        mem = "RSS" if a.device == "cpu" else "max allocated"
        print(f"{name}: {model} batch {batch} on {a.device}: official {best['official']['images_per_s']:.2f} img/s "
              f"(peak {mem} {best['official']['peak_bytes'] / 2**30:.2f} GiB), ours "
              f"{best['ours']['images_per_s']:.2f} img/s (peak {best['ours']['peak_bytes'] / 2**30:.2f} GiB) "
              f"-> ratio {ratio:.2f}x", flush=True)
    if a.json:
        from cocu.utils.io import write_json
        write_json(a.json, {"args": vars(a), "results": results})


if __name__ == "__main__":
    main()
