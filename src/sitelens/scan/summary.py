"""The scan report's data: this run's targets (or the whole store with ``--all``), one entry per
image with its tags, what changed since the tags last pointed elsewhere, and rule counts.

Everything is sorted by explicit keys (never by database or dict order) so two identical runs
give identical reports; rule titles come from the rule catalog, not from one finding.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .. import __version__
from ..errors import EXIT_FINDINGS, EXIT_IMAGE, EXIT_OK
from ..findings import SEVERITIES, SEVERITY_RANK, at_or_above
from .job import RunResult
from .store import ResultStore

_FINDING_KEYS = ("rule", "severity", "title", "message", "remediation", "docs", "fingerprint", "suppressed")


def _rule_title(rule: str) -> str:
    from ..rules.catalog import get_rule

    try:
        return get_rule(rule).title
    except Exception:  # noqa: BLE001 - an unknown id (a newer store) still gets listed
        return ""


def _layers(result: dict[str, Any]) -> list[dict[str, Any]]:
    waste = result.get("waste") or {}
    by_layer = {int(b.get("index", i)): b for i, b in enumerate(waste.get("by_layer") or [])}
    out = []
    for layer in (result.get("image") or {}).get("layers", []):
        extra = by_layer.get(int(layer.get("index", 0)), {})
        out.append({"index": layer.get("index"), "size": layer.get("size"), "created_by": layer.get("created_by"),
                    "wasted_bytes": extra.get("wasted_bytes") or extra.get("hidden_bytes")})
    return out


def _image_entry(row: dict[str, Any]) -> dict[str, Any]:
    result = row["result"] or {}
    findings = sorted(
        ({k: f.get(k) for k in _FINDING_KEYS} for f in result.get("findings", [])),
        key=lambda f: (bool(f["suppressed"]), SEVERITY_RANK.get(f["severity"], 9), f["rule"], f["fingerprint"] or ""),
    )
    return {
        "digest": row["digest"], "tags": [], "reference": row["reference"], "platform": row["platform"],
        "status": row["status"], "reason": row["reason"], "error": row["error"], "outcome": None,
        "counts": {k: row[k] or 0 for k in SEVERITIES}, "wasted_bytes": row["wasted_bytes"],
        "total_bytes": row["total_bytes"], "findings": findings, "layers": _layers(result),
    }


def _badness(img: dict[str, Any]) -> tuple[Any, ...]:
    c = img["counts"]
    return (img["status"] != "failed", *(-c[s] for s in SEVERITIES), -int(img["wasted_bytes"] or 0),
            img["tags"][0] if img["tags"] else "", img["digest"] or "")


def _diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Unsuppressed findings only in ``new`` (new) and only in ``old`` (fixed), by fingerprint."""
    def live(img: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        return {f["fingerprint"]: f for f in (img or {}).get("findings", []) if not f["suppressed"]}

    a, b = live(old), live(new)
    pick = ("rule", "severity", "title", "fingerprint")
    return ([{k: b[fp][k] for k in pick} for fp in sorted(b.keys() - a.keys())],
            [{k: a[fp][k] for k in pick} for fp in sorted(a.keys() - b.keys())])


def summarise(store: ResultStore, cfg_hash: str, run: RunResult, all_images: bool = False,
              top: int = 10) -> dict[str, Any]:
    targets = store.run_target_rows(run.run_id)
    digests = {t["digest"] for t in targets if t["digest"]}
    previous = {t["previous_digest"] for t in targets if t["previous_digest"]}
    # Only the parts a report shows are kept, never the full audit documents (memory at 10 000 images).
    entries = {r["digest"]: _image_entry(r)
               for r in store.rows(__version__, cfg_hash, None if all_images else digests | previous)}
    keep = set(entries) if all_images else digests & set(entries)
    images = {digest: entries[digest] for digest in sorted(keep)}
    if all_images:
        for tag in store.tag_rows():
            if tag["digest"] in images:
                images[tag["digest"]]["tags"].append(f"{tag['registry']}/{tag['repository']}:{tag['tag']}")

    failed_targets: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for t in sorted(targets, key=lambda t: t["selector"]):
        img = images.get(t["digest"]) if t["digest"] else None
        if img is not None:
            if t["selector"] not in img["tags"]:
                img["tags"].append(t["selector"])
            img["outcome"] = t["outcome"] if img["outcome"] in (None, "unchanged") else img["outcome"]
        if t["outcome"] == "failed":
            failed_targets.append({"selector": t["selector"], "digest": t["digest"], "reason": t["reason"],
                                   "error": t["error"]})
        if t["previous_digest"]:
            new, fixed = _diff(entries.get(t["previous_digest"]), img)
            moved.append({"selector": t["selector"], "from": t["previous_digest"], "to": t["digest"],
                          "new_findings": new, "fixed_findings": fixed})
    for img in images.values():
        img["tags"].sort()

    ordered = sorted(images.values(), key=_badness)
    rule_images: Counter[str] = Counter()
    rule_findings: Counter[str] = Counter()
    for img in ordered:
        live = [f for f in img["findings"] if not f["suppressed"]]
        rule_images.update({f["rule"] for f in live})
        rule_findings.update(f["rule"] for f in live)
    reasons = Counter(f["reason"] or "error" for f in failed_targets)
    stats = run.stats
    summary = {
        "tool_version": __version__,
        "config_hash": cfg_hash,
        "run_id": run.run_id,
        "scope": "store" if all_images else "run",
        "selected": stats.selected,
        "audited": stats.audited,
        "unchanged": stats.unchanged,
        "failed": stats.failed,
        "failed_by_reason": dict(sorted(reasons.items())),
        "images": len(ordered),
        "moved_tags": len(moved),
        "new_findings": sum(len(m["new_findings"]) for m in moved),
        "fixed_findings": sum(len(m["fixed_findings"]) for m in moved),
        "layers_total": stats.layers_total,
        "layers_reused": stats.layers_reused,
        "wasted_bytes": sum(int(i["wasted_bytes"] or 0) for i in ordered),
        "seconds": round(run.seconds, 3),
        "top_rules": [
            {"rule": r, "title": _rule_title(r), "images": rule_images[r], "findings": rule_findings[r]}
            for r in sorted(rule_images, key=lambda r: (-rule_images[r], -rule_findings[r], r))[:top]
        ],
    }
    return {"summary": summary, "failed_targets": failed_targets, "moved_tags": moved, "images": ordered}


def scan_exit_code(report: dict[str, Any], fail_on: str) -> int:
    """3 when any target failed; else 1 when an image of the report has an unsuppressed finding
    at or above ``fail_on``; else 0."""
    if report["summary"]["failed"]:
        return EXIT_IMAGE
    if fail_on != "none":
        for img in report["images"]:
            if any(not f["suppressed"] and at_or_above(f["severity"], fail_on) for f in img["findings"]):
                return EXIT_FINDINGS
    return EXIT_OK
