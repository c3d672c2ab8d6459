"""Every command's --help renders (help texts contain literal brackets such as UID[:GID])."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = ["", "audit", "inventory", "layers", "ls", "rules", "explain", "scan"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_renders(command: str) -> None:
    argv = [sys.executable, "-m", "sitelens", *([command] if command else []), "--help"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "Usage:" in out.stdout


def test_bracketed_help_text_is_shown_literally() -> None:
    out = subprocess.run([sys.executable, "-m", "sitelens", "audit", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert "os/arch[/variant]" in out.stdout
    assert "UID[:GID]" in out.stdout
