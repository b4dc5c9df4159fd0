"""CLI commands of the `train` stage (registered by cocu.cli)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cocu train``."""
    p = sub.add_parser("train", help="train GroupViT on webdataset shards (torchrun for many GPUs)",
                       description="Train GroupViT with caption + K concept prompts. Flags override the "
                                   "preset; run under `torchrun --nproc-per-node G -m cocu train ...` for DDP.")
    p.add_argument("--shards", required=True, help="shard folder, glob or brace pattern")
    p.add_argument("--out", required=True, help="run folder (checkpoints/, tb/, log.jsonl, summary.json)")
    p.add_argument("--preset", help="training preset name (tiny, gcc_yfcc_30e) or JSON file")
    p.add_argument("--model", help="model preset name or model JSON config")
    g = p.add_argument_group("prompts")
    g.add_argument("--prompts", choices=["caption", "oracle", "curated"],
                   help="where the K extra prompts come from (default caption = baseline)")
    g.add_argument("--curation", help="curation sidecar folder (for --prompts curated)")
    g.add_argument("--sampling", choices=["plain", "cluster"], help="curated concept sampling (default plain)")
    g.add_argument("--vocab", help="vocabulary file (default: vocab.txt beside the shards, else the shipped one)")
    g.add_argument("--multi-label", type=int, dest="multi_label", metavar="K", help="number of concept prompts")
    j = p.add_argument_group("objective")
    j.add_argument("--objective", choices=["paper", "grounded"],
                   help="paper: caption + multi-label contrast (GroupViT); grounded: + prompt-group "
                        "grounding + appearance affinity (cocu.models.objective)")
    j.add_argument("--grounding-weight", type=float, help="weight of the prompt-group grounding term")
    j.add_argument("--grounding-tau", type=float, help="smooth-max temperature over the groups")
    j.add_argument("--exclusivity-weight", type=float,
                   help="weight of the term that keeps different prompts of an image on different groups")
    j.add_argument("--affinity-weight", type=float, help="weight of the appearance-affinity term")
    j.add_argument("--affinity-near", type=float,
                   help="patches whose mean colours are closer than this share a group (CLIP-normalised units)")
    j.add_argument("--affinity-far", type=float, help="patches farther apart than this are kept apart")
    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=int, help="images per process (global = × processes)")
    o.add_argument("--lr", type=float, help="peak learning rate at --lr-batch (scaled linearly)")
    o.add_argument("--lr-batch", type=int, help="global batch at which --lr is given (official 4096)")
    o.add_argument("--epochs", type=float, help="epochs (of --epoch-samples samples)")
    o.add_argument("--epoch-samples", type=int, help="samples per epoch (default: counted from the shards)")
    o.add_argument("--samples", type=int, help="total training samples (instead of --epochs)")
    o.add_argument("--warmup", type=float, dest="warmup_epochs", help="warm-up epochs")
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--grad-cache-chunk", type=int, metavar="M",
                   help="gradient caching: embed/backprop M images at a time (exact large-batch loss)")
    s = p.add_argument_group("system")
    s.add_argument("--seed", type=int)
    s.add_argument("--workers", type=int, help="data loader workers per process")
    s.add_argument("--device", help="auto | cpu | cuda")
    s.add_argument("--amp", choices=["bf16", "fp16", "none"], help="mixed precision (fp16 = GPU + loss scaler)")
    s.add_argument("--compile", action="store_true", default=None, help="torch.compile the vision tower")
    s.add_argument("--channels-last", action="store_true", default=None)
    s.add_argument("--resume", help="auto (latest valid checkpoint in --out) or a checkpoint path")
    s.add_argument("--overwrite", action="store_true", default=None,
                   help="replace the run already in --out (without it, an existing run is never touched)")
    s.add_argument("--save-every", type=int, help="also checkpoint every N steps")
    s.add_argument("--log-every", type=int, help="steps between log flushes (the only host syncs)")
    s.add_argument("--max-steps", type=int, help="stop after N steps of this invocation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the TrainConfig from preset + flags, train, print the summary."""
    from cocu.train.config import make_config
    from cocu.train.loop import train

    keys = ["shards", "out", "model", "prompts", "curation", "sampling", "vocab", "multi_label", "batch_size",
            "lr", "lr_batch", "epochs", "epoch_samples", "samples", "warmup_epochs", "weight_decay",
            "grad_cache_chunk", "seed", "workers", "device", "amp", "compile", "channels_last", "resume",
            "overwrite", "save_every", "log_every", "max_steps", "objective", "grounding_weight", "grounding_tau",
            "exclusivity_weight", "affinity_weight", "affinity_near", "affinity_far"]
    cfg = make_config(args.preset, **{k: getattr(args, k) for k in keys})
    result = train(cfg)
    if result.extra.get("world_size", 1) == 1 or int(__import__("os").environ.get("RANK", "0")) == 0:
        print(json.dumps({"run_dir": result.run_dir, "steps": result.steps, "samples_seen": result.samples_seen,
                          "corrupt": result.corrupt, "final": result.final,
                          "images_per_s": round(result.images_per_s, 1),
                          "wall_time_s": round(result.wall_time_s, 1), "checkpoint": result.checkpoint}, indent=2))
    return 0
