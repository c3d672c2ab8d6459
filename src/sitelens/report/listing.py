"""``sitelens ls``: a directory listing of the merged filesystem (console table or JSON).

A renderer over :class:`~sitelens.fs.Filesystem`, nothing more: which path is listed is decided
the way ``ls -l`` decides it. A directory (or a symlink to one) lists its children; anything else
lists just itself, a symlink shown as the link (``-> target``). A path that does not exist in the
image is a :class:`~sitelens.errors.UsageError` (exit 2): the image was read fine, the argument
names nothing in it.
"""

from __future__ import annotations

import io
import json
import posixpath
import stat
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import UsageError
from ..fs import Filesystem, Node


def _safe(name: str) -> str:
    """File names come from the image: show control characters escaped, never raw."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _selected(fs: Filesystem, path: str) -> tuple[str, list[Node]]:
    if not path.startswith("/"):
        path = "/" + path
    real = fs.resolve(path)
    if real is not None:
        node = fs.get(real)
        if node is not None and node.kind == "dir":
            prefix = real.rstrip("/") + "/"
            kids = [fs.get(prefix + name) for name in fs.listdir(real, follow=False)]
            return real, [k for k in kids if k is not None]
    # Not a directory: show the entry itself without following its last component (ls -l).
    itself = fs.lookup(path, follow=False)
    if itself is None:
        raise UsageError(f"{path}: no such file or directory in the image")
    return itself.path, [itself]


def _row(node: Node) -> dict[str, Any]:
    e = node.entry
    return {
        "path": e.path,
        "name": posixpath.basename(e.path) or "/",
        "type": e.kind,
        "mode": stat.filemode(node.st_mode),
        "perm": f"{e.mode & 0o7777:04o}",
        "uid": e.uid,
        "gid": e.gid,
        "size": node.size if e.kind in ("file", "hardlink") else 0,
        "layer": node.layer if node.layer >= 0 else None,
        "link": e.link if e.kind in ("symlink", "hardlink") else None,
        "implicit": node.implicit,
    }


def render_listing(fs: Filesystem, path: str, fmt: str) -> str:
    """The listing of ``path`` in ``fmt`` ("console" or "json")."""
    _, nodes = _selected(fs, path)
    rows = [_row(n) for n in nodes]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for col, justify in (("mode", "left"), ("uid", "right"), ("gid", "right"), ("size", "right"),
                         ("layer", "right"), ("name", "left")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        name = _safe(r["name"])
        if r["type"] == "symlink":
            name += " -> " + _safe(r["link"] or "")
        elif r["type"] == "hardlink":
            name += " => " + _safe(r["link"] or "")
        table.add_row(
            r["mode"], str(r["uid"]), str(r["gid"]), str(r["size"]),
            "-" if r["layer"] is None else str(r["layer"]),
            Text(name),  # Text, not markup: a file named "[red]x" stays literal
        )
    buf = io.StringIO()
    # Wide enough that long names are never wrapped or cut; the table does not expand to it.
    Console(file=buf, width=4096, color_system=None, highlight=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
