"""`cocu demo`, `cocu experiment ablation` and `cocu experiment nsweep`: train, evaluate, report."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cocu.eval.protocol import get_protocol
from cocu.experiments.pipeline import MODEL_OVERRIDES, Budget, SyntheticPipeline, get_budget
from cocu.experiments.regimes import REGIMES, Regime
from cocu.experiments.summary import (METRICS, aggregate, format_rows, markdown_table, paired_difference,
                                      write_tables)
from cocu.utils.io import write_json

log = logging.getLogger(__name__)

MAIN_COLUMNS = ["model", "N", "seeds", "voc mIoU", "ade mIoU", "object IoU", "stuff IoU",
                "gap closed (voc)", "gap closed (ade)", "recall", "recall often", "recall rare"]
DIAG_COLUMNS = ["model", "N", "voc chance", "ade chance", "grouping IoU", "object grouping IoU",
                "naming acc", "object naming", "groups used"]
GATE_COLUMNS = ["model", "N", "voc mIoU", "voc mIoU, image gate", "ade mIoU", "ade mIoU, image gate",
                "object IoU", "object IoU, image gate"]
BACKGROUND_COLUMNS = ["model", "N", "voc mIoU", "voc mIoU, stuff words"]


def _curation_quality(pipe: SyntheticPipeline, regimes: list[Regime], k: int) -> list[dict[str, Any]]:
    """Precision/recall of every curated regime's top-k concepts against the true classes."""
    from cocu.curation.report import load_truth, report_from_sidecars

    curated = [r for r in regimes if r.curated]
    if not curated:
        return []
    vocab = pipe.vocab()
    truth = load_truth(pipe.shards, vocab)  # read the training shards once for every regime
    rows = []
    for regime in curated:
        r = report_from_sidecars(pipe.curation(regime), pipe.shards, vocab, k=k, sampling=regime.sampling,
                                 truth=truth)
        rows.append({"curation": f"{regime.expansion}/{regime.ranking}", "sampling": regime.sampling,
                     "N": regime.neighbours,
                     **{key: r[key] for key in r if isinstance(r[key], (int, float))}})
    return rows


def _label(regime: Regime) -> str:
    """How a regime's model is named in figures."""
    return f"{regime.name} (N={regime.neighbours})" if regime.curated else regime.name


def _load_models(pipe: SyntheticPipeline, regimes: list[Regime], seed: int) -> dict[str, Any]:
    from cocu.models.checkpoint import load_model

    return {_label(r): load_model(pipe.run_dir(r, seed) / "checkpoints" / "last.pt") for r in regimes}


def paired_rows(records: list[dict[str, Any]], regimes: list[Regime]) -> list[dict[str, Any]]:
    """Paired-by-seed differences: every curated regime (each N of a sweep) and the oracle against
    the baseline, per objective, on both splits' mIoU, the object IoU and the VOC-like mIoU with
    stuff words as background."""
    if "baseline" not in {r.name for r in regimes}:
        return []
    compared = [r for r in regimes if r.curated] + [r for r in regimes if r.name == "oracle"]
    several = sum(r.curated for r in compared) > 1
    rows = []
    for objective in dict.fromkeys(r.get("objective", "paper") for r in records):
        for regime in compared:
            label = _label(regime) if several and regime.curated else regime.name
            for metric in ("ade mIoU", "voc mIoU", "object IoU", "voc mIoU, stuff words"):
                d = paired_difference(records, regime.name, "baseline", metric, objective,
                                      neighbours=regime.neighbours if regime.curated else None)
                if d["seeds"]:
                    rows.append(_paired_row(objective, f"{label} − baseline", metric, d))
    return rows


def _paired_row(objective: str, comparison: str, metric: str, d: dict[str, Any]) -> dict[str, Any]:
    """One display row of :func:`paired_rows` from a ``paired_difference`` result."""
    return {"objective": objective, "comparison": comparison, "metric": metric,
            "seeds": len(d["seeds"]), "per seed": ", ".join(f"{v:+.1f}" for v in d["diffs"]),
            "mean ± std": f"{d['mean']:+.1f} ± {d['std']:.1f}",
            "95 % interval": f"[{d['ci95'][0]:+.1f}, {d['ci95'][1]:+.1f}]" if len(d["seeds"]) > 1 else "—",
            "excludes 0": "yes" if d["excludes_zero"] else "no"}


@dataclass
class _Figures:
    """The report's pictures: the mIoU bar chart, the segmentation grid, the heatmaps (or None)."""

    chart: Path
    models: dict[str, Any]  # label → model of the first seed, in the grid's column order
    grid: Path
    heat: dict[str, Any] | None


def build_report(pipe: SyntheticPipeline, title: str, intro: str, regimes: list[Regime],
                 seeds: list[int], records: list[dict[str, Any]], out: Path, name: str,
                 extra_plot: Path | None = None, heatmap_pair: tuple[Regime, Regime] | None = None
                 ) -> dict[str, Any]:
    """Tables (markdown, CSV, JSON), a bar chart, example segmentations and heatmaps → HTML + md."""
    from cocu.viz.report import Report

    rows = aggregate(records)
    tables = write_tables(rows, out, name)
    figs = _draw_figures(pipe, title, rows, regimes, seeds[0], out / f"{name}_figures", heatmap_pair)
    rep = Report(title)
    _add_results(rep, intro, rows, records, regimes, seeds, figs.chart, out / f"{name}_paired.json")
    _add_pictures(rep, figs, extra_plot)
    _add_curation_and_settings(rep, pipe, regimes, records)
    html, md = rep.write(out, name)
    write_json(out / f"{name}_meta.json", {"tables": {k: str(v) for k, v in tables.items()},
                                          "html": str(html), "markdown": str(md),
                                          "heatmaps": figs.heat, "timings": pipe.timings})
    return {"rows": rows, "html": html, "markdown": md, "heatmaps": figs.heat,
            "table": markdown_table(format_rows(rows, MAIN_COLUMNS), MAIN_COLUMNS)}


def _draw_figures(pipe: SyntheticPipeline, title: str, rows: list[dict[str, Any]], regimes: list[Regime],
                  seed: int, figures: Path, heatmap_pair: tuple[Regime, Regime] | None) -> _Figures:
    """The bar chart of ``rows``; the segmentations (and heatmaps) of the models of ``seed``."""
    from cocu.eval.datasets import get_benchmark
    from cocu.experiments.figures import pick_examples, segmentation_grid, uncaptioned_heatmaps
    from cocu.viz.plots import bar_chart

    figures.mkdir(parents=True, exist_ok=True)
    labels = [r["model"] if r["N"] is None else f"{r['model']} N={r['N']}" for r in rows]
    chart = bar_chart(figures / "miou.png", labels,
                      {"VOC-like mIoU": [r["voc mIoU"] for r in rows],
                       "ADE-like mIoU": [r["ade mIoU"] for r in rows]},
                      errors={"VOC-like mIoU": [r["voc mIoU std"] for r in rows],
                              "ADE-like mIoU": [r["ade mIoU std"] for r in rows]},
                      title=title, ylabel="mIoU (%)")
    world = pipe.world_dir
    ade = get_benchmark("ade_like", world)
    models = _load_models(pipe, regimes, seed)
    grid = segmentation_grid(models, ade, pick_examples(ade, world / "world.json", 4),
                             figures / "segmentations.png")
    heat = None
    if heatmap_pair:
        pair = {_label(r): models[_label(r)] for r in heatmap_pair}  # already loaded for the grid
        heat = {**uncaptioned_heatmaps(pair, ade, world / "world.json", pipe.vocab(),
                                       figures / "heatmaps.png"), "models": list(pair)}
    return _Figures(chart, models, grid, heat)


def _add_results(rep: Any, intro: str, rows: list[dict[str, Any]], records: list[dict[str, Any]],
                 regimes: list[Regime], seeds: list[int], chart: Path, paired_json: Path) -> None:
    """The summary table and chart, the paired differences (also written to ``paired_json``), the
    grouping and naming diagnostics."""
    rep.section("Summary").text(intro)
    rep.table(format_rows(rows, MAIN_COLUMNS), MAIN_COLUMNS,
              caption=f"mean ± std over seeds {seeds}; IoU in %; gap closed = "
                      "(model − baseline) / (oracle − baseline)")
    rep.image(chart, "mIoU per model on both synthetic splits")
    paired = paired_rows(records, regimes)
    if paired:
        rep.section("Differences paired by seed").text(
            "Each seed trains every model on the same images in the same order; the difference is "
            "taken per seed, then averaged. The interval is the 95 % Student-t interval of the mean "
            "difference (it needs ≥ 2 seeds).")
        rep.table(paired)
        write_json(paired_json, paired)
    rep.section("Grouping and naming").text(
        "Grouping IoU labels every final group with the majority true class of its pixels "
        "(perfect naming), so it measures grouping alone; naming accuracy is the share of "
        "pixels whose group is given the right class (object naming: the same over groups whose "
        "majority class is an object, since the large stuff regions dominate the pixel count); "
        "groups used counts final groups that win at least one pixel.")
    rep.table(format_rows(rows, DIAG_COLUMNS), DIAG_COLUMNS)
    rep.section("The top-k gate").text(
        "GroupViT's inference lets each image use only 5 classes, the ones its pooled image embedding "
        "ranks highest. The synthetic splits rank the classes by their best group instead (`--gate groups`, "
        "the tables above), because the tiny models' image embeddings rank the present classes poorly "
        "(recall above) and the official gate drops classes that the groups name right. This table puts "
        "the official gate (`--gate image`) beside it.")
    rep.table(format_rows(rows, GATE_COLUMNS), GATE_COLUMNS)
    rep.section("Background on the VOC-like split").text(
        "The VOC-like split has one background class for everything that is not an object. GroupViT's "
        "protocol calls a pixel background when its best class score is below min(0.95, the image's best "
        "score), so an image where no group reaches 0.95 keeps only its single best group as foreground. "
        "The second column instead segments the world's stuff names beside the objects (`--background-words`, "
        "no threshold) and counts their pixels as background: it rewards a model that knows what the "
        "things around the objects are, which is what the gap captions leave out.")
    rep.table(format_rows(rows, BACKGROUND_COLUMNS), BACKGROUND_COLUMNS)


def _add_pictures(rep: Any, figs: _Figures, extra_plot: Path | None) -> None:
    """The extra plot (mIoU against N), the example segmentations, the activation maps."""
    if extra_plot:
        rep.image(extra_plot, "mIoU against N")
    rep.section("Example segmentations").text(
        "Columns: image, ground truth, then " + ", ".join(figs.models) + ". Validation images that "
        "contain a rarely captioned object.")
    rep.image(figs.grid, "ADE-like split (objects + stuff)")
    if figs.heat:
        rep.section("Activation maps of rarely captioned concepts").text(
            "Each row is a model, each column a concept and its synonyms (paper Fig. 2–3). "
            "Region contrast = mean activation inside the concept's true region minus outside; "
            "synonym consistency = mean Pearson r between synonyms' maps (compare with the "
            "'other r' level between unrelated concepts).")
        rep.image(figs.heat["path"], " vs ".join(figs.heat["models"]))
        rep.table(figs.heat["scores"])


def _add_curation_and_settings(rep: Any, pipe: SyntheticPipeline, regimes: list[Regime],
                               records: list[dict[str, Any]]) -> None:
    """The curated concepts' precision/recall, the settings, the wall time of the steps run."""
    quality = _curation_quality(pipe, regimes, pipe.budget.multi_label)
    if quality:
        rep.section("Curation quality").text(
            f"Top-{pipe.budget.multi_label} curated concepts of every training image against its "
            "true classes; 'omitted' = classes the caption left out. The drawn_ columns score the "
            f"{pipe.budget.multi_label} concepts the regime's sampler draws for a training step (three seeded "
            "draws per image; drawn_distinct: distinct concepts per draw, as cluster sampling draws with "
            "replacement).")
        rep.table(quality)
    rep.section("Settings and timings")
    objectives = list(dict.fromkeys(r.get("objective", "paper") for r in records))
    settings = {**asdict(pipe.budget), "objectives": ", ".join(objectives),
                **{f"objective {o}": _objective_terms(o) for o in objectives},
                "figures from objective": pipe.objective,
                "amp": pipe.amp, "model": "groupvit_tiny", "training preset": "tiny",
                **{f"model overrides, {o}": _overrides(o) for o in objectives},
                "top-k gate (zero-shot)": f"{get_protocol('synthetic_ade').gate} (the official 'image' gate: "
                                          "table 'The top-k gate')"}
    rep.table([{"setting": k, "value": v} for k, v in settings.items()])
    if pipe.timings:  # empty when every step came from the cache
        rep.table([{"step": k, "seconds": round(v, 1)} for k, v in pipe.timings.items()],
                  caption="wall time of the steps run by this invocation")


def _overrides(objective: str) -> str:
    """The model settings ``objective``'s runs train with beyond the preset (``MODEL_OVERRIDES``)."""
    return ", ".join(f"{k} = {v}" for k, v in MODEL_OVERRIDES.get(objective, {}).items()) or "none (official)"


def _objective_terms(name: str) -> str:
    """``grounding_weight 3.0, …`` for the report: the terms an objective trained with."""
    from cocu.models.objective import Objective

    terms = {k: v for k, v in Objective(name).settings().items() if k != "objective"}
    return ", ".join(f"{k} {v}" for k, v in terms.items()) or "the paper's caption + multi-label losses"


def run_experiment(out: str | Path, regimes: list[Regime], seeds: list[int], budget: Budget, *,
                   name: str, title: str, intro: str, device: str = "auto", amp: str = "auto",
                   objectives: list[str] | None = None, nsweep: bool = False) -> dict[str, Any]:
    """Train and evaluate ``regimes`` × ``seeds`` × ``objectives`` on the synthetic world; write the
    report (its pictures show the models of the first objective)."""
    out = Path(out)
    start = time.perf_counter()
    objectives = list(dict.fromkeys(objectives or ["grounded"]))
    pipes = [SyntheticPipeline(out, budget, device=device, amp=amp, objective=o) for o in objectives]
    records = [rec for pipe in pipes for rec in pipe.run_all(regimes, seeds)]
    pipe = pipes[0]
    for other in pipes[1:]:
        pipe.timings.update(other.timings)
    plot = _nsweep_plot(records, out / f"{name}_figures") if nsweep else None
    cocu = next((r for r in regimes if r.curated), None)
    result = build_report(pipe, title, intro, regimes, seeds, records, out, name, extra_plot=plot,
                          heatmap_pair=(REGIMES["baseline"], cocu) if cocu else None)
    result["wall_s"] = time.perf_counter() - start
    print(result["table"])
    print(f"\nreport: {result['html']}\n        {result['markdown']}  "
          f"({result['wall_s'] / 60:.1f} min)")
    return result


def _nsweep_plot(records: list[dict[str, Any]], folder: Path) -> Path:
    from cocu.viz.plots import line_plot

    rows = aggregate(records)
    curated = [r for r in rows if r["N"] is not None]
    base = next((r for r in rows if r["regime"] == "baseline"), None)
    folder.mkdir(parents=True, exist_ok=True)
    return line_plot(folder / "nsweep.png", [r["N"] for r in curated],
                     {"VOC-like": [r["voc mIoU"] for r in curated],
                      "ADE-like": [r["ade mIoU"] for r in curated]},
                     errors={"VOC-like": [r["voc mIoU std"] for r in curated],
                             "ADE-like": [r["ade mIoU std"] for r in curated]},
                     title="CoCu: retrieved image-text pairs N", xlabel="N", ylabel="mIoU (%)",
                     hlines={"baseline VOC": base["voc mIoU"], "baseline ADE": base["ade mIoU"]}
                     if base else None, logx=True)


DEMO_INTRO = (
    "The built-in synthetic semantic-gap world: captions name the salient object and rarely "
    "anything else. Three GroupViTs train on the same images for the same number of steps: "
    "the **baseline** (prompts from the caption's own concepts, as GroupViT), **CoCu** "
    "(curated concepts: vision-driven expansion, text-to-vision-guided ranking, cluster-guided "
    "sampling) and the **oracle** (every true class as a prompt, the ceiling curation aims at).")


def run_demo(out: str | Path = "demo_out", *, seeds: list[int] | None = None,
             budget: Budget | None = None, device: str = "auto",
             objectives: list[str] | None = None) -> dict[str, Any]:
    """The demo: baseline, CoCu (#4) and oracle on the synthetic world, with a report.

    Where training runs in fp32 (no native bf16) the budget's ``fp32_train_samples`` replaces its
    ``train_samples`` (the demo's 20 minutes); ``cocu experiment`` keeps ``train_samples``.
    """
    from cocu.utils.device import auto_amp

    amp = auto_amp(device)
    budget = budget or get_budget("demo")
    demo_budget = budget.for_amp(amp)
    if demo_budget.train_samples != budget.train_samples:
        log.info("training runs in fp32 here (no native bf16): %d samples per model instead of %d, to keep "
                 "the demo near 20 minutes (--train-samples to choose)", demo_budget.train_samples,
                 budget.train_samples)
    regimes = [REGIMES["baseline"], REGIMES["cocu"], REGIMES["oracle"]]
    return run_experiment(out, regimes, seeds or [0], demo_budget, name="report",
                          title="cocu demo: baseline vs CoCu vs oracle", intro=DEMO_INTRO,
                          device=device, amp=amp, objectives=objectives)


def run_main(out: str | Path, *, seeds: list[int], budget: Budget, device: str = "auto",
             objectives: list[str] | None = None) -> dict[str, Any]:
    """The demo's three models (baseline, CoCu, oracle) over several seeds, with paired differences."""
    regimes = [REGIMES["baseline"], REGIMES["cocu"], REGIMES["oracle"]]
    return run_experiment(out, regimes, seeds, budget, name="main", intro=DEMO_INTRO,
                          title="Baseline vs CoCu vs oracle over seeds", device=device,
                          objectives=objectives)


def run_ablation(out: str | Path, *, seeds: list[int], budget: Budget, neighbours: int = 8,
                 device: str = "auto", objectives: list[str] | None = None) -> dict[str, Any]:
    """Appendix Tab. 2: Baseline, #1–#4 and the oracle."""
    regimes = [REGIMES["baseline"]] + [REGIMES[k].with_neighbours(neighbours)
                                       for k in ("#1", "#2", "#3", "#4")] + [REGIMES["oracle"]]
    intro = ("Ablation of the curation modules (appendix Tab. 2) on the synthetic world: "
             "#1 = ①③⑤, #2 = ②③⑤, #3 = ②④⑤, #4 = ②④⑥; the paper's order is "
             "Baseline < #1 < #2 < #3 < #4.")
    return run_experiment(out, regimes, seeds, budget, name="ablation", intro=intro,
                          title="Ablation: Baseline, #1–#4, oracle", device=device, objectives=objectives)


def run_nsweep(out: str | Path, *, neighbours: list[int], seeds: list[int], budget: Budget,
               device: str = "auto", objectives: list[str] | None = None) -> dict[str, Any]:
    """Appendix Tab. 3: CoCu (#4) with N retrieved image-text pairs, against the baseline."""
    regimes = ([REGIMES["baseline"]] + [REGIMES["#4"].with_neighbours(n) for n in neighbours]
               + [REGIMES["oracle"]])
    intro = ("CoCu (#4) with N retrieved image–text pairs (appendix Tab. 3; the paper on CC3M: "
             "8.2 GroupViT, 10.5 / 12.9 / 13.1 for N = 8 / 16 / 32, average mIoU).")
    return run_experiment(out, regimes, seeds, budget, name="nsweep", intro=intro, nsweep=True,
                          title="N sweep: retrieved image-text pairs", device=device, objectives=objectives)


def load_records(out: str | Path) -> list[dict[str, Any]]:
    """All evaluation records written under ``out/evals``."""
    return [json.loads(p.read_text()) for p in sorted(Path(out, "evals").glob("*.json"))]


__all__ = ["run_demo", "run_main", "run_ablation", "run_nsweep", "run_experiment", "load_records", "METRICS"]
