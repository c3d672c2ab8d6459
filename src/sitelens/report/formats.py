"""The table of audit report formats. Adding a format = one module with a ``RENDERER`` that
implements :class:`~sitelens.report.interface.Renderer`, plus one line here.

Modules are imported on first use: ``sitelens audit --format json`` never loads rich, and
``sitelens --help`` loads none of them.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import UsageError
from .interface import Renderer

# name → module under sitelens.report that defines RENDERER
FORMATS: dict[str, str] = {
    "console": "console",
    "json": "json_report",
    "sarif": "sarif",
    "cyclonedx": "cyclonedx",
    "spdx": "spdx",
}


def renderer(name: str) -> Renderer:
    module = FORMATS.get(name)
    if module is None:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
    found: Renderer = import_module(f"{__package__}.{module}").RENDERER
    return found
