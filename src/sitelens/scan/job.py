"""The scan coordinator: enumerate → skip what is done → run tasks → store each result → summarise.

Only this process writes to the store (workers return results), which keeps SQLite safe and makes
the store's state after a kill exactly "every task that completed".
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .executor import Executor
from .store import AuditRow, ResultStore
from .targets import Target


@dataclass
class ScanStats:
    images: int = 0
    audited: int = 0
    skipped: int = 0
    failed: int = 0
    moved_tags: int = 0
    layers_total: int = 0
    layers_reused: int = 0
    errors: list[str] = field(default_factory=list)


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_scan(
    targets: list[Target],
    store: ResultStore,
    executor: Executor,
    task: Callable[..., dict[str, Any]],
    task_options: dict[str, Any],
    cfg_hash: str,
    on_result: Callable[[Target, dict[str, Any]], None] | None = None,
) -> ScanStats:
    stats = ScanStats(images=len(targets))
    todo: dict[str, Target] = {}
    for t in targets:
        if t.tag is not None and store.record_tag(t.registry, t.repository, t.tag, t.digest):
            stats.moved_tags += 1
        if store.done(t.digest, __version__, cfg_hash) or t.digest in todo:
            stats.skipped += 1
            continue
        todo[t.digest] = t
    jobs = [(t.reference, task_options) for t in todo.values()]
    by_ref = {t.reference: t for t in todo.values()}
    for (ref, _), result in executor.run(task, jobs):
        target = by_ref[ref]
        row = AuditRow(
            digest=target.digest,
            reference=ref,
            status=result["status"],
            error=result.get("error"),
            counts=result.get("counts") or {},
            wasted_bytes=result.get("wasted_bytes"),
            total_bytes=result.get("total_bytes"),
            layers_total=int(result.get("layers_total") or 0),
            layers_reused=int(result.get("layers_reused") or 0),
            seconds=float(result.get("seconds") or 0.0),
            platform=result.get("platform"),
            result=result.get("result"),
        )
        store.save(row, __version__, cfg_hash)
        if row.status == "ok":
            stats.audited += 1
        else:
            stats.failed += 1
            stats.errors.append(f"{ref}: {row.error}")
        stats.layers_total += row.layers_total
        stats.layers_reused += row.layers_reused
        if on_result:
            on_result(target, result)
    return stats


def summarise(store: ResultStore, cfg_hash: str, stats: ScanStats, top: int = 10) -> dict[str, Any]:
    """The scan report: every image of this tool version/config, worst first, and rule counts."""
    images: list[dict[str, Any]] = []
    rule_images: Counter[str] = Counter()
    rule_findings: Counter[str] = Counter()
    titles: dict[str, str] = {}
    wasted_total = 0
    for row in store.rows(__version__, cfg_hash):
        result = row["result"] or {}
        findings = [f for f in result.get("findings", []) if not f.get("suppressed")]
        for rule in {f["rule"] for f in findings}:
            rule_images[rule] += 1
        for f in findings:
            rule_findings[f["rule"]] += 1
            titles.setdefault(f["rule"], f.get("title", ""))
        wasted_total += int(row["wasted_bytes"] or 0)
        waste = result.get("waste") or {}
        layers = []
        by_layer = {int(b.get("index", i)): b for i, b in enumerate(waste.get("by_layer") or [])}
        for layer in (result.get("image") or {}).get("layers", []):
            extra = by_layer.get(int(layer.get("index", 0)), {})
            layers.append({"index": layer.get("index"), "size": layer.get("size"),
                           "wasted_bytes": extra.get("wasted_bytes") or extra.get("hidden_bytes")})
        images.append({
            "reference": row["reference"], "digest": row["digest"], "platform": row["platform"],
            "status": row["status"], "error": row["error"],
            "counts": {k: row[k] or 0 for k in ("critical", "high", "medium", "low", "info")},
            "wasted_bytes": row["wasted_bytes"], "findings": findings, "layers": layers,
        })

    def badness(img: dict[str, Any]) -> tuple[int, ...]:
        c = img["counts"]
        return (img["status"] == "failed", c["critical"], c["high"], c["medium"], c["low"],
                int(img["wasted_bytes"] or 0))

    images.sort(key=badness, reverse=True)
    summary = {
        "tool_version": __version__,
        "config_hash": cfg_hash,
        "images": len(images),
        "audited": stats.audited,
        "skipped": stats.skipped,
        "failed": sum(1 for i in images if i["status"] == "failed"),
        "moved_tags": stats.moved_tags,
        "layers_total": stats.layers_total,
        "layers_reused": stats.layers_reused,
        "wasted_bytes": wasted_total,
        "top_rules": [
            {"rule": r, "title": titles.get(r, ""), "images": n, "findings": rule_findings[r]}
            for r, n in rule_images.most_common(top)
        ],
    }
    return {"summary": summary, "images": images}
