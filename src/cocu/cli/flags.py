"""Flag helpers shared by the commands: bounded numeric types and the flags many commands take.

    p.add_argument("--window-batch", type=int_at_least(1))
    add_checkpoint(p); add_device(p); add_vocab(p); add_shard_flags(p)

One spelling, one default and one help text per flag, so ``--device`` means the same everywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cocu.utils.checks import bound_problem

#: cocu.eval.protocol.GATES, spelled here so that the CLI starts without importing torch
#: (tests/cli/test_flags.py checks that the two agree)
GATE_CHOICES = ("image", "groups")
CHECKPOINT_HELP = "checkpoint (.pt/.safetensors/official .pth/Hugging Face folder) or preset name"
VOCAB_HELP = "vocabulary file or official gallery .json (default: the packaged one)"


def _arg_type(cast: Callable[[str], float], at_least: float | None, above: float | None,
              what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        problem = bound_problem(value, at_least, above)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = what  # argparse shows it in "invalid <name> value"
    return parse


def int_at_least(lo: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``lo``."""
    return _arg_type(int, lo, None, "an integer")  # type: ignore[return-value]


def float_at_least(lo: float) -> Callable[[str], float]:
    """argparse type: a finite float >= ``lo``."""
    return _arg_type(float, lo, None, "a number")


def float_above(lo: float) -> Callable[[str], float]:
    """argparse type: a finite float > ``lo``."""
    return _arg_type(float, None, lo, "a number")


def word_list(text: str) -> list[str]:
    """argparse type: ``"sky, wall"`` → ``["sky", "wall"]`` (at least one word)."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise argparse.ArgumentTypeError(f"expected comma-separated words, got {text!r}")
    return words


def add_background_words(p: argparse.ArgumentParser) -> None:
    """``--background-words``: names whose pixels become background (beside any threshold)."""
    p.add_argument("--background-words", type=word_list, default=[], metavar="WORDS",
                   help='comma-separated names whose pixels become background, e.g. "sky, wall, grass" '
                        "(not GroupViT's protocol; beside the threshold, which 0 turns off)")


def add_checkpoint(p: argparse.ArgumentParser, flag: str = "--checkpoint", help: str = CHECKPOINT_HELP) -> None:
    """``--checkpoint`` (required): any model file or folder ``load_model`` reads."""
    p.add_argument(flag, required=True, help=help)


def add_device(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = "auto") -> None:
    """``--device``: auto (CUDA when present, else CPU), cpu, cuda or cuda:i."""
    shown = f" (default {default})" if default else ""
    p.add_argument("--device", default=default, help=f"auto, cpu, cuda or cuda:i{shown}")


def add_vocab(p: argparse.ArgumentParser | argparse._ArgumentGroup, help: str = VOCAB_HELP) -> None:
    """``--vocab``: a vocabulary file or an official gallery JSON."""
    p.add_argument("--vocab", default=None, help=help)


def add_extraction(p: argparse.ArgumentParser) -> None:
    """``--extraction``: how concepts are read from a caption."""
    p.add_argument("--extraction", choices=["longest", "official"], default="longest",
                   help="concepts of a caption: longest whole-word matches (default), or the official "
                        "CoCu semantics (every n-gram ≤ 4, substring membership in curation)")


def add_shard_flags(p: argparse.ArgumentParser) -> None:
    """``--shard-index/--num-shards`` (split the shards over workers) and the Spark engine flags."""
    p.add_argument("--shard-index", type=int_at_least(0), default=0, help="this worker's index (0-based)")
    p.add_argument("--num-shards", type=int_at_least(1), default=1, help="number of workers sharing the shards")
    p.add_argument("--engine", choices=["local", "spark"], default="local",
                   help="spark: run the shards as Spark tasks (README: running on a cluster)")
    p.add_argument("--spark-master", default=None,
                   help="Spark master URL (default: spark-submit's, else local[*])")
    p.add_argument("--partitions", type=int_at_least(1), default=None,
                   help="Spark tasks (default: per shard / core)")
