"""One home for numeric bound checks, shared by the library and the CLI's argparse types.

    require("batch_size", cfg.batch_size, at_least=2)

The CLI's ``int_at_least`` & co. (``cocu.cli.flags``) use :func:`bound_problem` too; both raise
before any compute starts, and the CLI turns them into ``cocu CMD: error: ...`` and exit 2.
"""

from __future__ import annotations

import math

from cocu.errors import CocuError


def bound_problem(value: float, at_least: float | None, above: float | None) -> str | None:
    """Why ``value`` breaks the bound (or is not finite), or None when it is fine."""
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
    problem = bound_problem(value, at_least, above)
    if problem:
        shown = f"--{name.replace('_', '-')}" if flag else name
        raise CocuError(f"{shown} {problem}")
