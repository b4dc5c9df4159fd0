"""CLI commands of the `data` stage."""

from __future__ import annotations

import argparse
import os

from cocu.data.synth_classes import DEFAULT_NUM_OBJECTS, DEFAULT_NUM_STUFF, OBJECT_CLASSES, STUFF_CLASSES


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's sub-commands to ``sub``."""
    p = sub.add_parser(
        "synth", help="write the synthetic semantic-gap world (shards, VOC-/ADE-like benchmarks, vocab)",
        description="Render the synthetic semantic-gap world: webdataset training shards with gap "
                    "captions (KEY.txt) and complete captions/true classes (KEY.json), VOC-like and "
                    "ADE-like validation folders, vocab.txt and world.json. Deterministic per seed.")
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument("--num-train", type=int, default=20000, help="training images (default 20000)")
    p.add_argument("--num-val", type=int, default=500, help="validation images per benchmark layout (default 500)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--gap", type=float, default=0.8,
                   help="semantic gap of the captions in [0, 1]: 0 names everything, 1 the strongest gap "
                        "(default 0.8)")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per training shard (default 1000)")
    p.add_argument("--num-object-classes", type=int, default=DEFAULT_NUM_OBJECTS,
                   help=f"object classes used, 1..{len(OBJECT_CLASSES)} (default {DEFAULT_NUM_OBJECTS})")
    p.add_argument("--num-stuff-classes", type=int, default=DEFAULT_NUM_STUFF,
                   help=f"stuff classes used, 1..{len(STUFF_CLASSES)} (default {DEFAULT_NUM_STUFF})")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="worker processes (output does not depend on it; default min(2, cpus))")
    p.add_argument("--overwrite", action="store_true", help="replace a previous world in --out")
    p.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> int:
    from cocu.data.synth import generate_world

    info = generate_world(args.out, args.seed, num_train=args.num_train, num_val=args.num_val, size=args.size,
                          gap=args.gap, shard_size=args.shard_size, num_object_classes=args.num_object_classes,
                          num_stuff_classes=args.num_stuff_classes, workers=args.workers,
                          overwrite=args.overwrite)
    st = info.stats
    print(f"wrote {info.out}: {st['images']} train images in {len(info.train_shards)} shards, "
          f"benchmarks {info.voc_dir.name}/ and {info.ade_dir.name}/, {info.seconds:.1f} s")
    print(f"caption naming rate: objects {st['object_named_rate']}, stuff {st['stuff_named_rate']}; "
          f"per class:")
    for name, c in st["per_class"].items():
        print(f"  {name:10s} {c['kind']:6s} present {c['present']:6d}  named {c['named_rate']}")
    return 0
