"""Shared test set-up: the repo root on sys.path so tests can import ``fixtures``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tools installed beside the interpreter running the tests (a venv's dive, sitelens) are found
# even when the venv is not activated (`.venv/bin/python -m pytest`).
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + _BIN  # last: never shadows
