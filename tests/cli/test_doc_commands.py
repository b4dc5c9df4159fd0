"""Every ``cocu ...`` command in the README's and docs/'s shell blocks parses with today's CLI.

A renamed or dropped flag otherwise leaves the docs telling users to run a command that fails.
This checks flags, choices and types (argparse), not that the files a command names exist.
Shell arrays (``NAME=(...)`` used as ``"${NAME[@]}"``) are expanded as bash would.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cocu.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shell_commands(text: str) -> list[tuple[str, list[str]]]:
    """(line, argv after ``cocu``) for each ``cocu`` command in ``text``'s bash/sh blocks."""
    found = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        arrays = {name: shlex.split(body, comments=True)
                  for name, body in re.findall(r"^(\w+)=\((.*?)\)", block, re.S | re.M)}
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            tokens = []
            for tok in shlex.split(line, comments=True):
                array = re.fullmatch(r"\$\{(\w+)\[@\]\}", tok)
                tokens += arrays[array[1]] if array else [tok]
            while tokens and re.match(r"[A-Za-z_]\w*=", tokens[0]):  # VAR=value before the command
                tokens = tokens[1:]
            if tokens[:1] == ["cocu"]:
                found.append((line.strip(), tokens[1:]))
    return found


COMMANDS = [(f"{path.name}: {line}", argv) for path in DOCS for line, argv in shell_commands(path.read_text())]


def test_the_docs_have_commands_to_check():
    assert len(COMMANDS) > 30
    assert any(argv[:1] == ["curate"] for _, argv in COMMANDS)


def test_shell_arrays_expand_as_bash_does():
    text = "```bash\nA=(--shards 'x/{0..1}.tar' --seeds 0 1)  # note\ncocu experiment main \"${A[@]}\" --out o\n```\n"
    assert shell_commands(text) == [
        ('cocu experiment main "${A[@]}" --out o', ["experiment", "main", "--shards", "x/{0..1}.tar",
                                                    "--seeds", "0", "1", "--out", "o"])]


@pytest.mark.parametrize("where, argv", COMMANDS, ids=[f"{i}" for i in range(len(COMMANDS))])
def test_documented_command_parses(where, argv, capsys):
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}\n{capsys.readouterr().err}")
