"""Apply the config to findings: per-rule severity overrides, then suppressions.

A suppressed finding is kept (``suppressed: true`` with the entry that silenced it) and never
counts toward the exit code. Every configured suppression comes back with a status, so a
suppression that expired (its findings count again) or that matched nothing (the problem is
gone, or the entry has a typo) is reported instead of silently lingering.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from packaging.utils import canonicalize_name

from .config import Config, Suppression
from .findings import Finding

ACTIVE = "active"
EXPIRED = "expired"
UNUSED = "unused"
_GLOB = re.compile(r"[*?\[/]")


@dataclass(frozen=True)
class SuppressionStatus:
    suppression: Suppression
    status: str  # active | expired | unused
    matched: int  # findings it matches (for an expired one: would have matched)

    @property
    def is_notice(self) -> bool:
        return self.status != ACTIVE

    @property
    def message(self) -> str:
        s = self.suppression
        what = f"suppression of {s.rule}" + (f" for {s.match!r}" if s.match else "")
        if self.status == EXPIRED:
            assert s.expires is not None
            return (f"{what} expired on {s.expires.isoformat()}; its {self.matched} finding(s) "
                    f"count again. Fix them or renew the entry ({s.where}).")
        if self.status == UNUSED:
            return (f"{what} matched no finding: the problem is gone or the match is wrong; "
                    f"remove or correct the entry ({s.where}).")
        return f"{what} silences {self.matched} finding(s): {s.reason}"

    def to_json(self) -> dict[str, Any]:
        return {**self.suppression.to_json(), "status": self.status, "matched": self.matched,
                "message": self.message}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def matches(s: Suppression, f: Finding) -> bool:
    """Does the entry cover the finding? ``match`` is tried as the finding's fingerprint, a
    distribution name (PEP 503 normalised), an owner (``dpkg:python3-jinja2``) and, when it
    looks like a path, a glob over the evidence paths (``*`` also crosses ``/``)."""
    if s.rule != f.rule:
        return False
    if s.match is None:
        return True
    m = s.match
    if m == f.fingerprint:
        return True
    ev = f.evidence
    if any(canonicalize_name(d) == canonicalize_name(m) for d in _strings(ev.get("distribution"))):
        return True
    if m in _strings(ev.get("owners")):
        return True
    if _GLOB.search(m):
        paths = _strings(ev.get("paths")) + _strings(ev.get("path"))
        return any(fnmatchcase(p, m) for p in paths)
    return False


def apply_config(
    findings: list[Finding], config: Config, today: dt.date | None = None
) -> tuple[list[Finding], list[SuppressionStatus]]:
    """New findings with overrides and suppressions applied, and each suppression's status."""
    day = today or dt.date.today()
    out: list[Finding] = []
    for f in findings:
        sev = config.severity.get(f.rule)
        if sev is not None and sev != f.severity:
            f = replace(f, severity=sev, default_severity=f.severity)
        out.append(f)
    statuses: list[SuppressionStatus] = []
    for s in config.suppress:
        hits = [i for i, f in enumerate(out) if matches(s, f)]
        # expires is the last day the entry holds
        if s.expires is not None and s.expires < day:
            statuses.append(SuppressionStatus(s, EXPIRED, len(hits)))
            continue
        if not hits:
            statuses.append(SuppressionStatus(s, UNUSED, 0))
            continue
        for i in hits:
            if not out[i].suppressed:  # the first matching entry is the one recorded
                out[i] = replace(out[i], suppressed=True, suppression=s.to_json())
        statuses.append(SuppressionStatus(s, ACTIVE, len(hits)))
    return out, statuses
