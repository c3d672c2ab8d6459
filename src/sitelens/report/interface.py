"""One interface for every report format (pip-audit's ``_format/interface.py`` shape).

A renderer turns a result — an :class:`~sitelens.audit.AuditResult` for ``audit``, the scan
report (``scan/summary.py``) for ``scan`` — into text and decides nothing: the exit code,
severities and suppressions all come from the result. A format that is a directory of pages
(the scan's HTML site) is a :class:`SiteRenderer`: the same protocol plus every file by path.
What the user chose about the *presentation* (gate shown, colour, width, SARIF locations, the
``--severity`` filter) travels in :class:`RenderOptions`, the same object for every format, so
the CLI (and ``scan``) build it once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..findings import Finding, at_or_above

ResultT = TypeVar("ResultT", contravariant=True)


@dataclass(frozen=True)
class RenderOptions:
    fail_on: str = "high"
    color: bool = False
    width: int | None = None  # None: the renderer's default (COLUMNS is read by the CLI)
    severity: str | None = None  # --severity: show findings at or above it only
    sarif_category: str | None = None  # automationDetails.id is sitelens/<category>/
    sarif_path_prefix: str = ""  # image paths become <prefix>usr/lib/... in SARIF locations
    dockerfile: Path | None = None  # the Dockerfile SARIF points image-wide findings at

    def shown(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings a report lists: all of them, or those at or above ``--severity``.
        The exit code never depends on this filter."""
        if self.severity is None:
            return list(findings)
        return [f for f in findings if at_or_above(f.severity, self.severity)]


class Renderer(Protocol[ResultT]):
    """A report format: ``name`` is what ``--format`` and ``-o NAME=FILE`` accept."""

    name: str
    description: str

    def render(self, result: ResultT, options: RenderOptions) -> str: ...


class SiteRenderer(Renderer[ResultT], Protocol[ResultT]):
    """A format written as a directory: ``render`` gives its entry page, ``render_files`` every
    page by relative path (the entry page included)."""

    def render_files(self, result: ResultT, options: RenderOptions) -> dict[str, str]: ...


@dataclass(frozen=True)
class JsonRenderer:
    """A format that is one JSON document: the module gives the document (from an audit result
    or a scan report), this writes it."""

    name: str
    description: str
    document: Callable[[Any, RenderOptions], dict[str, Any]]

    def render(self, result: Any, options: RenderOptions) -> str:
        text = json.dumps(self.document(result, options), indent=2, ensure_ascii=False) + "\n"
        # A non-UTF-8 file name reaches us as lone surrogates; inside a JSON string, backslashreplace
        # writes them as the \udcXX escape JSON itself would use, so the output stays encodable.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
