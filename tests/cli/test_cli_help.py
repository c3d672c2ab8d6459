"""Every command's --help renders (help texts contain literal brackets such as UID[:GID])."""

from __future__ import annotations

import os
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
    assert "OS/ARCH[/VARIANT]" in out.stdout
    assert "UID[:GID]" in out.stdout


def _help(*command: str) -> str:
    out = subprocess.run([sys.executable, "-m", "sitelens", *command, "--help"], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_top_level_help_lists_reference_forms_and_exit_codes() -> None:
    text = _help()
    for form in ("docker-archive:PATH", "oci:DIR[:TAG]", "oci-archive:PATH", "registry:NAME[:TAG|@DIGEST]",
                 "podman:NAME", "dir:PATH", "NAME[:TAG]"):
        assert form in text, form
    assert "Exit codes: 0" in text and "SITELENS_" in text
    assert "see `sitelens --help`" in _help("audit")


@pytest.mark.parametrize("command", [c for c in COMMANDS if c])
def test_no_type_metavars(command: str) -> None:
    text = _help(command)
    for leak in ("{ref}", "<str>", "<path>", "<list[", "<float>", "<int>", "<bool>"):
        assert leak not in text, f"{command} --help shows {leak}"


def test_shell_completion_script() -> None:
    out = subprocess.run([sys.executable, "-m", "sitelens", "--show-completion", "bash"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "complete " in out.stdout and "COMP_WORDS" in out.stdout
