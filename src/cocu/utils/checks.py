"""One home for numeric argument checks, shared by the CLI (argparse ``type=``) and the library.

    p.add_argument("--window-batch", type=int_at_least(1))
    require("batch_size", cfg.batch_size, at_least=2)

Both raise before any compute starts: the CLI turns them into ``cocu CMD: error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from cocu.errors import CocuError


def _problem(value: float, at_least: float | None, above: float | None) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if at_least is not None and value < at_least:
        return f"must be >= {at_least:g}, got {value:g}"
    if above is not None and value <= above:
        return f"must be > {above:g}, got {value:g}"
    return None


def require(name: str, value: float | None, *, at_least: float | None = None,
            above: float | None = None, flag: bool = True) -> None:
    """Raise CocuError unless ``value`` (skipped when None) is finite and within the bound.

    ``name`` is a config field (``batch_size``) shown as its flag (``--batch-size``) when ``flag``.
    """
    if value is None:
        return
    problem = _problem(value, at_least, above)
    if problem:
        shown = f"--{name.replace('_', '-')}" if flag else name
        raise CocuError(f"{shown} {problem}")


def _arg_type(cast: Callable[[str], float], at_least: float | None, above: float | None,
              what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        problem = _problem(value, at_least, above)
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
