"""The audit for a person at a terminal (rich): one screen of summary first — the image, who
runs it, how it was built, the verdict and the worst findings — then every finding by severity
with its evidence table and fix, then the environments. A renderer only: severities, winners
and exit codes all come from the :class:`~sitelens.audit.AuditResult`.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..findings import SEVERITIES, Finding
from .interface import RenderOptions

if TYPE_CHECKING:
    from ..audit import AuditResult

STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
         "low": "cyan", "info": "dim"}
WORST_ON_SUMMARY = 5


def _safe(value: object) -> str:
    """Strings come from the image: never let a control character reach the terminal."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _badge(severity: str) -> Text:
    return Text(f" {severity.upper()} ", style=STYLE[severity])


def _access(value: dict[str, Any]) -> str:
    """A permission decision (``{op, path, allowed, denied_by}``) as a sentence."""
    verdict = "allowed" if value.get("allowed") else "denied"
    text = f"{value.get('op', 'access')} {value.get('path', '')}: {verdict}"
    by = value.get("denied_by")
    if isinstance(by, dict):
        text += (f" by {by.get('path')} ({by.get('kind', 'entry')} mode {by.get('mode')}, owner "
                 f"{by.get('owner')}: the {by.get('class')} class lacks {by.get('need')})")
    return text


def _words(value: Any) -> str:
    """Evidence for a reader: no Python reprs (dicts, True/False/None) ever reach the screen."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if "allowed" in value and "op" in value:
            return _safe(_access(value))
        return ", ".join(f"{_safe(k)} {_words(v)}" for k, v in value.items() if v not in (None, [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value)
    return _safe(value)


def _evidence_value(value: Any) -> Text:
    if isinstance(value, (list, tuple)):
        return Text("\n".join(_words(v) for v in value if v is not None))
    return Text(_words(value))


def _evidence_rows(evidence: dict[str, Any]) -> list[tuple[str, Any]]:
    """Rows worth showing: no empty values, and one row where a check gave both a singular key
    and its plural (``identity``/``identities``) with the same content."""
    rows = []
    for key, value in evidence.items():
        if value is None or value == [] or value == {} or value == "":
            continue
        plural = evidence.get(key + "s")
        if isinstance(plural, list) and (plural == [value] or value in plural):
            continue  # the plural row says it (and more)
        singular = evidence.get(key[:-1]) if key.endswith("s") else None
        if singular is not None and value == [singular]:
            continue
        rows.append((key, value))
    return rows


def _evidence_table(f: Finding) -> Table:
    t = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")  # a long path wraps whole; never "…" in the middle of it
    for key, value in _evidence_rows(f.evidence):
        t.add_row(Text(_safe(key)), _evidence_value(value))
    return t


def _verdict(result: AuditResult, fail_on: str) -> Text:
    s = result.summary
    parts = [f"{s.counts[sev]} {sev}" for sev in SEVERITIES if s.counts[sev]]
    text = Text(", ".join(parts) if parts else "no findings")
    if s.suppressed:
        text.append(f" ({s.suppressed} suppressed)", style="dim")
    code = result.exit_code(fail_on)
    gate = "never fails" if fail_on == "none" else f"fails at {fail_on} or worse"
    if result.errors:
        text.append(f" — INCOMPLETE: {len(result.errors)} check(s) crashed, exit {code}",
                    style="bold red")
    elif code:
        n = len(result.failing(fail_on))
        text.append(f" — {n} at or above --fail-on {fail_on}, exit {code}", style="bold red")
    else:
        text.append(f" — passes (--fail-on {fail_on}: {gate}), exit 0", style="green")
    return text


def _summary(result: AuditResult, shown: list[Finding], fail_on: str) -> Panel:
    image = result.image
    cfg = image.config
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    digest = f"  {image.digest}" if image.digest else ""
    grid.add_row("Image", Text(_safe(image.reference) + digest))
    os_name = result.inventory.os_release.get("PRETTY_NAME")
    grid.add_row("Platform", Text(image.platform + (f"  {_safe(os_name)}" if os_name else "")
                                  + f"  {len(image.layers)} layers"))
    runs = ", ".join(
        f"{i.name} uid {i.uid} gid {i.gid}" + (f" ({_safe(i.username)})" if i.username else "")
        + (f" HOME={_safe(i.home)}" if i.home else "")
        for i in result.identities if i.name in ("image-user", "arbitrary-uid")
    )
    grid.add_row("Runs as", Text(runs or "—"))
    argv = [*(cfg.entrypoint or []), *(cfg.cmd or [])]
    if argv:
        grid.add_row("Command", Text(_safe(" ".join(argv))))
    strategy = result.strategy
    grid.add_row("Built as", Text(strategy.describe()
                                  + (f" at {_safe(strategy.environment)}" if strategy.environment
                                     else "")))
    grid.add_row("Result", _verdict(result, fail_on))
    unsuppressed = [f for f in shown if not f.suppressed]
    worst = unsuppressed[:WORST_ON_SUMMARY]
    body: list[Any] = [grid]
    if worst:
        # one line each: the full story and fix of every finding follow once, below
        body.append(Text("\nWorst findings", style="bold"))
        for f in worst:
            line = Text("  ")
            line.append_text(_badge(f.severity))
            line.append(f" {f.rule} ", style="bold")
            line.append(_safe(f.title))
            body.append(line)
        rest = len(unsuppressed) - len(worst)
        if rest > 0:
            body.append(Text(f"  … and {rest} more below", style="dim"))
    return Panel(Group(*body), title=f"sitelens {__version__} audit", title_align="left")


def _finding(f: Finding) -> Panel:
    head = Text()
    head.append_text(_badge(f.severity))
    head.append(f" {f.rule} {_safe(f.title)}", style="bold")
    if f.default_severity:
        head.append(f"  (config: was {f.default_severity})", style="dim")
    parts: list[Any] = [Text(_safe(f.message)), Text()]
    if f.evidence:
        parts += [_evidence_table(f), Text()]
    fix = Text("Fix: ", style="bold green")
    fix.append(_safe(f.remediation))
    # the rule page ships with sitelens: the command always works, a URL may not be reachable
    parts += [fix, Text(f"More: sitelens explain {f.rule}", style="dim")]
    return Panel(Group(*parts), title=head, title_align="left", border_style=STYLE[f.severity]
                 if f.severity != "critical" else "red")


def _environments(result: AuditResult) -> Table:
    t = Table(title="Environments", title_justify="left", expand=False)
    for col in ("interpreter", "kind", "version", "prefix", "distributions", "import path"):
        t.add_column(col, overflow="fold")
    for env in result.inventory.environments:
        by_installer: dict[str, int] = {}
        for d in env.distributions:
            by_installer[d.installer] = by_installer.get(d.installer, 0) + 1
        dists = ", ".join(f"{n} {k}" for k, n in sorted(by_installer.items())) or "none"
        # identities with the same import path (root and an image user that is uid 0) share a row
        same: dict[tuple[str, ...], list[str]] = {}
        for ident, entries in env.sys_path.items():
            key = tuple(e.path for e in entries if e.exists and e.site_dir)
            same.setdefault(key, []).append(ident)
        paths = [f"{', '.join(idents)}: " + (" → ".join(_safe(p) for p in key) or "none")
                 for key, idents in same.items()]
        t.add_row(Text(_safe(env.executable)), env.kind, env.version, Text(_safe(env.prefix)),
                  dists, Text("\n".join(paths)))
    return t


DEFAULT_WIDTH = 110


def render_console(result: AuditResult, options: RenderOptions) -> str:
    fail_on = options.fail_on
    shown = options.shown(result.findings)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=options.color, no_color=not options.color,
                      width=options.width or DEFAULT_WIDTH, highlight=False, emoji=False,
                      soft_wrap=False)
    console.print(_summary(result, shown, fail_on))
    for failure in result.errors:
        console.print(Text(f"INTERNAL ERROR in check {failure.check} ({', '.join(failure.rules)}):"
                           f" {_safe(failure.error)} — these rules were not evaluated; please "
                           "report this as a sitelens bug.", style="bold red"))
    for notice in (s for s in result.suppressions if s.is_notice):
        console.print(Text(f"Suppression notice: {_safe(notice.message)}", style="yellow"))
    for sev in SEVERITIES:
        group = [f for f in shown if f.severity == sev and not f.suppressed]
        if not group:
            continue
        console.rule(Text(f"{sev.upper()} ({len(group)})", style=STYLE[sev]), align="left")
        for f in group:
            console.print(_finding(f))
    suppressed = [f for f in shown if f.suppressed]
    if suppressed:
        console.rule(Text(f"SUPPRESSED ({len(suppressed)})", style="dim"), align="left")
        for f in suppressed:
            reason = (f.suppression or {}).get("reason", "")
            console.print(Padding(Text(f"{f.rule} {_safe(f.message)} — {_safe(reason)}",
                                       style="dim"), (0, 2)))
    if result.inventory.environments:
        console.print(_environments(result))
    for w in result.inventory.warnings:
        console.print(Text(f"warning: {_safe(w)}", style="dim"))
    return buf.getvalue()


class ConsoleRenderer:
    name = "console"
    description = "a report for people (rich; colour on a terminal)"

    def render(self, result: AuditResult, options: RenderOptions) -> str:
        return render_console(result, options)


RENDERER = ConsoleRenderer()
