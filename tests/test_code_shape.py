"""The shape rules of the code base (GUIDE, issue 14): no function in src/cocu longer than 80 lines,
argparse only in the ``cocu.cli`` package (the library packages take plain arguments)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "cocu"
MAX_LINES = 80
MODULES = sorted(p.relative_to(SRC.parent).as_posix() for p in SRC.rglob("*.py"))


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of every function or method longer than ``limit`` lines,
    counted from its ``def`` line to its last line (nested functions are checked too)."""
    return [(node.name, node.lineno, node.end_lineno - node.lineno + 1)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > limit]


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module imported anywhere in ``source`` (also inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_checks_see_what_they_check():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES - 1))
    assert long_functions(f"def fits():\n{body}\n") == []  # def line + 79 = 80 lines
    method = "\n".join(f"        x{i} = {i}" for i in range(MAX_LINES))
    assert long_functions(f"class A:\n    async def too_long(self):\n{method}\n") == [("too_long", 2, MAX_LINES + 1)]
    assert imported_modules("import argparse as ap") == {"argparse"}
    assert imported_modules("def f():\n    from argparse import Namespace\n") == {"argparse"}
    assert imported_modules("from . import argparse\nimport os.path") == {"os"}
    assert len(MODULES) > 50 and "cocu/train/loop.py" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_no_function_is_longer_than_80_lines(module):
    found = long_functions((SRC.parent / module).read_text(encoding="utf-8"))
    assert not found, f"{module}: " + ", ".join(f"{name} (line {line}, {n} lines)" for name, line, n in found)


def test_only_the_cli_package_imports_argparse():
    offenders = [m for m in MODULES if not m.startswith("cocu/cli/")
                 and "argparse" in imported_modules((SRC.parent / m).read_text(encoding="utf-8"))]
    assert not offenders, "argparse imported outside cocu/cli/: " + ", ".join(offenders)
