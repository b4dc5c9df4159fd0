"""CLI commands of the `eval` stage."""

from __future__ import annotations

import argparse
from pathlib import Path

from cocu.errors import CocuError
from cocu.cli.flags import (GATE_CHOICES, add_background_words, add_checkpoint, add_device, float_at_least,
                            int_at_least)


def _eval(args: argparse.Namespace) -> int:
    from cocu.eval.datasets import BENCHMARKS, get_benchmark
    from cocu.eval.datasets.synthetic import load_synthetic
    from cocu.eval.evaluate import evaluate
    from cocu.eval.metrics import format_table
    from cocu.eval.suite import json_safe
    from cocu.models.checkpoint import load_model
    from cocu.utils.device import resolve_device
    from cocu.utils.io import check_output, write_json

    if args.benchmark and not args.benchmark_dir:
        from cocu.eval.suite import is_suite

        if is_suite(args.benchmark):
            if args.background_words:
                raise CocuError("--background-words applies to one benchmark, not a suite")
            return _eval_suite(args)
    if args.skip_missing:
        raise CocuError("--skip-missing applies to a suite (--benchmark all, object, stuff or a comma list)")
    if args.out:
        check_output(args.out, "file", "--out")
    if args.benchmark_dir:
        bench = (get_benchmark(args.benchmark, args.benchmark_dir) if args.benchmark
                 else load_synthetic(args.benchmark_dir))
    elif args.benchmark and args.data_root:
        bench = get_benchmark(args.benchmark, args.data_root)
    else:
        raise CocuError("give --benchmark NAME --data-root DIR, or --benchmark-dir DIR "
                        f"(benchmarks: {', '.join(BENCHMARKS)})")
    protocol = _settings(args).protocol(bench)
    device = resolve_device(args.device)
    model = load_model(args.checkpoint, map_location=device)
    result = evaluate(model, bench, protocol=protocol, subset=args.subset, device=device,
                      window_batch=args.window_batch, background_words=args.background_words)
    result["checkpoint"] = str(args.checkpoint)
    print(format_table(result, bench.classes))
    print(f"{bench.name}: mIoU {result['mIoU']:.2f}  mAcc {result['mAcc']:.2f}  "
          f"aAcc {result['aAcc']:.2f}  ({result['num_images']} images, "
          f"{result['images_per_s']} img/s on {result['device']})")
    if args.out:
        write_json(args.out, json_safe(result))
        print(f"wrote {args.out}")
    return 0


def _settings(args: argparse.Namespace):
    """The protocol flags as SuiteSettings (one benchmark or every benchmark of a suite)."""
    from cocu.eval.suite import SuiteSettings

    return SuiteSettings(templates=args.templates, pamr=args.pamr, threshold=args.threshold,
                         mode=args.mode, crop=args.crop, stride=args.stride,
                         short_side=args.short_side, gate=args.gate, subset=args.subset,
                         window_batch=args.window_batch)


def _eval_suite(args: argparse.Namespace) -> int:
    """``--benchmark all|object|stuff|a,b,c``: every benchmark, one table, resumable per benchmark."""
    from cocu.eval.suite import evaluate_suite, markdown, resolve_suite, result_row

    names = resolve_suite(args.benchmark)
    if not args.data_root:
        raise CocuError(f"--benchmark {args.benchmark} needs --data-root DIR (the folder holding "
                        "the benchmarks' standard layouts)")
    out = args.out or Path(f"eval-{Path(str(args.checkpoint)).stem}")
    res = evaluate_suite(args.checkpoint, names, args.data_root, out, settings=_settings(args),
                         skip_missing=args.skip_missing, device=args.device)
    if res.missing:
        print("skipped (not found): " + ", ".join(res.missing))
    if res.cached:
        print("from the cache: " + ", ".join(res.cached))
    print(markdown([result_row(Path(str(args.checkpoint)).stem, res, names)], names))
    print(f"wrote {out}/table.md, table.csv, table.json and <benchmark>.json / _per_class.csv")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this stage's sub-commands to ``sub``."""
    p = sub.add_parser(
        "eval", help="zero-shot segmentation mIoU of a checkpoint on a benchmark",
        description="Segment every image of a benchmark with a GroupViT checkpoint (ours or the "
                    "official .pth) using the GroupViT/CoCu test protocol of that benchmark, and "
                    "report mIoU, mAcc, aAcc and per-class IoU exactly as mmsegmentation 0.18 does. "
                    "Real benchmarks: voc, context, coco_object, imagenet_s50, imagenet_s300, "
                    "cityscapes, ade20k, coco_stuff (also context59); synthetic splits from "
                    "`cocu synth` via --benchmark-dir. See docs/DATASETS.md for the layouts.")
    add_checkpoint(p)
    p.add_argument("--benchmark", help="benchmark name (voc, context, coco_object, imagenet_s50, "
                   "imagenet_s300, cityscapes, ade20k, coco_stuff, context59, voc_like, ade_like), "
                   "or a suite: all (the paper's eight, one table with the average), object, "
                   "stuff, or a comma list")
    p.add_argument("--data-root", type=Path, help="folder holding the benchmark's standard layout")
    p.add_argument("--benchmark-dir", type=Path,
                   help="a synthetic benchmark folder written by `cocu synth` (layout auto-detected)")
    p.add_argument("--subset", type=int_at_least(1), help="evaluate only the first N images")
    p.add_argument("--out", type=Path, help="write the results as JSON here (a suite: a folder, "
                   "default eval-<checkpoint>; finished benchmarks are reused when re-run)")
    p.add_argument("--skip-missing", action="store_true",
                   help="suite: evaluate the benchmarks that are found and mark the others as gaps")
    p.add_argument("--threshold", type=float_at_least(0),
                   help="background threshold (object-only benchmarks; default: the preset's)")
    add_background_words(p)
    p.add_argument("--templates", choices=("groupvit", "tcl"), default="groupvit",
                   help="prompt templates: GroupViT's 'a photo of a {}.' or TCL's 9 (default groupvit)")
    p.add_argument("--pamr", action="store_true", help="refine window scores with PAMR (TCL style)")
    p.add_argument("--mode", choices=("slide", "whole"), help="override the inference mode")
    p.add_argument("--crop", type=int_at_least(1), help="override the sliding-window size")
    p.add_argument("--stride", type=int_at_least(1), help="override the sliding-window stride")
    p.add_argument("--short-side", type=int_at_least(1), help="override the test-time resize (short side)")
    p.add_argument("--gate", choices=GATE_CHOICES,
                   help="what picks the 5 classes a window may use: the image embedding (official; "
                        "the real benchmarks' default) or each class's best group (the synthetic splits' default)")
    p.add_argument("--window-batch", type=int_at_least(1), default=16,
                   help="windows per forward pass (default 16)")
    add_device(p)
    p.set_defaults(func=_eval)
