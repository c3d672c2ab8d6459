"""``audit --baseline report.json``: fail only on findings that are new since a saved report.

A finding whose fingerprint the baseline already has is treated like a config suppression
(``suppressed: true``, reason naming the baseline): it stays in every report, it never counts
toward the exit code. Fingerprints ignore rebuild noise, so a rebuilt image keeps its baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .diff import load_report

if TYPE_CHECKING:
    from .audit import AuditResult


def apply_baseline(result: AuditResult, path: Path) -> int:
    """Mark the findings the baseline already has; returns how many were marked."""
    known = {f.get("fingerprint") for f in load_report(path)["findings"] if isinstance(f, dict)}
    marked = 0
    for f in result.findings:
        if f.suppressed or f.fingerprint not in known:
            continue
        f.suppressed = True
        f.suppression = {"rule": f.rule, "match": f.fingerprint, "reason": f"present in baseline {path}",
                         "expires": None}
        marked += 1
    return marked
