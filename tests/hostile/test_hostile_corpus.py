"""Every hand-made hostile case (``cases.py``) through the real CLI, under ``harness.py``'s limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cases import CASES, Case
from .harness import run_cli


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_hostile_case(c: Case, tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    outcome = run_cli(c.make(tmp_path / "input"), tmp_path / "run", timeout=c.timeout)
    assert not outcome.problems(c.allowed), outcome.describe(c.allowed)


def test_the_harness_sees_what_it_must(tmp_path: Path) -> None:
    # The judge itself must be able to fail: a traceback, a second stderr line, a write into
    # the watched TMPDIR and a hang are each reported (a real child process, not a mock).
    work = tmp_path / "run"
    script = ("import os, sys, tempfile; open(os.path.join(tempfile.gettempdir(), 'leak'), 'w').close(); "
              "sys.stderr.write('one\\ntwo\\n'); raise SystemExit(2)")
    o = run_cli(["-c", script], work, python_module=False)
    problems = " ".join(o.problems(frozenset({3})))
    assert "exit 2" in problems and "2 stderr lines" in problems and "outside" in problems
    hang = run_cli(["-c", "import time; time.sleep(30)"], work, timeout=1, python_module=False)
    assert hang.timed_out and "hang" in " ".join(hang.problems(frozenset({0})))
    boom = run_cli(["-c", "raise ValueError('x')"], work, python_module=False)
    assert "traceback" in boom.problems(frozenset({1}))
