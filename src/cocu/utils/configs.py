"""The shipped JSON configs (``configs/<kind>/<name>.json``): model architectures, training presets
and real-data recipes, found in the source tree or inside an installed wheel (``cocu/configs``).

    path, data = load_shipped("models", "groupvit_tiny", "model preset")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cocu.errors import CocuError

def shipped_dir(kind: str) -> Path:
    """``configs/<kind>`` of the source tree, else of the installed package."""
    here = Path(__file__).resolve()
    for root in (here.parents[3] / "configs", here.parents[1] / "configs"):
        if (root / kind).is_dir():
            return root / kind
    raise CocuError(f"shipped configs folder configs/{kind} not found")


def shipped_names(kind: str) -> list[str]:
    """Names (file stems) of the shipped configs of one kind."""
    return sorted(p.stem for p in shipped_dir(kind).glob("*.json"))


def load_shipped(kind: str, name_or_path: str | Path, what: str) -> tuple[Path, dict[str, Any]]:
    """``(path, JSON object)`` of a shipped config by name or of any ``.json`` file.

    ``what`` names the thing in errors ("model preset"); a missing name lists the shipped ones.
    """
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = shipped_dir(kind) / f"{name_or_path}.json"
    if not path.is_file():
        raise CocuError(f"{what} {str(name_or_path)!r} not found (shipped: {', '.join(shipped_names(kind))})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CocuError(f"{what} {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CocuError(f"{what} {path} must be a JSON object, got {type(data).__name__}")
    return path, data
