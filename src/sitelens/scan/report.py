"""Render a scan summary for a terminal (rich) or as JSON; the HTML page is in html.py."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

from rich.console import Console
from rich.table import Table

from ..findings import SEVERITIES
from ..humanize import human_bytes


def render_scan_console(report: dict[str, Any], errors: list[str], top: int = 10) -> str:
    s = report["summary"]
    buf = StringIO()
    import sys

    from ..report.outputs import terminal_width

    console = Console(file=buf, width=terminal_width(sys.stdout.isatty()), color_system=None,
                      force_terminal=False)
    console.print(
        f"[bold]sitelens scan[/bold]: {s['images']} images, {s['audited']} audited this run, "
        f"{s['skipped']} already audited, {s['failed']} failed; layers read {s['layers_total']}, "
        f"reused from cache {s['layers_reused']}; reclaimable {human_bytes(s['wasted_bytes'])}"
    )
    t = Table(title="Worst images", show_lines=False)
    t.add_column("image")
    for sev in SEVERITIES:
        t.add_column(sev, justify="right")
    t.add_column("reclaimable", justify="right")
    t.add_column("status")
    for img in report["images"][:top]:
        t.add_row(img["reference"], *(str(img["counts"].get(sev, 0)) for sev in SEVERITIES),
                  human_bytes(img["wasted_bytes"]),
                  img["status"] if img["status"] == "ok" else f"failed: {img['error']}")
    console.print(t)
    if s["top_rules"]:
        r = Table(title="Most common rules")
        r.add_column("rule")
        r.add_column("title")
        r.add_column("images", justify="right")
        r.add_column("findings", justify="right")
        for row in s["top_rules"]:
            r.add_row(row["rule"], row["title"], str(row["images"]), str(row["findings"]))
        console.print(r)
    for e in errors:
        console.print(f"could not enumerate or resolve: {e}")
    return buf.getvalue()


def render_scan_json(report: dict[str, Any], errors: list[str]) -> str:
    doc = dict(report)
    doc["errors"] = errors
    return json.dumps(doc, indent=2, sort_keys=False)
