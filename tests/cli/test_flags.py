"""Flags the CLI spells itself (so that it starts without torch) agree with the library."""

from __future__ import annotations

import pytest

from cocu.cli import main
from cocu.cli.flags import GATE_CHOICES
from cocu.errors import CocuError
from cocu.eval.protocol import GATES, Protocol


def test_the_cli_offers_exactly_the_protocol_gates():
    assert GATE_CHOICES == GATES
    for gate in GATES:
        assert Protocol("p", gate=gate).gate == gate
    with pytest.raises(CocuError, match="gate must be one of"):
        Protocol("p", gate="pixels")


@pytest.mark.parametrize("command", [["eval", "--checkpoint", "x", "--benchmark-dir", "y"], ["segment", "img.jpg",
                                      "--checkpoint", "x", "--labels", "a"]])
def test_an_unknown_gate_is_refused_by_the_cli(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(command + ["--gate", "pixels"])
    assert exc.value.code == 2 and "invalid choice: 'pixels'" in capsys.readouterr().err
