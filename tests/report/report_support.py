"""Shared by the report tests: the demo image, the CLI runner, the official SARIF schema."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitelens.cli import app
from tests.helpers import official_sarif_schema

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo" / "jinja2-demo.tar"
# The Dockerfile the demo image stands for (fixtures/demo/README.md), with its line numbers.
DEMO_DOCKERFILE = """\
FROM debian:12
# the OS copy
RUN apt-get install -y --no-install-recommends python3-jinja2
RUN pip install --break-system-packages Jinja2==3.1.4 && \\
    pip install --target /usr/lib/python3/dist-packages --upgrade MarkupSafe==2.1.5
COPY app /app
WORKDIR /app
CMD ["python3", "/app/app.py"]
"""
APT_LINE, PIP_LINE, COPY_LINE = 3, 4, 6


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def sarif_schema() -> dict:
    return official_sarif_schema()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .sitelens.toml / .dive-ci is discovered
    for name in [k for k in os.environ if k.startswith("SITELENS_") and k != "SITELENS_FIXTURE_CACHE"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path
