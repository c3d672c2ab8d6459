"""``sitelens layers``: per layer what it shipped, changed, hid and re-shipped; then the waste.

A renderer over :class:`~sitelens.pipeline.Loaded` and :class:`~sitelens.waste.WasteReport`:
console (rich tables) or JSON. The dive-compatible figures come first so they can be compared
with ``dive --ci`` output; sitelens's own figures and the Python breakdown follow.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from .. import __version__
from ..errors import UsageError
from ..humanize import human_bytes, short_command
from ..waste import WasteReport, compute_waste
from ..waste.hidden import CAUSES

if TYPE_CHECKING:
    from ..pipeline import Loaded

OFFENDERS_SHOWN = 15
TOP_DIRS_SHOWN = 8
CAUSE_LABEL = {
    "overwritten": "overwritten",
    "reshipped": "re-shipped unchanged",
    "metadata": "chown/chmod copy",
    "deleted": "deleted",
    "deleted-with-dir": "rm -rf dir",
    "opaque": "opaque dir",
    "replaced": "replaced",
}
assert set(CAUSE_LABEL) == set(CAUSES)


def _safe(text: str) -> str:
    """Paths and commands come from the image: escape control characters, never print raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def layers_document(loaded: Loaded, report: WasteReport) -> dict[str, Any]:
    image = loaded.image
    waste = report.to_json()
    by_index = {lw["index"]: lw for lw in waste["by_layer"]}
    layers = []
    for layer in image.layers:
        lw = by_index.get(layer.index, {})
        layers.append({
            "index": layer.index,
            "diff_id": layer.diff_id,
            "digest": layer.digest,
            "media_type": layer.media_type,
            "size": lw.get("size"),  # uncompressed tar bytes
            "blob_size": layer.size,  # as stored or transferred
            "content_bytes": lw.get("content_bytes"),
            "dive_size": report.dive.layer_sizes[layer.index]
            if layer.index < len(report.dive.layer_sizes) else None,
            "created_by": layer.created_by,
            "files": lw.get("files"),
            "hidden_from_below": lw.get("hidden_from_below"),
            "hidden_from_below_by_cause": lw.get("hidden_from_below_by_cause"),
            "reshipped_bytes": lw.get("reshipped_bytes"),
            "metadata_bytes": lw.get("metadata_bytes"),
            "hidden_above": lw.get("hidden_above"),
        })
    return {
        "schema_version": 1,
        "tool": {"name": "sitelens", "version": __version__},
        "image": {
            "reference": image.reference,
            "digest": image.digest,
            "platform": image.platform,
            "layers": layers,
        },
        "waste": waste,
        "warnings": list(loaded.fs.warnings),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.4f} %"


def _short(diff_id: str) -> str:
    return diff_id.split(":", 1)[-1][:12]


def _command(text: str | None, width: int = 60) -> str:
    return _safe(short_command(text, width))


def _layer_table(loaded: Loaded, report: WasteReport) -> Table:
    table = Table(title="Layers", title_justify="left")
    for col, right in (("#", True), ("diff_id", False), ("size", True), ("created_by", False),
                       ("added", True), ("modified", True), ("meta-only", True),
                       ("deleted", True), ("hid below", True), ("re-shipped", True)):
        if col == "created_by":  # the one column that gives way on a narrow terminal
            table.add_column(col, ratio=1, min_width=20, overflow="fold")
        else:
            table.add_column(col, justify="right" if right else "left", no_wrap=True,
                             min_width=max(len(col), 12 if col == "diff_id" else 0))
    for lw in report.hidden.layers:
        table.add_row(
            str(lw.index), _short(lw.diff_id), human_bytes(lw.size), _command(lw.created_by, 120),
            str(lw.files_added), str(lw.files_modified), str(lw.files_metadata),
            str(lw.files_deleted + lw.dirs_deleted),
            human_bytes(lw.hidden_from_below) if lw.hidden_from_below else "-",
            human_bytes(lw.reshipped_bytes) if lw.reshipped_bytes else "-",
        )
    return table


def _figures(report: WasteReport) -> str:
    d = report.dive
    pct = d.user_wasted_percent
    lines = [
        "Wasted bytes, dive-compatible (compare with `dive --ci`):",
        f"  efficiency:        {d.efficiency * 100:.4f} %",
        f"  wastedBytes:       {d.inefficient_bytes} bytes ({human_bytes(d.inefficient_bytes)})",
        f"  userWastedPercent: {'n/a (no bytes above layer 0)' if pct is None else _pct(pct)}",
        "",
        "Wasted bytes, sitelens (every hidden copy, not the kept one):",
        f"  reclaimable:       {report.wasted_bytes} bytes ({human_bytes(report.wasted_bytes)}) "
        f"of {human_bytes(report.total_bytes)} shipped",
        f"  efficiency:        {report.efficiency * 100:.4f} %",
        f"  chown/chmod copies: {human_bytes(report.metadata_bytes)}; content changes and "
        f"deletions: {human_bytes(report.wasted_bytes - report.metadata_bytes)}",
    ]
    if report.hidden.by_cause:
        lines.append("  by cause:          " + ", ".join(
            f"{CAUSE_LABEL[c]} {human_bytes(b)}" for c, b in report.hidden.by_cause.items()))
    if report.hidden.by_top_dir:
        top = list(report.hidden.by_top_dir.items())[:TOP_DIRS_SHOWN]
        lines.append("  by top directory:  " + ", ".join(
            f"{_safe(p)} {human_bytes(b)}" for p, b in top))
    return "\n".join(lines)


def _offenders(report: WasteReport) -> Table | None:
    offenders = report.hidden.offenders[:OFFENDERS_SHOWN]
    if not offenders:
        return None
    table = Table(title="Largest offenders (hidden bytes, biggest first)", title_justify="left")
    for col in ("bytes", "files", "cause", "shipped by", "hidden by", "path"):
        table.add_column(col, justify="right" if col in ("bytes", "files") else "left",
                         no_wrap=col != "path")
    for o in offenders:
        table.add_row(human_bytes(o.bytes), str(o.files), CAUSE_LABEL[o.cause],
                      ",".join(str(x) for x in sorted(o.layers)), str(o.hidden_by), _safe(o.root))
    return table


def _python(report: WasteReport) -> str | None:
    py = report.python
    lines = []
    for g in py.caches:
        what = f"bytecode for Python {g.detail}" if g.kind == "pycache-foreign" else g.kind
        lines.append(f"  {human_bytes(g.bytes):>10}  {what}: {_safe(g.root)} ({g.files} files)")
    for d in py.duplicates:
        lines.append(f"  {human_bytes(d.reclaimable):>10}  {d.name} {d.version} installed "
                     f"identically in {', '.join(_safe(s) for s in d.site_dirs)}")
    for g in py.dead_site_packages:
        lines.append(f"  {human_bytes(g.bytes):>10}  dead site-packages for Python {g.detail}: "
                     f"{_safe(g.root)}")
    if py.toolchain:
        names = ", ".join(t.owner.split(":", 1)[1] for t in py.toolchain[:6])
        more = f" and {len(py.toolchain) - 6} more" if len(py.toolchain) > 6 else ""
        lines.append(f"  {human_bytes(py.toolchain_bytes):>10}  build toolchain: {_safe(names)}{more}")
    if not lines:
        return None
    return "Python-specific waste (visible in the final image):\n" + "\n".join(lines)


def render_console(loaded: Loaded, report: WasteReport, width: int = 140) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, highlight=False, soft_wrap=False)
    image = loaded.image
    console.print(f"Image: {_safe(image.reference)}" + (f"  {image.digest}" if image.digest else ""),
                  markup=False)
    console.print(_layer_table(loaded, report))
    console.print(_figures(report), markup=False)
    offenders = _offenders(report)
    if offenders is not None:
        console.print()
        console.print(offenders)
    py = _python(report)
    if py:
        console.print()
        console.print(py, markup=False)
    notes = [*report.dive.notes, *loaded.fs.warnings]
    if notes:
        console.print()
        for n in notes[:20]:
            console.print(f"note: {_safe(n)}", markup=False)
    return buf.getvalue()


def render_layers(loaded: Loaded, fmt: str) -> str:
    report = compute_waste(loaded.fs, loaded.indexes, loaded.image)
    if fmt == "json":
        return json.dumps(layers_document(loaded, report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "console":
        import os
        import sys

        from .outputs import terminal_width

        # COLUMNS (or the terminal) decides; piped without COLUMNS, the wide table fits 140
        width = terminal_width(sys.stdout.isatty()) if os.environ.get("COLUMNS") or sys.stdout.isatty() else 140
        return render_console(loaded, report, width=max(width, 100))
    raise UsageError(f"unknown format {fmt!r} for layers (console or json)")
