"""Render a scan report (scan/summary.py) for a terminal (rich) or as JSON; the HTML site is html.py.

Both are renderers of the shared format table (``report/formats.py``, ``TABLE["scan"]``), with the
same :class:`~sitelens.report.interface.RenderOptions` as ``audit``'s formats.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

from ..findings import SEVERITIES
from ..humanize import human_bytes
from ..report.interface import JsonRenderer, RenderOptions
from ..report.outputs import DEFAULT_WIDTH


def size(n: int | None) -> str:
    return "-" if n is None else human_bytes(n)


def short_digest(digest: str | None) -> str:
    return digest.split(":", 1)[-1][:12] if digest else "-"


def image_label(img: dict[str, Any]) -> str:
    """Its tags (or the reference it was audited under) with the short digest: never a bare digest."""
    names = ", ".join(img["tags"]) if img["tags"] else img["reference"].split("@")[0]
    return f"{names} @{short_digest(img['digest'])}"


def headline(report: dict[str, Any]) -> str:
    s = report["summary"]
    why = ", ".join(f"{n} {r}" for r, n in s["failed_by_reason"].items())
    return (f"{s['selected']} selected: {s['audited']} audited, {s['unchanged']} unchanged (skipped by digest), "
            f"{s['failed']} failed{f' ({why})' if why else ''}; {s['moved_tags']} moved tags, "
            f"{s['new_findings']} new and {s['fixed_findings']} fixed findings; layers read {s['layers_total']}, "
            f"reused {s['layers_reused']}; reclaimable {size(s['wasted_bytes'])}")


def render_scan_console(report: dict[str, Any], options: RenderOptions | None = None, top: int = 10) -> str:
    from rich.console import Console  # only the console report needs rich
    from rich.table import Table

    s = report["summary"]
    buf = StringIO()
    width = (options.width if options else None) or DEFAULT_WIDTH
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, markup=False)
    console.print(f"sitelens scan ({'whole store' if s['scope'] == 'store' else 'this run'}): {headline(report)}")
    if report["failed_targets"]:
        t = Table(title="Failed")
        for col in ("target", "reason", "error"):
            t.add_column(col, overflow="fold")
        for f in report["failed_targets"]:
            t.add_row(f["selector"], f["reason"] or "error", f["error"] or "")
        console.print(t)
    if report["moved_tags"]:
        m = Table(title="Moved tags")
        for col in ("tag", "from", "to", "new findings", "fixed findings"):
            m.add_column(col, overflow="fold")
        for mv in report["moved_tags"]:
            m.add_row(mv["selector"], short_digest(mv["from"]), short_digest(mv["to"]),
                      " ".join(f["rule"] for f in mv["new_findings"]) or "-",
                      " ".join(f["rule"] for f in mv["fixed_findings"]) or "-")
        console.print(m)
    images = report["images"]
    t = Table(title=f"Worst images ({min(top, len(images))} of {len(images)})")
    t.add_column("image", overflow="fold")
    for sev in SEVERITIES:
        t.add_column(sev, justify="right")
    t.add_column("reclaimable", justify="right")
    t.add_column("status")
    for img in images[:top]:
        status = img["outcome"] or img["status"] if img["status"] == "ok" else f"failed ({img['reason'] or 'error'})"
        t.add_row(image_label(img), *(str(img["counts"].get(sev, 0)) for sev in SEVERITIES),
                  size(img["wasted_bytes"]), status)
    console.print(t)
    if s["top_rules"]:
        r = Table(title="Most common rules")
        for col, just in (("rule", "left"), ("title", "left"), ("images", "right"), ("findings", "right")):
            r.add_column(col, justify=just)  # type: ignore[arg-type]
        for row in s["top_rules"]:
            r.add_row(row["rule"], row["title"], str(row["images"]), str(row["findings"]))
        console.print(r)
    return buf.getvalue()


class ScanConsoleRenderer:
    name = "console"
    description = "the run's summary, failures, moved tags and worst images, for people (rich)"

    def render(self, result: dict[str, Any], options: RenderOptions) -> str:
        return render_scan_console(result, options)


CONSOLE = ScanConsoleRenderer()
JSON = JsonRenderer(
    "json", "the scan report: summary, targets, images with their findings (docs/scan.md)",
    lambda report, options: report)
