"""Seeded mutations of the demo image through the real CLI (see ``fuzz.py``).

CI runs ``SITELENS_FUZZ_CASES`` seeds (default 150, about two minutes with ``-n 2``) from
``SITELENS_FUZZ_SEED`` (default 0), plus every seed in ``regression_seeds.txt``. The long run
takes another range, e.g. ``SITELENS_FUZZ_CASES=5000 SITELENS_FUZZ_SEED=100000 pytest -n 2
tests/hostile/test_hostile_fuzz.py``, or ``python -m tests.hostile fuzz 5000 100000`` for the
counts table; a failing seed goes into ``regression_seeds.txt`` with what it found.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .fuzz import fuzz_cases, regression_seeds
from .harness import run_cli

FIRST = int(os.environ.get("SITELENS_FUZZ_SEED", "0"))
COUNT = int(os.environ.get("SITELENS_FUZZ_CASES", "150"))
SEEDS = sorted(set(regression_seeds()) | set(range(FIRST, FIRST + COUNT)))


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_seed(seed: int, tmp_path: Path) -> None:
    (case,) = fuzz_cases(seed, 1)
    (tmp_path / "input").mkdir()
    outcome = run_cli(case.make(tmp_path / "input"), tmp_path / "run", timeout=case.timeout)
    assert not outcome.problems(case.allowed), f"{case.name}: {outcome.describe(case.allowed)}"
