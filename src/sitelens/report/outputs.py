"""Where reports go: ``-o FILE``, ``-o FORMAT=FILE`` (repeatable), ``-o -`` for stdout, and the
width a console report is laid out for.

- No ``-o``: the ``--format`` report on stdout (nothing with ``-q``).
- ``-o FILE``: the ``--format`` report into FILE; ``-o -``: onto stdout.
- ``-o sarif=out.sarif -o json=out.json``: several formats from one audit. ``FORMAT=`` is only
  read as a format when FORMAT is one (a file may be called ``a=b``).
- Width: ``COLUMNS`` when set (also for files and pipes), else the terminal's, else 110.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .formats import FORMATS

DEFAULT_WIDTH = 110
MIN_WIDTH = 40  # narrower and rich wraps every evidence word onto its own line


@dataclass(frozen=True)
class Output:
    format: str
    path: Path | None  # None: stdout


def _check_format(name: str) -> str:
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
    return name


def parse_outputs(values: list[str], default_format: str, quiet: bool = False) -> list[Output]:
    default_format = _check_format(default_format.strip().lower())
    if not values:
        return [] if quiet else [Output(default_format, None)]
    outs: list[Output] = []
    for value in values:
        name, sep, target = value.partition("=")
        if sep and name.strip().lower() in FORMATS:
            fmt, where = name.strip().lower(), target
        else:
            fmt, where = default_format, value
        if not where:
            raise UsageError(f"-o {value!r}: give a file name (or - for stdout)")
        outs.append(Output(fmt, None if where == "-" else Path(where)))
    if sum(1 for o in outs if o.path is None) > 1:
        raise UsageError("-o -: only one report can go to stdout")
    if quiet:
        outs = [o for o in outs if o.path is not None]
    return outs


def terminal_width(to_tty: bool) -> int:
    """``COLUMNS`` wins (a CI log or a pipe can ask for its width); then the terminal's."""
    raw = os.environ.get("COLUMNS", "")
    if raw.isdigit() and int(raw) > 0:
        return max(int(raw), MIN_WIDTH)
    if to_tty:
        return max(shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, MIN_WIDTH)
    return DEFAULT_WIDTH
