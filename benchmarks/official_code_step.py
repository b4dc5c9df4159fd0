"""The official GroupViT code's own training step beside the two variants of `train_throughput.py`.

`train_throughput.py` compares ours against a *re-creation* of the official step. This script
checks the re-creation: it times the NVlabs/GroupViT model code itself (from a clone you
provide; its code is not part of cocu) with the same step, inputs, threads and rounds, beside
the re-creation and ours (fp32, and under bf16 autocast).

    git clone https://github.com/NVlabs/GroupViT /opt/GroupViT
    pip install --target /opt/groupvit-site einops==0.8.2 omegaconf==2.4.0 diffdist==0.1
    python benchmarks/official_code_step.py --official-repo /opt/GroupViT --site /opt/groupvit-site

Adapted around the official files, never in them: ``mmcv.utils.Registry`` (its only mmcv
import; mmcv does not install on modern torch) is a small stand-in written to a temporary
folder; a one-process gloo group serves the official losses' ``torch.distributed`` calls; the
projectors' SyncBatchNorm becomes BatchNorm1d with the same parameters and buffers (SyncBN
refuses CPU tensors; with one process both compute the same). The model is built from the
clone's ``configs/group_vit_gcc_yfcc_30e.yml`` over ``configs/default.yml``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

REGISTRY_STUB = '''
class Registry:
    """Stand-in for mmcv.utils.Registry: register classes by name, build them from {"type": ...}."""

    def __init__(self, name):
        self.name, self.classes = name, {}

    def register_module(self, name=None, force=False, module=None):
        def add(cls):
            self.classes[name or cls.__name__] = cls
            return cls
        return add(module) if module is not None else add

    def build(self, cfg):
        cfg = dict(cfg)
        return self.classes[cfg.pop("type")](**cfg)
'''


def _official_model(repo: Path, site: Path):
    """The official MultiLabelContrastive (groupvit_gcc_yfcc_30e), ready for a CPU training step."""
    stub = Path(tempfile.mkdtemp(prefix="mmcv-stub-"))
    (stub / "mmcv" / "utils").mkdir(parents=True)
    (stub / "mmcv" / "__init__.py").write_text("")
    (stub / "mmcv" / "utils" / "__init__.py").write_text(REGISTRY_STUB)
    sys.path[:0] = [str(site), str(stub), str(repo)]

    import torch
    import torch.distributed as dist
    from omegaconf import OmegaConf

    if not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
        dist.init_process_group("gloo", rank=0, world_size=1)
    from models import build_model  # the clone's package

    cfg = OmegaConf.load(repo / "configs" / "group_vit_gcc_yfcc_30e.yml")
    base = OmegaConf.load(repo / "configs" / cfg.pop("_base_"))
    model = build_model(OmegaConf.merge(base, cfg).model)

    def plain_bn(m: torch.nn.Module) -> torch.nn.Module:
        if isinstance(m, torch.nn.SyncBatchNorm):
            bn = torch.nn.BatchNorm1d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
            bn.load_state_dict(m.state_dict())
            return bn
        for name, child in m.named_children():
            setattr(m, name, plain_bn(child))
        return m

    model.img_projector = plain_bn(model.img_projector)
    model.text_projector = plain_bn(model.text_projector)
    return model


def run_official_code(a: argparse.Namespace) -> dict:
    """The official model with `train_throughput.py`'s official step (host sync every step)."""
    import torch

    from cocu.train.optim import WarmupCosine, build_optimizer
    from train_throughput import text_batch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = _official_model(Path(a.official_repo), Path(a.site)).train()
    images = torch.randn(a.batch, 3, 224, 224)
    ids = text_batch(a.batch, k=3, caption_tokens=a.caption_tokens, prompt_tokens=a.prompt_tokens)
    opt = build_optimizer(model, lr=1e-4, weight_decay=0.05, fused=False)
    sched = WarmupCosine(opt, base_lr=1e-4, warmup_lr=1e-6, min_lr=1e-6, warmup_steps=10, total_steps=1000)
    params = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        opt.zero_grad()
        loss = sum(model(images, ids).values())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        loss.item()

    for _ in range(a.warmup):
        step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t
    return {"images_per_s": a.batch * a.steps / dt, "s_per_step": dt / a.steps,
            "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    from train_throughput import _span

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official-repo", required=True, help="a clone of NVlabs/GroupViT")
    p.add_argument("--site", required=True, help="folder with einops, omegaconf, diffdist (pip install --target)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--caption-tokens", type=_span, default=(8, 40), metavar="LO,HI")
    p.add_argument("--prompt-tokens", type=_span, default=(7, 12), metavar="LO,HI")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    a = p.parse_args()
    if not (Path(a.official_repo) / "models" / "multi_label_contrastive.py").is_file():
        sys.exit(f"error: {a.official_repo} is not a clone of NVlabs/GroupViT (no models/multi_label_contrastive.py)")
    if a.variant:
        print(json.dumps(run_official_code(a)))
        return

    spans = ["--caption-tokens", "%d,%d" % a.caption_tokens, "--prompt-tokens", "%d,%d" % a.prompt_tokens]
    common = ["--batch", str(a.batch), "--steps", str(a.steps), "--warmup", str(a.warmup),
              "--threads", str(a.threads), *spans]
    commands = {
        "official code": [sys.executable, __file__, "--variant", "code", "--official-repo", a.official_repo,
                          "--site", a.site, *common],
        "re-creation": [sys.executable, str(HERE / "train_throughput.py"), "--variant", "official",
                        "--model", "groupvit_gcc_yfcc_30e", *common],
        "ours": [sys.executable, str(HERE / "train_throughput.py"), "--variant", "ours",
                 "--model", "groupvit_gcc_yfcc_30e", "--ours-amp", "none", *common],
        "ours+bf16": [sys.executable, str(HERE / "train_throughput.py"), "--variant", "ours",
                      "--model", "groupvit_gcc_yfcc_30e", "--ours-amp", "bf16", *common],
    }
    best: dict[str, dict] = {}
    for r in range(a.rounds):
        for name, cmd in commands.items():
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            print(f"  round {r} {name:14s} {res['images_per_s']:6.2f} img/s  peak {res['peak_bytes'] / 2**30:5.2f} GiB",
                  flush=True)
            if name not in best or res["images_per_s"] > best[name]["images_per_s"]:
                best[name] = res
    ref = best["official code"]["images_per_s"]
    for name, res in best.items():
        print(f"{name:14s} {res['images_per_s']:6.2f} img/s (peak RSS {res['peak_bytes'] / 2**30:.2f} GiB) "
              f"-> {res['images_per_s'] / ref:.2f}x the official code")


if __name__ == "__main__":
    main()
