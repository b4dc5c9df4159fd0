"""Progress bars that stay quiet when output is not a terminal (CI logs) unless asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", disable: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr; disabled when stderr is not a TTY unless COCU_PROGRESS=1."""
    if disable is None:
        disable = not (sys.stderr.isatty() or os.environ.get("COCU_PROGRESS") == "1")
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable,
                dynamic_ncols=True, mininterval=1.0, **kwargs)
