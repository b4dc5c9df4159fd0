"""CPU cost of the training data stream per batch: now vs the stream as it was before stop 19.

    python benchmarks/data_stream.py [--images 2000] [--batches 40] [--rounds 3] [--prompts caption]
                                     [--json benchmarks/data_stream.json]

Both variants build the same `TrainStream` over a small synthetic world (batch 64, caption + 3
prompts per image, in-process: ``workers=0``, one torch thread) and must yield identical batches
(checked). *before*: every sample also seeds every accelerator's generator (``torch.manual_seed``,
which queues a seed with a captured stack per device type) and every text runs open_clip's
tokenizer. *now*: only the CPU generator the transforms draw from is seeded, and a text's ids are
cached (`cocu.models.tokenizer`); the cache is cleared before every round, so each round starts cold
as a training run does. Rounds alternate (before, now, before, ...); the best of each is reported.
In training the stream runs in the DataLoader workers beside the model's threads on the same cores,
so every millisecond saved here is one the model gets back.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from functools import partial
from pathlib import Path

import torch


def make_stream(world: Path, prompts: str, before: bool):
    from cocu.data.transforms import train_transform
    from cocu.models import tokenizer as tok
    from cocu.train.config import make_config
    from cocu.train.data import TrainStream, sample_seed
    from cocu.train.prompts import sample_texts

    cfg = make_config("tiny", shards=str(world / "train"), out=str(world / "unused"), prompts=prompts,
                      vocab=str(world / "vocab.txt"))
    shards = sorted((world / "train").glob("*.tar"))
    texts = sample_texts(cfg, shards)

    class Before(TrainStream):
        def _prepare(self, sample, slot, draw, index):
            torch.manual_seed(sample_seed(self.seed, slot, draw, index, 3))  # the seeding it did before
            return super()._prepare(sample, slot, draw, index)

    def uncached(texts: list[str]) -> torch.Tensor:
        return tok.get_tokenizer()(texts, context_length=77)

    cls, tokenize = (Before, uncached) if before else (TrainStream, partial(tok.tokenize, context_length=77))
    return cls(shards, batch_size=64, transform=train_transform(64), texts=texts, tokenize=tokenize,
               seed=0, workers=0, shuffle_buffer=500)


def time_stream(world: Path, prompts: str, before: bool, batches: int) -> tuple[float, list[dict]]:
    """Seconds per batch over ``batches`` batches from a cold start, and the batches."""
    from cocu.models import tokenizer as tok

    tok._tokenize_one.cache_clear()
    stream = make_stream(world, prompts, before)
    start = time.perf_counter()
    it = iter(stream)
    out = [next(it) for _ in range(batches)]
    return (time.perf_counter() - start) / batches, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompts", default="caption", choices=("caption", "oracle"))
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from cocu.data.synth import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        generate_world(world, seed=0, num_train=args.images, num_val=4, shard_size=500)
        for name in ("before", "now"):  # warm-up, untimed: builds the tokenizer, imports, page cache
            time_stream(world, args.prompts, name == "before", 2)
        best = {"before": float("inf"), "now": float("inf")}
        for r in range(args.rounds):
            results = {}
            for name in ("before", "now"):
                sec, batches = time_stream(world, args.prompts, name == "before", args.batches)
                best[name] = min(best[name], sec)
                results[name] = batches
                print(f"round {r}: {name:6s} {sec * 1000:6.1f} ms/batch", flush=True)
            for a, b in zip(results["before"], results["now"]):
                assert torch.equal(a["images"], b["images"]) and torch.equal(a["text_ids"], b["text_ids"])
    ratio = best["before"] / best["now"]
    print(f"best: before {best['before'] * 1000:.1f} ms/batch, now {best['now'] * 1000:.1f} ms/batch, "
          f"{ratio:.2f}x (identical batches)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "benchmark": "data_stream", "prompts": args.prompts, "images": args.images, "batches": args.batches,
            "rounds": args.rounds, "batch_size": 64, "texts_per_image": 4,
            "before_ms_per_batch": round(best["before"] * 1000, 2), "now_ms_per_batch": round(best["now"] * 1000, 2),
            "speedup": round(ratio, 3), "identical_batches": True,
            "cpu": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                         if line.startswith("model name")), "unknown"),
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
