"""CLI commands of the `experiments` stage: ``cocu demo`` and ``cocu experiment``."""

from __future__ import annotations

import argparse
import dataclasses


def _budget(args: argparse.Namespace):
    from cocu.experiments.pipeline import get_budget

    budget = get_budget(args.budget)
    overrides = {k: v for k, v in (("train_samples", args.train_samples),
                                   ("num_train", args.num_train)) if v is not None}
    return dataclasses.replace(budget, **overrides)


def cmd_demo(args: argparse.Namespace) -> int:
    from cocu.experiments.runners import run_demo

    run_demo(args.out, seeds=args.seeds, budget=_budget(args), device=args.device, objectives=args.objective)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from cocu.experiments.runners import run_ablation, run_main, run_nsweep

    common = dict(seeds=args.seeds, budget=_budget(args), device=args.device, objectives=args.objective)
    if args.kind == "ablation":
        run_ablation(args.out, neighbours=args.neighbours[0], **common)
    elif args.kind == "main":
        run_main(args.out, **common)
    else:
        run_nsweep(args.out, neighbours=args.neighbours, **common)
    return 0


def _common(p: argparse.ArgumentParser, budget: str) -> None:
    p.add_argument("--budget", default=budget, choices=("demo", "experiment", "smoke"),
                   help=f"data/compute preset per model (default: {budget})")
    p.add_argument("--train-samples", type=int, help="override: images seen per training run")
    p.add_argument("--num-train", type=int, help="override: synthetic training images")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--objective", nargs="+", choices=("grounded", "paper"), default=["grounded"],
                   help="training objective(s): grounded (default; cocu.models.objective) and/or paper "
                        "(GroupViT's); several run side by side, the pictures show the first")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` and ``experiment`` to ``sub``."""
    p = sub.add_parser("demo", help="the whole pipeline on the built-in synthetic world, with a report",
                       description="Synthesise the world, train the small CLIP, curate concepts, "
                                   "train baseline / CoCu / oracle GroupViTs on the same budget, "
                                   "evaluate both synthetic splits and write OUT/report.html + .md. "
                                   "Re-running resumes: finished steps are skipped.")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default: 0)")
    _common(p, "demo")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("experiment", help="baseline vs CoCu vs oracle over seeds, the ablation (Baseline, "
                                          "#1-#4) or the N sweep",
                       description="main: baseline, CoCu (#4) and oracle with paired-by-seed differences; "
                                   "ablation: Baseline, #1 = ①③⑤, #2 = ②③⑤, #3 = ②④⑤, "
                                   "#4 = ②④⑥ and the oracle; nsweep: CoCu with N = 8 16 32. "
                                   "Runs are cached under OUT and resume when re-run.")
    p.add_argument("kind", choices=("main", "ablation", "nsweep"))
    p.add_argument("--out", default=None, help="output folder (default: experiments/<kind>)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument("--neighbours", type=int, nargs="+", default=None,
                   help="N (ablation: one value, default 8; nsweep: default 8 16 32)")
    _common(p, "demo")
    p.set_defaults(func=_experiment_defaults)


def _experiment_defaults(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = f"experiments/{args.kind}"
    if args.neighbours is None:
        args.neighbours = [8] if args.kind == "ablation" else [8, 16, 32]
    return cmd_experiment(args)
