"""How sitelens writes numbers and commands for people: one place, so every report agrees.

- Bytes in IEC units (1536 → ``1.5 KiB``), as ``du -h`` and dive print them; never SI ``KB``.
- A layer's ``created_by`` shortened at a word boundary with ``…``, never cut mid-word, with the
  shell wrapper Docker adds (``/bin/sh -c``, ``#(nop)``, ``# buildkit``) taken off.
"""

from __future__ import annotations

import re

_UNITS = ("KiB", "MiB", "GiB", "TiB")
_SHELL = re.compile(r"^(RUN )?/bin/(?:ba)?sh -c (?:#\(nop\) ?)?")
_BUILDKIT = re.compile(r"\s+# buildkit$")


def human_bytes(n: float | None) -> str:
    """1536 → ``1.5 KiB``; ``None`` (unknown) → ``-``."""
    if n is None:
        return "-"
    if abs(n) < 1024:
        return f"{n:.0f} B"
    for unit in _UNITS:
        n /= 1024
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def plain_command(created_by: str | None) -> str:
    """``/bin/sh -c #(nop) COPY file:… in /app`` → ``COPY file:… in /app``, whitespace folded."""
    if not created_by:
        return ""
    text = " ".join(created_by.split())
    text = _BUILDKIT.sub("", text)
    return _SHELL.sub(lambda m: m.group(1) or "", text).strip()


def short_command(created_by: str | None, width: int = 70) -> str:
    """The command cut at the last whole word that fits in ``width`` characters, then ``…``."""
    text = plain_command(created_by)
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space > width // 2:  # keep a long single token rather than nothing
        cut = cut[:space]
    return cut.rstrip(" #") + "…"  # a lone "#" would open a comment that is not there
