"""Findings (DESIGN §5): one factual, actionable statement about the image, with evidence.

Checks build findings with :func:`finding`; the fingerprint is derived from the rule and the
stable parts of the evidence (names, paths, identities — never layer digests, sizes or versions),
so it survives a rebuild of the same image and can key suppressions and scan diffs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 is the worst
DOCS_BASE = "https://github.com/sitelens/sitelens/blob/main/docs/rules/"
RULE_ID = re.compile(r"^SL[1-9]\d\d$")

# Evidence keys that identify *what* a finding is about and stay put across rebuilds; used for
# the fingerprint when a check gives no explicit key. Versions, layers and bytes change with
# every rebuild or upgrade of the same problem, so they are left out on purpose.
STABLE_EVIDENCE_KEYS = ("distribution", "paths", "identity", "interpreter")


@dataclass
class Finding:
    rule: str
    severity: str
    title: str
    message: str
    evidence: dict[str, Any]
    remediation: str
    docs: str
    fingerprint: str
    suppressed: bool = False
    suppression: dict[str, Any] | None = None  # the config entry that silenced it
    # the check's severity when the config overrode it (None: not overridden)
    default_severity: str | None = None

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "evidence": self.evidence,
            "remediation": self.remediation,
            "docs": self.docs,
            "fingerprint": self.fingerprint,
            "suppressed": self.suppressed,
        }
        if self.suppression is not None:
            doc["suppression"] = self.suppression
        if self.default_severity is not None:
            doc["default_severity"] = self.default_severity
        return doc


def fingerprint(rule: str, *parts: object) -> str:
    blob = json.dumps([rule, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def docs_url(rule: str) -> str:
    return f"{DOCS_BASE}{rule}.md"


def _default_severity(rule: str) -> str:
    # imported here: the catalog builds its docs links with this module's docs_url
    from .rules.catalog import RULES

    if rule not in RULES:
        raise ValueError(f"rule {rule} is not in the catalog; pass its severity")
    return RULES[rule].severity


def _stable_key(evidence: dict[str, Any]) -> tuple[object, ...]:
    return tuple((k, evidence[k]) for k in STABLE_EVIDENCE_KEYS if evidence.get(k) is not None)


def finding(
    rule: str,
    title: str,
    message: str,
    evidence: dict[str, Any],
    remediation: str,
    key: tuple[object, ...] = (),
    severity: str | None = None,
) -> Finding:
    """Build a finding. ``key`` holds the stable identifying parts used for the fingerprint;
    without one, the stable evidence keys (distribution, paths, identity, interpreter) are used.
    ``severity`` defaults to the rule's in the catalog (RULES.md); a check passes one only when
    the rule's severity note lets it pick another."""
    if not RULE_ID.match(rule):
        raise ValueError(f"malformed rule id {rule!r}")
    if severity is None:
        severity = _default_severity(rule)
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}")
    return Finding(
        rule=rule,
        severity=severity,
        title=title,
        message=message,
        evidence=evidence,
        remediation=remediation,
        docs=docs_url(rule),
        fingerprint=fingerprint(rule, *(key or _stable_key(evidence))),
    )


def at_or_above(severity: str, threshold: str) -> bool:
    """True when ``severity`` is as bad as ``threshold`` or worse."""
    return SEVERITY_RANK[severity] <= SEVERITY_RANK[threshold]


def sort_key(f: Finding) -> tuple[int, str, str]:
    """Worst first, then by rule id, then stable: the order every report uses."""
    return (f.rank, f.rule, f.fingerprint)


def worst(findings: Iterable[Finding]) -> str | None:
    """The worst severity among unsuppressed findings, or None."""
    ranks = [f.rank for f in findings if not f.suppressed]
    return SEVERITIES[min(ranks)] if ranks else None


# A hostile image can make one rule fire tens of thousands of times (20 000 setuid files, 40 000
# unmet requirements); a report that long is useless and costs minutes to render. Past these
# caps the rest is counted in one "and N more" finding / evidence entry.
MAX_PER_RULE = 50
MAX_EVIDENCE_ITEMS = 100


def cap_evidence(f: Finding, limit: int = MAX_EVIDENCE_ITEMS) -> None:
    """Shorten long evidence lists in place; ``evidence["omitted"]`` says how many were cut."""
    omitted: dict[str, int] = {}
    for key, value in list(f.evidence.items()):
        if isinstance(value, list) and len(value) > limit:
            f.evidence[key] = value[:limit]
            omitted[key] = len(value) - limit
    if omitted:
        f.evidence["omitted"] = omitted


def cap_per_rule(findings: list[Finding], limit: int = MAX_PER_RULE) -> list[Finding]:
    """The first ``limit`` findings of each rule (in the given order, worst first), then for each
    rule with more one finding that says how many were left out, at the worst severity among
    them, so the exit code stays what the whole list would give."""
    kept: list[Finding] = []
    dropped: dict[str, list[Finding]] = {}
    seen: dict[str, int] = {}
    for f in findings:
        n = seen.get(f.rule, 0)
        seen[f.rule] = n + 1
        if n < limit:
            cap_evidence(f)
            kept.append(f)
        else:
            dropped.setdefault(f.rule, []).append(f)
    for rule, rest in dropped.items():
        live = [f for f in rest if not f.suppressed]
        first = min(live or rest, key=lambda f: f.rank)
        more = finding(
            rule, f"and {len(rest)} more {rule} findings",
            f"{len(rest)} more {rule} findings ({len(live)} not suppressed) are left out of this "
            f"report; the first {limit} are listed. The worst of them: {first.message}"[:2000],
            {"omitted": len(rest)}, first.remediation, key=("and-more",), severity=first.severity,
        )
        more.suppressed = not live
        kept.append(more)
    return kept


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    suppressed: int = 0

    @classmethod
    def of(cls, findings: list[Finding]) -> Summary:
        s = cls()
        for f in findings:
            if f.suppressed:
                s.suppressed += 1
            else:
                s.counts[f.severity] += 1
        return s

    def to_json(self) -> dict[str, int]:
        return {**self.counts, "suppressed": self.suppressed}
