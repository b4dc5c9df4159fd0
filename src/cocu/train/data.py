"""The training data stream: webdataset shards → (images, text ids) batches.

Splitting. Every (rank, worker) pair is a *slot*. With at least as many shards as slots, each
slot owns a disjoint subset of shards; with fewer shards, every slot reads all shards but
keeps only every ``n_slots``-th sample (offset = slot). Either way no two slots see the same
sample in a pass.

Resampling. A slot reads its shards forever, in a fresh random order each pass
(seeded by ``seed, slot, pass``); an *epoch* is a number of samples
(``epoch_samples // global_batch`` steps), not a pass over files, as in the official code.

Determinism and resume. A slot's position is ``(draw, index)``: the ``draw``-th shard it
opened and how many samples it has emitted from it (through a per-shard shuffle buffer seeded
by ``seed, slot, draw``). Every random decision for a sample (crop, flip, which concepts,
synonyms, templates) is seeded from ``(seed, slot, draw, index)``, so the stream is a pure
function of the position: resuming replays at most one shard without decoding.
Each batch carries its slot and the position after it; the loop checkpoints those.

The DataLoader hands out batches round-robin from worker 0; after ``S`` steps the next batch
must come from logical worker ``S % W``, so workers are renumbered by ``start_step`` on resume.
"""

from __future__ import annotations

import json
import logging
import random
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from cocu.data.shards import ShardStats, decode_image, iter_samples
from cocu.errors import CocuError
from cocu.train.prompts import SampleTexts

log = logging.getLogger(__name__)

Source = tuple[str, int, int]  # (shard path, stride, offset): samples i with i % stride == offset


def slot_sources(shards: Sequence[str | Path], n_slots: int) -> list[list[Source]]:
    """Assign shards (or sample strides within shards) to ``n_slots`` disjoint slots."""
    shards = [str(s) for s in shards]
    if not shards:
        raise CocuError("no training shards")
    if len(shards) >= n_slots:
        return [[(s, 1, 0) for s in shards[slot::n_slots]] for slot in range(n_slots)]
    return [[(s, n_slots, slot) for s in shards] for slot in range(n_slots)]


def sample_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


def usable_shards(spec: str) -> tuple[list[Path], list[str]]:
    """The readable shards named by ``spec`` and ``"path: reason"`` for the unreadable ones.

    Every shard's first header is read before training starts (also when ``--epoch-samples``
    or img2dataset's ``*_stats.json`` make counting unnecessary): an unreadable shard is named
    and left out of the plan, so no data slot can be left with nothing to read.
    """
    from cocu.data.shards import list_shards, readable_shards

    good, bad = readable_shards(list_shards(spec))
    for reason in bad:
        log.warning("leaving out unreadable shard %s", reason)
    if not good:
        raise CocuError(f"none of the {len(bad)} shard(s) at {spec!r} can be read, e.g. {bad[0]}")
    if bad:
        log.warning("%d of %d shards are unreadable and left out of training", len(bad), len(bad) + len(good))
    return good, bad


def count_samples(shards: Sequence[str | Path]) -> int:
    """Samples in the shards: img2dataset ``*_stats.json`` when present, else tar headers (.txt members)."""
    total = 0
    for shard in map(Path, shards):
        stats = shard.with_name(f"{shard.stem}_stats.json")
        if stats.is_file():
            try:
                total += int(json.loads(stats.read_text())["successes"])
                continue
            except (KeyError, ValueError, json.JSONDecodeError):
                pass
        try:
            with tarfile.open(shard, "r:") as tf:
                total += sum(1 for m in tf if m.isfile() and m.name.endswith(".txt"))
        except (tarfile.TarError, OSError) as exc:
            raise CocuError(f"cannot read shard {shard}: {exc}") from exc
    if total == 0:
        raise CocuError(f"no samples found in {len(shards)} shard(s)")
    return total


@dataclass
class StreamState:
    """Per-slot positions ``{slot: (draw, index)}`` plus how many slots the plan had."""

    n_slots: int
    positions: dict[int, tuple[int, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_slots": self.n_slots, "positions": {str(k): list(v) for k, v in self.positions.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StreamState:
        return cls(int(d["n_slots"]), {int(k): (int(v[0]), int(v[1])) for k, v in d["positions"].items()})


def _iter_raw(shard: str, stride: int, offset: int, stats: ShardStats) -> Iterator[Any]:
    """Undecoded samples of one shard, keeping every ``stride``-th from ``offset``."""
    for i, sample in enumerate(iter_samples([shard], decode=False, stats=stats)):
        if i % stride == offset:
            yield sample


def _shuffled(items: Iterator[Any], bufsize: int, rng: random.Random) -> Iterator[Any]:
    """A bounded shuffle buffer (like webdataset's ``.shuffle``), deterministic given ``rng``."""
    buf: list[Any] = []
    for item in items:
        if len(buf) < bufsize:
            buf.append(item)
            continue
        k = rng.randrange(len(buf))
        buf[k], item = item, buf[k]
        yield item
    rng.shuffle(buf)
    yield from buf


class TrainStream(IterableDataset):
    """Infinite iterable of ready batches for one rank (use with ``DataLoader(batch_size=None)``).

    ``texts`` turns a sample into its 1 + K texts, ``tokenize`` a list of texts into ids [N, 77].
    Yields dicts: ``images [B,3,H,W] float32``, ``text_ids [B,1+K,77] int64``, ``slot``,
    ``position (draw, index)`` after the batch, ``counts`` (:data:`COUNTERS` since the previous
    batch of this slot: samples skipped, shards that ended early, samples without curation).
    A slot whose shards yield nothing (or whose curation sidecar cannot be read) yields one
    ``{"error": message}`` and stops.
    """

    def __init__(self, shards: Sequence[str | Path], *, batch_size: int,
                 transform: Callable[[Image.Image], torch.Tensor], texts: SampleTexts,
                 tokenize: Callable[[list[str]], torch.Tensor],
                 seed: int = 0, rank: int = 0, world_size: int = 1, workers: int = 0,
                 shuffle_buffer: int = 1000, start_step: int = 0,
                 state: StreamState | None = None, decode_side: int | None = None):
        super().__init__()
        self.n_workers = max(1, workers)
        self.n_slots = world_size * self.n_workers
        self.sources = slot_sources(shards, self.n_slots)
        self.batch_size, self.k = batch_size, texts.k
        self.transform, self.texts, self.tokenize = transform, texts, tokenize
        self.decode_side = decode_side  # JPEGs decoded at reduced size, both sides ≥ this
        self.seed, self.rank = seed, rank
        self.shuffle_buffer = shuffle_buffer
        self.start_step = start_step
        self.positions: dict[int, tuple[int, int]] = {}
        if state is not None:
            if state.n_slots != self.n_slots:
                log.warning("checkpoint data stream had %d slots (ranks × workers), this run has %d: "
                            "the data order after resuming differs from an uninterrupted run",
                            state.n_slots, self.n_slots)
                self.seed = sample_seed(seed, start_step)  # fresh, but not a replay of the start
            else:
                self.positions = dict(state.positions)

    # -- the per-slot sample stream ------------------------------------------------------------
    def _slot_samples(self, slot: int) -> Iterator[tuple[int, int, Any]]:
        """``(draw, index, raw sample)`` forever, starting at the saved position of ``slot``.

        Raises :class:`SlotStarved` when a whole pass over the slot's shards yields no sample
        (instead of reopening them forever).
        """
        sources = self.sources[slot]
        draw, skip = self.positions.get(slot, (0, 0))
        empty_draws = 0
        while True:
            p, r = divmod(draw, len(sources))
            order = np.random.default_rng(sample_seed(self.seed, slot, p, 1)).permutation(len(sources))
            shard, stride, offset = sources[int(order[r])]
            self._stats = ShardStats(0, 0)
            raw = _iter_raw(shard, stride, offset, self._stats)
            shuffled = _shuffled(raw, self.shuffle_buffer, random.Random(sample_seed(self.seed, slot, draw, 2)))
            got = False
            for index, sample in enumerate(shuffled):
                got = True
                if index < skip:
                    continue
                if index == skip and skip:  # unreadable samples in the replayed prefix were counted before
                    self._reported -= self._stats.corrupt
                yield draw, index, sample
            self._finished += self._stats.corrupt
            self._finished_shards += self._stats.corrupt_shards
            self._stats = ShardStats(0, 0)
            empty_draws = 0 if got else empty_draws + 1
            if empty_draws >= len(sources):
                raise SlotStarved(self._starved_message(slot))
            draw, skip = draw + 1, 0

    def _starved_message(self, slot: int) -> str:
        shards = sorted({s for s, _, _ in self.sources[slot]})
        shown = ", ".join(shards[:3]) + (f" (+{len(shards) - 3} more)" if len(shards) > 3 else "")
        return (f"data slot {slot} (rank {slot // self.n_workers}, worker {slot % self.n_workers}) read all "
                f"its {len(shards)} shard(s) without one usable sample: {shown}; fix or remove them "
                "(see the warnings above), or use fewer --workers")

    def _counter_deltas(self) -> dict[str, int]:
        """Counters since the last batch: samples the shard reader skipped, shards that ended
        early, samples the prompt source had no entry for (read here so that they travel to the
        main process inside the batch, whichever worker made it)."""
        total = self._finished + self._stats.corrupt
        corrupt, self._reported = total - self._reported, total
        shards = self._finished_shards + self._stats.corrupt_shards
        corrupt_shards, self._reported_shards = shards - self._reported_shards, shards
        missing, self._reported_missing = self.texts.missing - self._reported_missing, self.texts.missing
        return {"corrupt": corrupt, "corrupt_shards": corrupt_shards, "missing_curation": missing}

    def _prepare(self, sample: Any, slot: int, draw: int, index: int) -> tuple[torch.Tensor, list[str]] | None:
        """Decode + augment + texts for one sample, all seeded by its position; None if corrupt."""
        s = sample_seed(self.seed, slot, draw, index, 3)
        random.seed(s)
        np.random.seed(s % 2**32)
        # the CPU generator only: the transforms draw from it, and torch.manual_seed would also
        # queue a seed (with a captured stack) for every accelerator, 0.1 ms per sample
        torch.default_generator.manual_seed(s)
        rng = np.random.default_rng(s)
        try:
            image = sample.image
            if isinstance(image, (bytes, bytearray)):
                image = decode_image(image, self.decode_side)
            image = self.transform(image.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - any undecodable image is skipped and counted
            log.warning("skipping corrupt sample %s in %s: %s", getattr(sample, "key", "?"),
                        getattr(sample, "shard", "?"), exc)
            return None
        return image, self.texts(sample, rng)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        logical = (worker + self.start_step) % self.n_workers
        slot = self.rank * self.n_workers + logical
        self._finished, self._reported, self._stats = 0, 0, ShardStats(0, 0)
        self._finished_shards, self._reported_shards = 0, 0
        self._reported_missing = self.texts.missing
        images: list[torch.Tensor] = []
        texts: list[str] = []
        corrupt = 0
        last_good_draw = None
        try:
            for draw, index, sample in self._slot_samples(slot):
                item = self._prepare(sample, slot, draw, index)
                if item is None:
                    corrupt += 1
                    last_good_draw = draw if last_good_draw is None else last_good_draw
                    if draw - last_good_draw > len(self.sources[slot]):  # a whole pass, nothing decodes
                        raise SlotStarved(self._starved_message(slot))
                    continue
                last_good_draw = draw
                images.append(item[0])
                texts.extend(item[1])
                if len(images) == self.batch_size:
                    ids = self.tokenize(texts).view(self.batch_size, 1 + self.k, -1)
                    counts = self._counter_deltas()
                    counts["corrupt"] += corrupt
                    yield {"images": torch.stack(images), "text_ids": ids, "slot": slot,
                           "position": (draw, index + 1), "counts": counts}
                    images, texts, corrupt = [], [], 0
        except CocuError as exc:  # handed to the main process as data: a worker's traceback is no message
            yield {"error": str(exc)}


class SlotStarved(CocuError):
    """A data slot's shards yield no usable sample at all (training would wait forever)."""


COUNTERS = ("corrupt", "corrupt_shards", "missing_curation")


def make_loader(stream: TrainStream, *, workers: int, pin_memory: bool,
                prefetch_factor: int = 4) -> DataLoader:
    """A DataLoader over ready batches (``batch_size=None``), with workers and prefetching."""
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs = {"prefetch_factor": prefetch_factor, "persistent_workers": False}
    # its own generator: creating the iterator must not consume the training RNG (exact resume)
    return DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(0), **kwargs)
