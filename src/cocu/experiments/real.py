"""The paper's experiments on real data: ablation (appendix Tab. 2) and N sweep (Tab. 3).

``RealExperiment(out, shards=..., clip=..., data_root=..., recipe=...)`` chains the existing
stages under one folder, each step cached::

    out/vocab.txt                      the vocabulary curation and training share
    out/emb/                           cocu embed (CLIP image + caption embeddings), done.json
    out/emb/index_{img,text}.faiss     cocu index
    out/curation/<exp>-<rank>-n<N>/    cocu curate, once per (expansion, ranking, N), shared by models
    out/runs/<model>-s<seed>/          cocu train (torchrun when --gpus > 1), resumes from its checkpoint
    out/evals/<model>-s<seed>/         the eight benchmarks (cocu.eval.suite), cached per benchmark
    out/<kind>.{md,csv,json}           the table: mean ± std over seeds per benchmark and the average

Embedding and curation skip finished shards, training resumes from its latest checkpoint and
evaluation from its last finished benchmark, so a killed experiment continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cocu.data.shards import shard_stem
from cocu.errors import CocuError
from cocu.experiments.pipeline import ExperimentLayout
from cocu.experiments.recipe import Recipe
from cocu.experiments.regimes import REGIMES, Regime
from cocu.utils.io import write_json

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def ablation_regimes(neighbours: int) -> list[Regime]:
    """Baseline and #1–#4 (no oracle on real data: no true classes)."""
    return [REGIMES["baseline"]] + [REGIMES[k].with_neighbours(neighbours) for k in ("#1", "#2", "#3", "#4")]


def nsweep_regimes(neighbours: list[int]) -> list[Regime]:
    """Baseline and CoCu (#4) for every N."""
    return [REGIMES["baseline"]] + [REGIMES["cocu"].with_neighbours(n) for n in neighbours]


def label(regime: Regime) -> str:
    """A model's name in the tables (GroupViT for the baseline and CoCu, as the paper)."""
    return {"baseline": "GroupViT", "cocu": "CoCu"}.get(regime.name, regime.name)


def _is_small_clip(path: Path) -> bool:
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - not a torch zip file: a weights file of another format
        return False
    return isinstance(ckpt, dict) and "cocu_small_clip" in ckpt


def resolve_clip(spec: str, weights: str | None, default_model: str) -> tuple[str, str | None]:
    """``(model, pretrained)`` for :func:`cocu.curation.encoder.load_clip` from ``--clip`` and
    ``--clip-weights``: an open_clip name + a weights file (or cached tag), a weights file alone
    (the recipe's architecture, ``default_model``), ``local-dir:DIR`` or a cocu small-CLIP file."""
    if weights:
        if Path(weights).suffix in WEIGHT_SUFFIXES and not Path(weights).is_file():
            raise CocuError(f"--clip-weights {weights}: file not found")
        return spec, weights
    if spec.startswith("local-dir:"):
        return spec, None
    p = Path(spec).expanduser()
    if p.is_file():
        return (str(p), None) if _is_small_clip(p) else (default_model, str(p))
    if p.suffix in WEIGHT_SUFFIXES or "/" in spec:
        raise CocuError(f"--clip {spec}: file not found")
    raise CocuError(f"--clip {spec} names an architecture without weights: add --clip-weights FILE "
                    "(or give the weights file itself as --clip)")


class RealExperiment(ExperimentLayout):
    """Cached steps from webdataset shards to the eight-benchmark tables (see module docstring)."""

    def __init__(self, out: str | Path, *, shards: str, clip: str, data_root: str | Path,
                 recipe: Recipe, clip_weights: str | None = None, vocab: str | None = None,
                 gpus: int = 1, device: str = "auto", skip_missing: bool = False,
                 benchmarks: str | None = None, objective: str = "paper") -> None:
        from cocu.eval.suite import SuiteSettings, resolve_suite
        from cocu.models.objective import Objective

        self.root = Path(out)
        if self.root.exists() and not self.root.is_dir():
            raise CocuError(f"--out {self.root} exists and is not a folder")
        self.shards = shards
        self.recipe = recipe
        self.clip_spec, self.clip_weights = clip, clip_weights  # checked when first needed (plan: all at once)
        self.data_root = Path(data_root)
        self.vocab_file = vocab
        self.gpus = gpus
        self.device = device
        self.skip_missing = skip_missing
        self.benchmarks = resolve_suite(benchmarks or recipe.benchmarks)
        self.objective = Objective(objective).name  # validated; "paper" reproduces the paper
        self.eval_settings = SuiteSettings.from_dict(recipe.eval)
        self.per_process, self.grad_chunk = recipe.batch_plan(gpus)
        self.timings: dict[str, float] = {}
        self._encoder = None
        self._vocab = None

    # ------------------------------------------------------------------ paths
    @property
    def vocab_path(self) -> Path:
        return Path(self.vocab_file) if self.vocab_file else self.root / "vocab.txt"

    def eval_dir(self, regime: Regime, seed: int) -> Path:
        return self.root / "evals" / f"{self.run_key(regime)}-s{seed}"

    def checkpoint(self, regime: Regime, seed: int) -> Path:
        return self.run_dir(regime, seed) / "checkpoints" / "last.pt"

    # ------------------------------------------------------------------ done markers
    def embeddings_done(self) -> bool:
        """Every shard of ``--shards`` embedded (a changed shard list is embedded further)."""
        done = self.emb_dir / "done.json"
        if not done.is_file():
            return False
        return json.loads(done.read_text(encoding="utf-8")).get("stems") == self._stems()

    def _stems(self) -> list[str]:
        return [shard_stem(s) for s in self.shard_list()]

    def curation_done(self, regime: Regime) -> bool:
        return (self.curation_dir(regime) / "done.json").is_file()

    def train_done(self, regime: Regime, seed: int) -> bool:
        summary = self.run_dir(regime, seed) / "summary.json"
        if not summary.is_file() or not self.checkpoint(regime, seed).is_file():
            return False
        s = json.loads(summary.read_text(encoding="utf-8"))
        return s["steps"] >= s["total_steps"]

    # ------------------------------------------------------------------ helpers
    def _timed(self, name: str, start: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def vocab(self):
        if self._vocab is None:
            from cocu.data.vocab import resolve_vocabulary

            self._vocab = resolve_vocabulary(self.vocab_file)
        return self._vocab

    def write_vocab(self) -> None:
        """Save the shipped vocabulary as OUT/vocab.txt (training reads the file) when none is given."""
        if not self.vocab_file and not self.vocab_path.is_file():
            self.vocab().write(self.vocab_path)

    def clip_source(self) -> tuple[str, str | None]:
        """``(model, pretrained)`` of the curator CLIP (see :func:`resolve_clip`)."""
        return resolve_clip(self.clip_spec, self.clip_weights, self.recipe.clip["model"])

    def encoder(self):
        if self._encoder is None:
            from cocu.curation.encoder import load_clip
            from cocu.utils.device import resolve_device

            self._encoder = load_clip(*self.clip_source(), str(resolve_device(self.device)))
            self._encoder.batch_size = int(self.recipe.clip.get("batch_size", 256))
        return self._encoder

    def shard_list(self) -> list[Path]:
        from cocu.data.shards import list_shards

        return list_shards(self.shards)

    # ------------------------------------------------------------------ steps
    def embeddings(self) -> Path:
        """CLIP image + caption embeddings of every shard (skips finished shards)."""
        if self.embeddings_done():
            return self.emb_dir
        from cocu.curation.embed import embed_shards

        start = time.perf_counter()
        shards = self.shard_list()
        self.write_vocab()
        r = embed_shards(shards, self.emb_dir, self.encoder(), captions=True, vocab=self.vocab(),
                         batch_size=self.encoder().batch_size)
        write_json(self.emb_dir / "done.json", {"stems": self._stems(), "embedded_now": len(r.done),
                                                "samples_now": r.samples, "corrupt_now": r.corrupt})
        self._timed("embed", start)
        return self.emb_dir

    def index(self, modality: str) -> Path:
        """FAISS index over the image (② vision expansion) or caption (① language) embeddings."""
        path = self.index_path(modality)
        if path.is_file() and Path(str(path) + ".json").is_file():
            return path
        from cocu.curation.index import build_index

        self.embeddings()
        start = time.perf_counter()
        build_index(self.emb_dir, path, modality=modality,
                    factory=self.recipe.curation.get("index", "auto"))
        self._timed(f"index {modality}", start)
        return path

    def curation(self, regime: Regime) -> Path:
        """Curation sidecars for ``regime``'s expansion, ranking and N (clusters included)."""
        out = self.curation_dir(regime)
        if self.curation_done(regime):
            return out
        from cocu.curation.curate import CurateSettings, curate

        settings = CurateSettings(expansion=regime.expansion or "vision", ranking=regime.ranking or "t2v",
                                  neighbours=regime.neighbours, clusters=True,
                                  exclude_anchor=bool(self.recipe.curation.get("exclude_anchor", False)),
                                  prompt=self.recipe.curation.get("prompt", "canonical"))
        index = self.index("img" if settings.expansion == "vision" else "text")
        start = time.perf_counter()
        curate(self.emb_dir, index, out, self.vocab(), settings, encoder=self.encoder())
        write_json(out / "done.json", asdict(settings))
        self._timed(f"curate {regime.curation_key}", start)
        return out

    def train_config(self, regime: Regime, seed: int):
        """The TrainConfig of one model: the recipe's ``train`` plus prompts, batch plan, seed."""
        from cocu.train.config import make_config

        return make_config(
            None, **{**self.recipe.train, "shards": self.shards, "out": str(self.run_dir(regime, seed)),
                     "prompts": regime.prompts, "sampling": regime.sampling,
                     "curation": str(self.curation_dir(regime)) if regime.curated else None,
                     "vocab": str(self.vocab_path), "batch_size": self.per_process,
                     "grad_cache_chunk": self.grad_chunk, "seed": seed, "device": self.device,
                     "objective": self.objective, "resume": "auto"})

    def torchrun_command(self, config_path: Path) -> list[str]:
        """``torchrun --standalone --nproc-per-node G -m cocu train --preset RUN/train_config.json``."""
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={self.gpus}", "-m", "cocu", "train", "--preset", str(config_path),
                "--shards", self.shards, "--out", str(config_path.parent)]

    def train(self, regime: Regime, seed: int) -> Path:
        """Train one model (resumes an interrupted run)."""
        run = self.run_dir(regime, seed)
        if self.train_done(regime, seed):
            return run
        self.write_vocab()
        if regime.curated:
            self.curation(regime)
        cfg = self.train_config(regime, seed)
        cfg.validate()
        start = time.perf_counter()
        log.info("training %s seed %d (%s)", regime.name, seed, self.recipe.describe_batch(self.gpus))
        if self.gpus > 1:
            config_path = run / "train_config.json"
            write_json(config_path, cfg.to_dict())
            cmd = self.torchrun_command(config_path)
            log.info("running %s", shlex.join(cmd))
            rc = subprocess.run(cmd, check=False).returncode
            if rc != 0:
                raise CocuError(f"training {run} under torchrun failed (exit {rc}); re-run to resume")
        else:
            from cocu.train.loop import train

            train(cfg)
        self._timed(f"train {run.name}", start)
        if not self.train_done(regime, seed):
            raise CocuError(f"training {run} stopped before its last step; re-run to resume")
        return run

    def evaluate(self, regime: Regime, seed: int):
        """The suite on one trained model (cached per benchmark)."""
        from cocu.eval.suite import evaluate_suite

        self.train(regime, seed)
        start = time.perf_counter()
        res = evaluate_suite(self.checkpoint(regime, seed), self.benchmarks, self.data_root,
                             self.eval_dir(regime, seed), settings=self.eval_settings,
                             skip_missing=self.skip_missing, device=self.device,
                             label=f"{label(regime)} s{seed}")
        if len(res.cached) < len(res.results):
            self._timed(f"eval {self.eval_dir(regime, seed).name}", start)
        return res

    def check_benchmarks(self) -> dict[str, str]:
        """Missing benchmarks (CocuError naming all of them unless ``skip_missing``)."""
        from cocu.eval.suite import locate, missing_message

        _, missing = locate(self.benchmarks, self.data_root)
        if missing and not self.skip_missing:
            raise CocuError(missing_message(missing, self.data_root))
        return missing

    def run(self, regimes: list[Regime], seeds: list[int]) -> dict[str, list]:
        """Every step for ``regimes`` × ``seeds``: curations first (shared), then per seed and
        model train → evaluate. Returns ``{label: [SuiteResult per seed]}``."""
        self.check_benchmarks()
        self.embeddings()
        for regime in regimes:
            if regime.curated:
                self.curation(regime)
        results: dict[str, list] = {}
        for seed in seeds:
            for regime in regimes:
                results.setdefault(row_label(regime), []).append(self.evaluate(regime, seed))
        return results


def row_label(regime: Regime) -> str:
    return f"{label(regime)} (N={regime.neighbours})" if regime.curated else label(regime)


def seed_rows(results: dict[str, list], regimes: list[Regime], names: list[str]) -> list[dict[str, Any]]:
    """Table rows: per model, mean ± sample std over seeds of each benchmark's mIoU and of the
    per-seed average (``cocu.experiments.summary.mean_std``)."""
    from cocu.eval.suite import AVERAGE, average, column
    from cocu.experiments.summary import mean_std

    by_label = {row_label(r): r for r in regimes}
    rows = []
    for lab, runs in results.items():
        regime = by_label[lab]
        per_run = [r.miou() for r in runs]
        row: dict[str, Any] = {"model": label(regime),
                               "modules": regime.description.split(" ")[0] if regime.curated else "—",
                               "N": regime.neighbours if regime.curated else None, "seeds": len(runs)}
        for name in names:
            row[column(name)], row[column(name) + " std"] = mean_std(
                [m.get(name, math.nan) for m in per_run])
        avgs = [average(m, names) for m in per_run]
        row[AVERAGE], row[AVERAGE + " std"] = mean_std([a for a, _ in avgs])
        row["averaged"] = min(n for _, n in avgs)
        rows.append(row)
    return rows


def write_experiment_tables(exp: RealExperiment, kind: str, regimes: list[Regime], seeds: list[int],
                            results: dict[str, list]) -> dict[str, Any]:
    """``OUT/<kind>.{md,csv,json}`` plus the settings beside them."""
    from cocu.eval.suite import markdown, write_suite_tables

    rows = seed_rows(results, regimes, exp.benchmarks)
    lead = ("model", "modules", "N") if kind == "ablation" else ("model", "N")
    paths = write_suite_tables(rows, exp.benchmarks, exp.root, kind, lead=lead)
    write_json(exp.root / f"{kind}_settings.json", {
        "recipe": exp.recipe.name, "recipe_comment": exp.recipe.comment, "shards": exp.shards,
        "clip": list(exp.clip_source()), "data_root": str(exp.data_root),
        "seeds": seeds, "batch": exp.recipe.describe_batch(exp.gpus),
        "eval": asdict(exp.eval_settings), "timings_s": {k: round(v, 1) for k, v in exp.timings.items()}})
    return {"rows": rows, "table": markdown(rows, exp.benchmarks, lead), "paths": paths}


PAPER_NOTE = {
    "ablation": "appendix Tab. 2 modules: #1 = ①③⑤, #2 = ②③⑤, #3 = ②④⑤, #4 = ②④⑥ (CoCu)",
    "nsweep": "appendix Tab. 3 on CC3M (average mIoU): GroupViT 8.2, CoCu 10.5 / 12.9 / 13.1 "
              "for N = 8 / 16 / 32",
}


def run_real(kind: str, exp: RealExperiment, *, seeds: list[int], neighbours: list[int]) -> dict[str, Any]:
    """Run the ablation (one N) or the N sweep on real data and write its table."""
    regimes = ablation_regimes(neighbours[0]) if kind == "ablation" else nsweep_regimes(neighbours)
    start = time.perf_counter()
    results = exp.run(regimes, seeds)
    out = write_experiment_tables(exp, kind, regimes, seeds, results)
    out["wall_s"] = time.perf_counter() - start
    print(out["table"])
    print(f"\n({PAPER_NOTE[kind]})\nwrote {out['paths']['markdown']}, .csv, .json "
          f"({out['wall_s'] / 60:.1f} min)")
    return out
