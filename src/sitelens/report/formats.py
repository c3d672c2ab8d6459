"""The table of report formats, for ``audit`` and ``scan`` alike. Adding a format = one module
with a ``RENDERER`` that implements :class:`~sitelens.report.interface.Renderer` (or
:class:`~sitelens.report.interface.SiteRenderer` for a directory of pages), plus one line here.

Modules are imported on first use: ``sitelens audit --format json`` never loads rich, and
``sitelens --help`` loads none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..errors import UsageError
from .interface import Renderer, SiteRenderer

# what is rendered → format name → "module" (its RENDERER) or "module:ATTRIBUTE", under sitelens
TABLE: dict[str, dict[str, str]] = {
    "audit": {
        "console": "report.console",
        "json": "report.json_report",
        "sarif": "report.sarif",
        "cyclonedx": "report.cyclonedx",
        "spdx": "report.spdx",
    },
    "scan": {
        "console": "scan.report:CONSOLE",
        "json": "scan.report:JSON",
        "html": "scan.html",
    },
}
FORMATS = TABLE["audit"]  # audit's --format and -o FORMAT=FILE names
SCAN_FORMATS = TABLE["scan"]


def renderer(name: str, subject: str = "audit") -> Renderer[Any]:
    table = TABLE[subject]
    where = table.get(name)
    if where is None:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(table)})")
    module, _, attr = where.partition(":")
    found: Renderer[Any] = getattr(import_module(f"{__package__.rpartition('.')[0]}.{module}"), attr or "RENDERER")
    return found


def site_renderer(name: str, subject: str) -> SiteRenderer[Any]:
    """A format that writes a directory (``scan --html DIR``)."""
    found = renderer(name, subject)
    if not hasattr(found, "render_files"):
        raise UsageError(f"format {name!r} is one document, not a directory of pages")
    return found  # type: ignore[return-value]
