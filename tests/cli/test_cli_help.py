"""Every command's --help renders (help texts contain literal brackets such as UID[:GID])."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitelens.cli import app

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


@pytest.mark.parametrize("ci", [False, True])
def test_progress_only_on_a_terminal_outside_ci(ci: bool, tmp_path: os.PathLike) -> None:
    import shutil

    if shutil.which("script") is None:
        pytest.skip("needs util-linux script(1) for a pseudo-terminal")
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "demo", "jinja2-demo.tar")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "true"} if ci else {})
    cmd = f"{sys.executable} -m sitelens audit {demo} --no-cache -o json={tmp_path}/r.json"
    tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, env=env, timeout=120)
    assert ("layer(s) read (3 indexed, 0 from cache" in tty.stdout) is not ci
    piped = subprocess.run(cmd.split(), capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 1 and piped.stdout == "" and piped.stderr == ""


def test_audit_help_names_every_format() -> None:
    from sitelens.report.formats import FORMATS, renderer

    text = " ".join(_help("audit").split())
    for name in FORMATS:
        assert name in text and renderer(name).name == name


@pytest.mark.parametrize("argv", [["audit", "REF"], ["inventory", "REF"], ["why", "yaml", "REF"]])
def test_a_malformed_user_is_one_usage_line_before_any_image_is_read(argv: list[str], tmp_path: Path) -> None:
    ref = str(tmp_path / "never-read.tar")  # absent: the --user value is refused first
    res = CliRunner().invoke(app, [*(ref if a == "REF" else a for a in argv), "--user", "bob"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
