"""``sitelens diff`` for people (console), for a pull-request comment (markdown) and for tools
(JSON). Renderers only: what is added, fixed or changed was decided in :mod:`sitelens.diff`."""

from __future__ import annotations

import io
import json
from typing import Any

from ..diff import Diff
from ..errors import UsageError
from ..findings import SEVERITY_RANK
from ..humanize import human_bytes

DIFF_FORMATS = ("console", "json", "markdown")


def _label(image: dict[str, Any]) -> str:
    digest = image.get("digest") or ""
    return f"{image.get('reference', '?')}" + (f" ({digest[:19]})" if digest else "")


def _sorted(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f["severity"]], f["rule"], f["fingerprint"]))


def _waste_line(diff: Diff) -> str:
    w = diff.waste.get("wasted_bytes", {})
    e = diff.waste.get("efficiency", {})
    if w.get("old") is None or w.get("new") is None:
        return "wasted bytes: not computed on both sides"
    delta = w["delta"] or 0
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    eff = ""
    if isinstance(e.get("old"), float) and isinstance(e.get("new"), float):
        eff = f"; efficiency {e['old']:.4f} → {e['new']:.4f}"
    return f"wasted bytes {human_bytes(w['old'])} → {human_bytes(w['new'])} ({sign}{human_bytes(abs(delta))}){eff}"


def _verdict(diff: Diff, fail_on: str) -> str:
    n = len(diff.failing(fail_on))
    if n:
        return f"{n} new finding(s) at or above --fail-on {fail_on}: exit 1"
    return f"no new finding at or above --fail-on {fail_on}: exit 0"


def _version_change(c: Any) -> str:
    return {"added": f"added {c.new}", "removed": f"removed (was {c.old})"}.get(c.kind, f"{c.old} → {c.new}")


def render_markdown(diff: Diff, fail_on: str) -> str:
    out = [f"### sitelens: {_label(diff.old)} → {_label(diff.new)}", "",
           f"**{len(diff.added)} added, {len(diff.fixed)} fixed, {len(diff.unchanged)} unchanged** — "
           f"{_verdict(diff, fail_on)}", ""]
    for title, items in (("New findings", diff.added), ("Fixed", diff.fixed)):
        if items:
            out += [f"#### {title}", "", "| severity | rule | finding |", "|---|---|---|"]
            out += [f"| {f['severity']} | {f['rule']} | {_md(f['title'])} |" for f in _sorted(items)]
            out.append("")
    if diff.distributions:
        out += ["#### Distributions", "", "| environment | distribution | site dir | change |", "|---|---|---|---|"]
        out += [f"| `{c.environment}` | {c.name} | `{c.site_dir}` | {_version_change(c)} |"
                for c in diff.distributions]
        out.append("")
    out += [f"_{_waste_line(diff)}_", ""]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_console(diff: Diff, fail_on: str, width: int) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, emoji=False)
    console.print(Text(f"sitelens diff {_label(diff.old)} → {_label(diff.new)}"))
    console.print(Text(f"{len(diff.added)} added, {len(diff.fixed)} fixed, {len(diff.unchanged)} unchanged"
                       f" — {_verdict(diff, fail_on)}"))
    for title, items in (("ADDED", diff.added), ("FIXED", diff.fixed)):
        if items:
            t = Table(title=f"{title} ({len(items)})", title_justify="left", box=None)
            for col in ("severity", "rule", "finding"):
                t.add_column(col, overflow="fold")
            for f in _sorted(items):
                t.add_row(f["severity"], f["rule"], Text(f["title"]))
            console.print(t)
    if diff.distributions:
        t = Table(title="DISTRIBUTIONS", title_justify="left", box=None)
        for col in ("environment", "distribution", "site dir", "change"):
            t.add_column(col, overflow="fold")
        for c in diff.distributions:
            t.add_row(Text(c.environment), Text(c.name), Text(c.site_dir), Text(_version_change(c)))
        console.print(t)
    console.print(Text(_waste_line(diff)))
    return buf.getvalue()


def render_diff(diff: Diff, fmt: str, fail_on: str, width: int) -> str:
    if fmt == "json":
        return json.dumps(diff.to_json(fail_on), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(diff, fail_on)
    if fmt == "console":
        return render_console(diff, fail_on, width)
    raise UsageError(f"unknown format {fmt!r} for diff (choose from {', '.join(DIFF_FORMATS)})")
