"""Small file tests on the merged image filesystem, as CPython's startup code would make them.

CPython asks the kernel ``isfile``/``isdir``/``listdir``/``open``; the answer depends on who
asks (search permission on every ancestor, read permission on the file). These helpers give the
same answers from the image's modes, for one uid/gid set, without touching the host.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..fs import Filesystem, Node


@dataclass(frozen=True)
class Who:
    """The credentials a process runs with (root bypasses rwx checks)."""

    uid: int = 0
    gid: int = 0
    groups: frozenset[int] = field(default_factory=frozenset)

    def bits(self, node: Node) -> int:
        """The rwx bits (0..7) of the class that applies: owner, else group, else other."""
        mode = node.mode
        if node.uid == self.uid:
            return (mode >> 6) & 7
        if node.gid == self.gid or node.gid in self.groups:
            return (mode >> 3) & 7
        return mode & 7


ROOT = Who()


def _walk_ok(fs: Filesystem, path: str, who: Who) -> str | None:
    """Resolve ``path``; None when missing or an ancestor directory is not searchable."""
    real = fs.resolve(path)
    if real is None:
        return None
    if who.uid == 0:
        return real
    # Search (x) permission on every directory on the resolved path.
    cur = posixpath.dirname(real)
    while True:
        node = fs.get(cur)
        if node is None or not who.bits(node) & 1:
            return None
        if cur == "/":
            break
        cur = posixpath.dirname(cur)
    return real


def isfile(fs: Filesystem, path: str, who: Who = ROOT) -> bool:
    real = _walk_ok(fs, path, who)
    node = fs.get(real) if real else None
    return node is not None and node.kind in ("file", "hardlink")


def isdir(fs: Filesystem, path: str, who: Who = ROOT) -> bool:
    real = _walk_ok(fs, path, who)
    node = fs.get(real) if real else None
    return node is not None and node.kind == "dir"


def exists(fs: Filesystem, path: str, who: Who = ROOT) -> bool:
    real = _walk_ok(fs, path, who)
    return real is not None and fs.get(real) is not None


def can_read(fs: Filesystem, path: str, who: Who = ROOT) -> bool:
    real = _walk_ok(fs, path, who)
    node = fs.get(real) if real else None
    if node is None:
        return False
    return who.uid == 0 or bool(who.bits(node) & 4)


def listdir(fs: Filesystem, path: str, who: Who = ROOT) -> list[str] | None:
    """Names in a directory, or None when it cannot be listed by ``who`` (r and x needed)."""
    real = _walk_ok(fs, path, who)
    node = fs.get(real) if real else None
    if node is None or node.kind != "dir":
        return None
    if who.uid != 0 and (who.bits(node) & 5) != 5:
        return None
    return fs.listdir(real or path)


def read_text(fs: Filesystem, path: str, who: Who = ROOT) -> str | None:
    if not can_read(fs, path, who):
        return None
    data = fs.read_bytes(path)
    return data.decode("utf-8", "replace") if data is not None else None


def abspath(path: str, cwd: str) -> str:
    """``os.path.abspath`` inside the image: joined to ``cwd`` and normalised, links kept."""
    joined = posixpath.join(cwd or "/", path)
    out = posixpath.normpath(joined)
    # posixpath keeps a leading '//' (POSIX allows it to mean something else); CPython does too.
    return out
