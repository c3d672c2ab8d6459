"""Small file tests on the merged image filesystem, as CPython's startup and import code make them.

CPython asks the kernel ``isfile``/``isdir``/``listdir``/``open``; the answer depends on who
asks. Every answer here comes from the one permission engine (:mod:`sitelens.permissions`):
search permission on every directory walked (symlinked ones included), the owner/group/other
class, ACLs and root's bypass — so the import path the inventory builds and the access the
checks judge cannot disagree.
"""

from __future__ import annotations

import posixpath

from ..fs import Filesystem, Node
from ..permissions import ROOT, Cred, engine

__all__ = ["ROOT", "Cred", "abspath", "can_read", "exists", "isdir", "isfile", "listdir", "read_text", "stat"]


def stat(fs: Filesystem, path: str, who: Cred = ROOT) -> Node | None:
    """The node ``os.stat(path)`` reports for ``who`` (None: missing or an ancestor denies
    search)."""
    access = engine(fs).stat(who, path)
    return fs.get(access.real) if access.allowed and access.real else None


def isfile(fs: Filesystem, path: str, who: Cred = ROOT) -> bool:
    node = stat(fs, path, who)
    return node is not None and node.kind in ("file", "hardlink")


def isdir(fs: Filesystem, path: str, who: Cred = ROOT) -> bool:
    node = stat(fs, path, who)
    return node is not None and node.kind == "dir"


def exists(fs: Filesystem, path: str, who: Cred = ROOT) -> bool:
    return stat(fs, path, who) is not None


def can_read(fs: Filesystem, path: str, who: Cred = ROOT) -> bool:
    """``open(path)`` for reading would succeed."""
    return engine(fs).read(who, path).allowed


def listdir(fs: Filesystem, path: str, who: Cred = ROOT) -> list[str] | None:
    """Names in a directory, or None when ``who`` cannot list *and search* it (r and x): what a
    sys.path entry needs before anything in it can be imported."""
    access = engine(fs).list(who, path)
    if not access.allowed or access.real is None:
        return None
    return fs.listdir(access.real, follow=False)


def read_text(fs: Filesystem, path: str, who: Cred = ROOT) -> str | None:
    if not can_read(fs, path, who):
        return None
    data = fs.read_bytes(path)
    return data.decode("utf-8", "replace") if data is not None else None


def abspath(path: str, cwd: str) -> str:
    """``os.path.abspath`` inside the image: joined to ``cwd`` and normalised, links kept."""
    # posixpath keeps a leading '//' (POSIX allows it to mean something else); CPython does too.
    return posixpath.normpath(posixpath.join(cwd or "/", path))
