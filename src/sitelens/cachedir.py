"""Where sitelens keeps its caches, without importing the cache code (a no-op scan passes the
directory to workers it never starts)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sitelens"
