"""Every hand-made hostile case through the real CLI, under the limits of ``harness.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cases import CASES, Case
from .harness import run_cli


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_hostile_case(c: Case, tmp_path: Path) -> None:
    args = c.make(tmp_path / "input")  if (tmp_path / "input").mkdir() is None else []
    outcome = run_cli(args, tmp_path / "run", timeout=c.timeout)
    assert not outcome.problems(c.allowed), outcome.describe(c.allowed)
