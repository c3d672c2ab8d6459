"""``os-release(5)``: ``/etc/os-release``, else ``/usr/lib/os-release``, as a dict."""

from __future__ import annotations

import shlex

from ..fs import Filesystem

PATHS = ("/etc/os-release", "/usr/lib/os-release")


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines; values may be shell-quoted. Malformed lines are ignored, as systemd does."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.replace("_", "").isalnum():
            continue
        try:
            parts = shlex.split(value, posix=True)
        except ValueError:
            continue
        out[key] = parts[0] if len(parts) == 1 else " ".join(parts)
    return out


def read_os_release(fs: Filesystem) -> dict[str, str]:
    for path in PATHS:
        text = fs.read_text(path)
        if text is not None:
            return parse_os_release(text)
    return {}
