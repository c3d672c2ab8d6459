"""The audit as SARIF 2.1.0, in the subset GitHub code scanning accepts.

- ``tool.driver.rules`` lists every rule of the catalog (so ``ruleIndex`` is stable) with
  name, short/full description, help (the rule page) and helpUri, and a default level.
- A result has ruleId/ruleIndex, level, message, up to 10 locations and
  ``partialFingerprints`` from sitelens's fingerprint, which ignores rebuild noise, so an alert
  stays one alert across image rebuilds.
- Locations: code scanning needs at least one, with a *relative* ``artifactLocation.uri`` and a
  ``region.startLine``. Paths inside the image become relative URIs (``usr/lib/python3/...``);
  a finding about the image as a whole (no path) points at ``Dockerfile``, the file its fix
  changes. The image itself is named in ``run.properties`` and ``automationDetails``.
- Suppressed findings carry ``suppressions: [{kind: external}]`` with the config's reason.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import __version__
from ..rules.catalog import all_rules, rule_page

if TYPE_CHECKING:
    from ..audit import AuditResult
    from ..findings import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks alerts tagged "security" by this score (0.1-10).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                     "info": "1.0"}
SECURITY_RULES = frozenset({"SL201", "SL204", "SL205", "SL206", "SL207"})
MAX_LOCATIONS = 10  # GitHub ignores more
FALLBACK_URI = "Dockerfile"
INFORMATION_URI = "https://github.com/sitelens/sitelens"


def _uri(path: str) -> str:
    rel = path.lstrip("/") or "."
    return quote(rel, safe="/-._~+@", errors="surrogateescape")  # a non-UTF-8 name: its raw bytes


def _rule_descriptor(rule: Any) -> dict[str, Any]:
    page = rule_page(rule.id)
    tags = ["python", "container", "packaging"]
    props: dict[str, Any] = {"tags": tags, "precision": "high"}
    if rule.id in SECURITY_RULES:
        tags.append("security")
        props["security-severity"] = SECURITY_SEVERITY[rule.severity]
    full = rule.summary + (f" Severity: {rule.severity_note}." if rule.severity_note else "")
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": full},
        "help": {"text": page, "markdown": page},
        "helpUri": rule.docs,
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": props,
    }


def _paths(f: Finding) -> list[str]:
    ev = f.evidence
    out: list[str] = []
    for key in ("paths", "path"):
        value = ev.get(key)
        items = value if isinstance(value, list) else [value]
        out += [p for p in items if isinstance(p, str) and p.startswith("/")]
    return list(dict.fromkeys(out))[:MAX_LOCATIONS]


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    locations = [
        {"physicalLocation": {"artifactLocation": {"uri": _uri(p)},
                              "region": {"startLine": 1}}}
        for p in _paths(f)
    ] or [{"physicalLocation": {"artifactLocation": {"uri": FALLBACK_URI},
                                "region": {"startLine": 1}}}]
    res: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": LEVEL[f.severity],
        "message": {"text": f"{f.message}\n\nFix: {f.remediation}"},
        "locations": locations,
        "partialFingerprints": {"sitelens/v1": f.fingerprint},
        "properties": {"severity": f.severity, "evidence": f.evidence},
    }
    if f.rule in SECURITY_RULES:
        res["properties"]["security-severity"] = SECURITY_SEVERITY[f.severity]
    if f.suppressed:
        res["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": (f.suppression or {}).get("reason", "")}]
    return res


def _automation_id(ref: str) -> str:
    return "sitelens/" + re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip("-") + "/"


def sarif_document(result: AuditResult, fail_on: str) -> dict[str, Any]:
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    notifications: list[dict[str, Any]] = [
        {"level": "error",
         "message": {"text": f"check {e.check} crashed ({e.error}); rules "
                             f"{', '.join(e.rules)} were not evaluated"}}
        for e in result.errors
    ]
    notifications += [
        {"level": "warning", "message": {"text": s.message},
         "associatedRule": {"id": s.suppression.rule, "index": index[s.suppression.rule]}}
        for s in result.suppressions if s.is_notice
    ]
    image = result.image
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sitelens",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule_descriptor(r) for r in rules],
            }},
            "automationDetails": {"id": _automation_id(image.reference)},
            "invocations": [{
                "executionSuccessful": not result.errors,
                "exitCode": result.exit_code(fail_on),
                "toolExecutionNotifications": notifications,
            }],
            "results": [_result(f, index) for f in result.findings],
            "properties": {
                "image": {"reference": image.reference, "digest": image.digest,
                          "platform": image.platform},
                "failOn": fail_on,
            },
        }],
    }


def render_sarif(result: AuditResult, fail_on: str) -> str:
    text = json.dumps(sarif_document(result, fail_on), indent=2, ensure_ascii=False) + "\n"
    # A non-UTF-8 file name reaches us as lone surrogates; inside a JSON string, backslashreplace
    # writes them as the \udcXX escape JSON itself would use, so the output stays encodable.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
