"""Scripts that start with ``#!``: the one reader of shebang lines.

Linux passes everything after the interpreter as one argument (``#!/usr/bin/python3 -sE`` runs
``python3`` with ``-sE``); the layer index keeps the first line of every such file.
"""

from __future__ import annotations

from ..fs import Filesystem
from .model import Script


def parse_shebang(head: bytes) -> tuple[str, str] | None:
    """(interpreter, the one argument or "") of a ``#!`` line; None when it names nothing."""
    words = head[2:].decode("utf-8", "replace").strip().split(None, 1)
    if not words:
        return None
    return words[0], words[1].strip() if len(words) > 1 else ""


def find_scripts(fs: Filesystem) -> list[Script]:
    """Every ``#!`` file in a ``bin`` directory: console scripts and the tools on PATH."""
    out: list[Script] = []
    for node in fs.nodes():
        e = node.entry
        if e.head is None or not e.head.startswith(b"#!") or "/bin/" not in e.path:
            continue
        parsed = parse_shebang(e.head)
        if parsed is not None:
            out.append(Script(e.path, node.layer, *parsed))
    return out
