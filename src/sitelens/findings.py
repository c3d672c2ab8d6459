"""Findings (DESIGN §5): one factual, actionable statement about the image, with evidence.

Checks build findings with :func:`finding`; the fingerprint is derived from the rule and the
stable parts of the evidence (names, paths, identities — never layer digests or sizes), so it
survives a rebuild of the same image and can key suppressions and scan diffs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # 0 is the worst
DOCS_BASE = "https://github.com/sitelens/sitelens/blob/main/docs/rules/"


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
        return doc


def fingerprint(rule: str, *parts: object) -> str:
    blob = json.dumps([rule, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def docs_url(rule: str) -> str:
    return f"{DOCS_BASE}{rule}.md"


def finding(
    rule: str,
    severity: str,
    title: str,
    message: str,
    evidence: dict[str, Any],
    remediation: str,
    key: tuple[object, ...] = (),
) -> Finding:
    """Build a finding. ``key`` holds the stable identifying parts used for the fingerprint."""
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
        fingerprint=fingerprint(rule, *key),
    )


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))

    @classmethod
    def of(cls, findings: list[Finding]) -> Summary:
        s = cls()
        for f in findings:
            if not f.suppressed:
                s.counts[f.severity] += 1
        return s
