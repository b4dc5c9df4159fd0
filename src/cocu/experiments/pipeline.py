"""The whole pipeline on the synthetic world, one cached step at a time.

``SyntheticPipeline(root, budget)`` lays out::

    root/world/            cocu synth (train shards, voc_like/, ade_like/, vocab.txt, world.json)
    root/clip/clip.pt      the small CLIP trained on complete captions (the curator)
    root/emb/              image + caption embeddings, img/text FAISS indexes
    root/curation/<key>/   curation sidecars per (expansion, ranking, N)
    root/runs/<regime>-s<seed>/   GroupViT training runs
    root/evals/<regime>-s<seed>.json  evaluation of a run on both synthetic splits

Every step returns at once when its output already exists, so an interrupted experiment
resumes where it stopped (training runs resume from their last checkpoint).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cocu.errors import CocuError
from cocu.experiments.regimes import Regime
from cocu.utils.io import write_json

if TYPE_CHECKING:
    from cocu.train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """How much data and compute one experiment spends (per trained model)."""

    num_train: int = 20000       # synthetic training images
    num_val: int = 300           # synthetic validation images (both splits)
    train_samples: int = 24000   # images seen per GroupViT training run
    clip_steps: int = 300        # small-CLIP training steps
    batch_size: int = 64
    multi_label: int = 3         # K prompts per image
    warmup_fraction: float = 0.1  # share of the training steps spent warming up
    workers: int = 2             # data-loading processes
    # `cocu demo` only: images seen per run where training runs in fp32 (no native bf16), so that
    # the demo stays within its 20 minutes on such CPUs (None: train_samples everywhere)
    fp32_train_samples: int | None = None

    def scaled(self, factor: float) -> Budget:
        """The same budget with ``factor`` × the training samples."""
        fp32 = None if self.fp32_train_samples is None else int(self.fp32_train_samples * factor)
        return replace(self, train_samples=int(self.train_samples * factor), fp32_train_samples=fp32)

    def for_amp(self, amp: str) -> Budget:
        """The budget the demo spends where training runs at ``amp`` (``none`` = fp32: ``fp32_train_samples``)."""
        if amp == "none" and self.fp32_train_samples is not None:
            return replace(self, train_samples=self.fp32_train_samples)
        return self


BUDGETS: dict[str, Budget] = {
    # fits `make demo` (3 models + curation) in 20 minutes on 2 CPU cores: 24k samples per model
    # with bf16 autocast, 16k in fp32 (docs/STUDY.md, stop 19)
    "demo": Budget(fp32_train_samples=16000),
    # about an hour per model on 2 CPU cores
    "experiment": Budget(num_train=40000, num_val=500, train_samples=320000, clip_steps=1500),
    # a few seconds per step: tests and smoke runs
    "smoke": Budget(num_train=256, num_val=16, train_samples=128, clip_steps=10, batch_size=16,
                    workers=0),
}

#: The model each objective trains here (docs/STUDY.md, stops 15–17): the grounded recipe takes its
#: per-group features from the groups' own pixels and ends in 8 groups instead of the tiny preset's 4
#: (room for the small objects); the paper's objective trains the official tiny model.
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "paper": {},
    "grounded": {"isolated_groups": "region_local", "num_group_tokens": [16, 8, 0], "num_output_groups": [16, 8]},
}


def get_budget(name: str) -> Budget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise CocuError(f"unknown budget {name!r}; known: {', '.join(BUDGETS)}") from None


class ExperimentLayout:
    """The folder layout both experiment drivers share (``root`` and ``objective`` set by the
    subclass)::

    root/emb/index_<modality>.faiss, root/curation/<expansion-ranking-nN>/,
    root/runs/<run key>-s<seed>/ (run key: the regime's, plus ``-<objective>`` unless the paper's)
    """

    root: Path
    objective: str = "paper"

    def run_key(self, regime: Regime) -> str:
        """What is trained: the regime's prompts, plus the objective unless it is the paper's."""
        return regime.run_key + ("" if self.objective == "paper" else f"-{self.objective}")

    def run_dir(self, regime: Regime, seed: int) -> Path:
        return self.root / "runs" / f"{self.run_key(regime)}-s{seed}"

    @property
    def emb_dir(self) -> Path:
        return self.root / "emb"

    def index_path(self, modality: str) -> Path:
        return self.emb_dir / f"index_{modality}.faiss"

    def curation_dir(self, regime: Regime) -> Path:
        return self.root / "curation" / regime.curation_key


class SyntheticPipeline(ExperimentLayout):
    """Cached steps from synthetic world to evaluated GroupViT runs (see module docstring)."""

    def __init__(self, root: str | Path, budget: Budget, *, world_seed: int = 0,
                 device: str = "auto", amp: str = "auto", objective: str = "grounded") -> None:
        from cocu.models.objective import Objective
        from cocu.utils.device import auto_amp

        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise CocuError(f"output folder {self.root} exists and is not a folder")
        self.budget = budget
        self.world_seed = world_seed
        self.device = device
        self.amp = auto_amp(device) if amp == "auto" else amp
        self.objective_settings = Objective(objective).settings()  # validated
        self.objective = objective
        self.model_overrides = MODEL_OVERRIDES[objective]
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ paths
    @property
    def world_dir(self) -> Path:
        return self.root / "world"

    @property
    def shards(self) -> str:
        return str(self.world_dir / "train")

    @property
    def vocab_path(self) -> Path:
        return self.world_dir / "vocab.txt"

    @property
    def clip_path(self) -> Path:
        return self.root / "clip" / "clip.pt"

    def eval_path(self, regime: Regime, seed: int) -> Path:
        return self.root / "evals" / f"{self.run_key(regime)}-s{seed}.json"

    def _timed(self, name: str, start: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def vocab(self):
        from cocu.data.vocab import Vocabulary

        return Vocabulary.from_file(self.vocab_path)

    # ------------------------------------------------------------------ steps
    def world(self) -> Path:
        """The synthetic world (``cocu synth``)."""
        if (self.world_dir / "world.json").exists():
            return self.world_dir
        from cocu.data.synth import generate_world

        start = time.perf_counter()
        log.info("synthesising %d training images", self.budget.num_train)
        generate_world(self.world_dir, seed=self.world_seed, num_train=self.budget.num_train,
                       num_val=self.budget.num_val, workers=max(1, self.budget.workers),
                       overwrite=True)
        self._timed("synth", start)
        return self.world_dir

    def clip(self) -> Path:
        """The small CLIP that stands in for web-scale CLIP (trained on complete captions)."""
        if self.clip_path.exists():
            return self.clip_path
        from cocu.curation.small_clip import train_clip
        from cocu.data.shards import list_shards

        self.world()
        start = time.perf_counter()
        log.info("training the small CLIP (%d steps)", self.budget.clip_steps)
        result = train_clip(list_shards(self.shards), self.clip_path, steps=self.budget.clip_steps,
                            seed=self.world_seed)
        write_json(self.clip_path.with_suffix(".json"),
                   {"steps": result.steps, "seconds": result.seconds, "loss": result.loss,
                    "eval": result.eval})
        self._timed("clip", start)
        return self.clip_path

    def embeddings(self) -> Path:
        """Image and caption embeddings of the training shards, and both FAISS indexes."""
        done = all(self.index_path(m).exists() for m in ("img", "text"))
        if done:
            return self.emb_dir
        from cocu.curation.encoder import load_clip
        from cocu.curation.embed import embed_shards
        from cocu.curation.index import build_index
        from cocu.data.shards import list_shards

        self.clip()
        start = time.perf_counter()
        encoder = load_clip(str(self.clip_path))
        embed_shards(list_shards(self.shards), self.emb_dir, encoder, captions=True, vocab=self.vocab())
        for modality in ("img", "text"):
            build_index(self.emb_dir, self.index_path(modality), modality=modality, factory="Flat")
        self._timed("embed+index", start)
        return self.emb_dir

    def curation(self, regime: Regime) -> Path:
        """Curation sidecars for ``regime``'s expansion, ranking and N (clusters included)."""
        out = self.curation_dir(regime)
        if (out / "manifest.json").exists() and (out / "done.json").exists():
            return out
        from cocu.curation.encoder import load_clip
        from cocu.curation.curate import CurateSettings, curate

        self.embeddings()
        start = time.perf_counter()
        settings = CurateSettings(expansion=regime.expansion or "vision",
                                  ranking=regime.ranking or "t2v",
                                  neighbours=regime.neighbours, clusters=True)
        modality = "img" if settings.expansion == "vision" else "text"
        curate(self.emb_dir, self.index_path(modality), out, self.vocab(), settings,
               encoder=load_clip(str(self.clip_path)))
        write_json(out / "done.json", asdict(settings))
        self._timed(f"curate {regime.curation_key}", start)
        return out

    def check_cached_run(self, run: Path) -> None:
        """CocuError when a run already in the folder trained another objective or model than this
        one (e.g. before a default changed): its numbers would be reported as this one's."""
        from cocu.train.config import TrainConfig

        if not (run / "config.json").is_file():
            return
        saved = {**TrainConfig.saved_defaults(), **json.loads((run / "config.json").read_text())}
        diffs = [f"{k} {saved.get(k)!r} (now {v!r})" for k, v in self.objective_settings.items()
                 if saved.get(k) != v]
        trained, now = (dict(o or {}) for o in (saved.get("model_overrides"), self.model_overrides))
        diffs += [f"{k} {trained.get(k, 'default')!r} (now {now.get(k, 'default')!r})"
                  for k in sorted(set(trained) | set(now)) if trained.get(k) != now.get(k)]
        if diffs:
            raise CocuError(f"{run} was trained with other objective settings: {', '.join(diffs)}; "
                            "give another --out, or delete that run to retrain it")

    def train_config(self, regime: Regime, seed: int) -> TrainConfig:
        """The settings ``train`` runs ``regime`` at ``seed`` with (curates first if needed)."""
        from cocu.train.config import make_config

        curation = str(self.curation(regime)) if regime.curated else None
        b = self.budget
        return make_config(
            "tiny", shards=self.shards, out=str(self.run_dir(regime, seed)), prompts=regime.prompts,
            curation=curation, sampling=regime.sampling, vocab=str(self.vocab_path), multi_label=b.multi_label,
            batch_size=b.batch_size, samples=b.train_samples, epoch_samples=b.num_train,
            warmup_epochs=b.warmup_fraction * b.train_samples / b.num_train, seed=seed,
            workers=b.workers, objective=self.objective, model_overrides=dict(self.model_overrides),
            device=self.device, amp=self.amp, resume="auto")

    def train(self, regime: Regime, seed: int) -> Path:
        """Train GroupViT with ``regime``'s prompts (resumes an interrupted run)."""
        run = self.run_dir(regime, seed)
        self.check_cached_run(run)
        if (run / "summary.json").exists():
            return run
        from cocu.train.loop import train

        self.world()
        cfg = self.train_config(regime, seed)
        start = time.perf_counter()
        b = self.budget
        log.info("training %s (seed %d, %d samples, %s objective, amp %s)", regime.name, seed,
                 b.train_samples, self.objective, self.amp)
        train(cfg)
        self._timed(f"train {self.run_key(regime)}-s{seed}", start)
        return run

    def evaluate(self, regime: Regime, seed: int) -> dict[str, Any]:
        """Zero-shot mIoU on both synthetic splits plus the synthetic diagnostics."""
        path = self.eval_path(regime, seed)
        cached = json.loads(path.read_text()) if path.exists() else None
        if cached is not None and "gate" in cached.get("ade_like", {}) \
                and "stuff_words_mIoU" in cached.get("voc_like", {}):
            # cached; the same training may be shown under another name (cocu = #4)
            self.check_cached_run(self.run_dir(regime, seed))
            return {"objective": "paper", **cached, "regime": regime.name}
        # (records from before the top-k gate or the stuff-words score was recorded are evaluated
        # again; the run is kept)
        from cocu.eval.datasets import get_benchmark
        from cocu.eval.diagnostics import chance_miou, class_kinds, synthetic_diagnostics
        from cocu.eval.evaluate import evaluate
        from cocu.eval.protocol import get_protocol
        from cocu.models.checkpoint import load_model

        run = self.train(regime, seed)
        start = time.perf_counter()
        model = load_model(run / "checkpoints" / "last.pt")
        voc_bench = get_benchmark("voc_like", self.world_dir)
        voc = evaluate(model, voc_bench, show_progress=False)
        voc_image_gate = evaluate(model, voc_bench, show_progress=False,
                                  protocol=get_protocol(voc_bench.protocol).with_(gate="image"))
        stuff = [c for c, kind in class_kinds(self.world_dir / "world.json").items() if kind == "stuff"]
        voc_words = evaluate(model, voc_bench, show_progress=False, threshold=0.0, background_words=stuff)
        ade = get_benchmark("ade_like", self.world_dir)
        diag = synthetic_diagnostics(model, ade, self.world_dir / "world.json")
        result = {
            "regime": regime.name, "run_key": self.run_key(regime), "seed": seed,
            "objective": self.objective, "objective_settings": dict(self.objective_settings),
            "model_overrides": dict(self.model_overrides),
            "neighbours": regime.neighbours if regime.curated else None,
            "voc_like": {"mIoU": voc["mIoU"], "mAcc": voc["mAcc"], "aAcc": voc["aAcc"],
                         "per_class": voc["per_class"], "chance_mIoU": chance_miou(voc_bench),
                         "gate": voc["protocol"]["gate"], "image_gate_mIoU": voc_image_gate["mIoU"],
                         "stuff_words_mIoU": voc_words["mIoU"]},
            "ade_like": diag,
            "train": json.loads((run / "summary.json").read_text()),
        }
        write_json(path, result)
        self._timed(f"eval {self.run_key(regime)}-s{seed}", start)
        return result

    def run_all(self, regimes: list[Regime], seeds: list[int]) -> list[dict[str, Any]]:
        """Train and evaluate every regime × seed (cached); returns the evaluation records."""
        self.world()
        return [self.evaluate(r, s) for s in seeds for r in regimes]
