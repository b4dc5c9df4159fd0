"""CLI commands of the `experiments` stage: ``cocu demo`` and ``cocu experiment``."""

from __future__ import annotations

import argparse
import dataclasses

from cocu.cli.flags import add_device, add_vocab
from cocu.models.objective import OBJECTIVES


def _budget(args: argparse.Namespace):
    from cocu.experiments.pipeline import get_budget

    budget = get_budget(args.budget)
    overrides = {k: v for k, v in (("train_samples", args.train_samples),
                                   ("num_train", args.num_train)) if v is not None}
    if args.train_samples is not None:  # an explicit count holds on every machine
        overrides["fp32_train_samples"] = None
    return dataclasses.replace(budget, **overrides)


def cmd_demo(args: argparse.Namespace) -> int:
    from cocu.experiments.runners import run_demo

    run_demo(args.out, seeds=args.seeds, budget=_budget(args), device=args.device,
             objectives=args.objective or ["grounded"])
    return 0


REAL_FLAGS = ("clip", "data_root", "recipe", "clip_weights", "vocab", "throughput", "benchmarks")


def cmd_real(args: argparse.Namespace) -> int:
    """``cocu experiment ablation|nsweep --shards ... --clip ... --data-root ...`` (real data)."""
    from cocu.errors import CocuError
    from cocu.experiments.plan import make_plan
    from cocu.experiments.real import RealExperiment, ablation_regimes, nsweep_regimes, run_real
    from cocu.experiments.recipe import load_recipe

    for flag in ("clip", "data_root"):
        if not getattr(args, flag):
            raise CocuError(f"real-data experiments need --{flag.replace('_', '-')} "
                            "(with --shards; see `cocu experiment --help`)")
    if args.gpus < 1:
        raise CocuError(f"--gpus must be >= 1, got {args.gpus}")
    if args.throughput is not None and not args.throughput > 0:
        raise CocuError(f"--throughput must be > 0 images/s, got {args.throughput}")
    recipe = load_recipe(args.recipe or "cc3m")
    objectives = args.objective or ["paper"]
    if len(objectives) > 1:
        raise CocuError("real-data experiments train one objective per output folder; give one --objective")
    exp = RealExperiment(args.out, shards=args.shards, clip=args.clip, clip_weights=args.clip_weights,
                         data_root=args.data_root, recipe=recipe, vocab=args.vocab, gpus=args.gpus,
                         device=args.device, skip_missing=args.skip_missing, benchmarks=args.benchmarks,
                         objective=objectives[0])
    neighbours = args.neighbours or ([recipe.neighbours] if args.kind == "ablation" else [8, 16, 32])
    if args.plan:
        regimes = ablation_regimes(neighbours[0]) if args.kind == "ablation" else nsweep_regimes(neighbours)
        plan = make_plan(exp, args.kind, regimes, args.seeds, throughput=args.throughput)
        print(plan.text())
        if not plan.ok:
            raise CocuError(f"the plan found {len(plan.errors)} problem(s) (listed above)")
        return 0
    run_real(args.kind, exp, seeds=args.seeds, neighbours=neighbours)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from cocu.errors import CocuError
    from cocu.experiments.runners import run_ablation, run_main, run_nsweep

    if args.shards:
        if args.kind == "main":
            raise CocuError("experiment main runs on the built-in world; on real data use ablation or nsweep")
        return cmd_real(args)
    given = [f for f in REAL_FLAGS if getattr(args, f, None)] + (["plan"] if args.plan else [])
    if given:
        raise CocuError("--" + ", --".join(g.replace("_", "-") for g in given)
                        + " belong to real-data experiments: add --shards")

    common = dict(seeds=args.seeds, budget=_budget(args), device=args.device,
                  objectives=args.objective or ["grounded"])
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
    p.add_argument("--train-samples", type=int, help="override: images seen per training run (the demo "
                                                      "budget's default: 24000, or 16000 where training runs in fp32)")
    p.add_argument("--num-train", type=int, help="override: synthetic training images")
    add_device(p)
    p.add_argument("--objective", nargs="+", choices=OBJECTIVES, default=None,
                   help="training objective(s): grounded (default on the built-in world; cocu.models.objective) "
                        "and/or paper (GroupViT's; the default on real data, one per output folder)"
                        "; on the built-in world several run side by side, the pictures show the first")


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
                                   "Runs are cached under OUT and resume when re-run. With --shards, "
                                   "--clip and --data-root the ablation and the N sweep run on real data "
                                   "(embed → index → curate → train → the eight benchmarks → table "
                                   "with mean ± std over seeds); --plan checks and estimates first.")
    p.add_argument("kind", choices=("main", "ablation", "nsweep"))
    p.add_argument("--out", default=None, help="output folder (default: experiments/<kind>)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument("--neighbours", type=int, nargs="+", default=None,
                   help="N (ablation: one value, default 8; nsweep: default 8 16 32)")
    _common(p, "demo")
    r = p.add_argument_group("real data (instead of the synthetic world; appendix Tab. 2/3 on the "
                             "eight benchmarks)")
    r.add_argument("--shards", help="training shards in the img2dataset layout (folder, glob or "
                   "brace pattern, e.g. 'cc3m/{00000..00331}.tar')")
    r.add_argument("--clip", help="curator CLIP: a weights file for the recipe's architecture "
                   "(ViT-B-16), an open_clip name with --clip-weights, local-dir:DIR, or a cocu "
                   "small-CLIP checkpoint")
    r.add_argument("--clip-weights", help="open_clip weights file (or already-cached tag) for --clip NAME")
    r.add_argument("--data-root", help="folder holding the eight benchmarks (docs/DATASETS.md)")
    r.add_argument("--recipe", help="training recipe: cc3m (default), "
                   "cc3m_cc12m_yfcc14m, smoke, or a JSON file (configs/recipes/)")
    add_vocab(r)
    r.add_argument("--benchmarks", help="suite or comma list (default: the recipe's, all eight)")
    r.add_argument("--gpus", type=int, default=1,
                   help="processes per training run; > 1 launches torchrun (default 1)")
    r.add_argument("--skip-missing", action="store_true",
                   help="run the benchmarks that are found, mark the missing ones as gaps")
    r.add_argument("--plan", action="store_true",
                   help="dry run: check every input, list the steps and what is done, estimate "
                        "disk and GPU-hours; runs nothing")
    r.add_argument("--throughput", type=float,
                   help="--plan: your measured training images/s per device")
    p.set_defaults(func=_experiment_defaults)


def _experiment_defaults(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = f"experiments/{args.kind}"
    if args.neighbours is None and not args.shards:  # real data: the recipe's N for the ablation
        args.neighbours = [8] if args.kind == "ablation" else [8, 16, 32]
    return cmd_experiment(args)
