"""Progress while layers are read: a rich live line on an interactive stderr, nothing in CI.

The loader calls back once per layer when it is indexed or found in the cache. A live status
(spinner, layers done, elapsed time) replaces plain log lines, so a terminal shows that work is
going on during a long download, and a CI log or a pipe gets no noise at all.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.status import Status

    from ..image import Layer
    from ..layers.loader import Progress

_QUIET = {"enabled": True}
_ACTIVE: list[Status] = []


def silence(quiet: bool = True) -> None:
    """``-q``: no progress for this command (``silence(False)`` turns it back on)."""
    _QUIET["enabled"] = not quiet


def wanted() -> bool:
    return _QUIET["enabled"] and sys.stderr.isatty() and not os.environ.get("CI")


def layer_progress() -> Progress | None:
    if not wanted():
        return None
    from rich.console import Console
    from rich.status import Status

    status = Status("sitelens: reading layers…", console=Console(stderr=True), spinner="dots")
    counts = {"indexed": 0, "cached": 0}
    started: list[bool] = []

    def report(layer: Layer, state: str) -> None:
        counts[state] = counts.get(state, 0) + 1
        if not started:  # start lazily: an image that fails to open shows nothing
            started.append(True)
            status.start()
        # the line stays up (spinning) while the audit runs, until the report is written
        done = counts["indexed"] + counts["cached"]
        status.update(f"sitelens: {done} layer(s) read ({counts['indexed']} indexed, "
                      f"{counts['cached']} from cache; last {layer.diff_id[7:19]}), auditing…")

    _ACTIVE.append(status)
    return report


def stop() -> None:
    """End the live line before the report is written, so the two never interleave."""
    while _ACTIVE:
        _ACTIVE.pop().stop()
