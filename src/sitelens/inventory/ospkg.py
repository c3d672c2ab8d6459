"""Find the OS package databases of an image and read each with its manager's parser.

The readers and where each looks are the table in ``sitelens/dbreaders.py``: dpkg
``/var/lib/dpkg`` (``status`` or distroless ``status.d/``), rpm ``/var/lib/rpm``,
``/usr/lib/sysimage/rpm`` (Fedora ≥ 36, openSUSE) and ``/usr/share/rpm`` (old SUSE), apk
``/lib/apk/db/installed`` (``/usr/lib/apk/...`` on usr-merged images), conda every
``conda-meta/`` dir (one database per conda prefix).

``OsPackageDb.layer`` is the layer that last changed the database's content: a layer that only
re-ships it unchanged or changes its mode does not count.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..dbreaders import READERS, DbReader
from ..fs import Filesystem
from .model import OsPackageDb


def last_written(fs: Filesystem, path: str) -> int | None:
    """The last layer that added or modified a path's content (None: not in the image)."""
    for change in reversed(fs.history(path)):
        if change.action in ("added", "modified"):
            return change.layer
    node = fs.get(path)
    return node.layer if node is not None and not node.implicit else None


def db_layer(fs: Filesystem, db: OsPackageDb) -> int | None:
    node = fs.get(db.path)
    if node is not None and node.kind == "dir":
        paths = [n.path for n in fs.walk(db.path) if n.kind in ("file", "hardlink")]
    else:
        paths = [db.path, db.path + "-wal"]
    layers = [x for x in (last_written(fs, p) for p in paths) if x is not None]
    return max(layers, default=None)


def find_package_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """Every OS package database in the merged filesystem, parsed; never raises on bad bytes."""
    dbs: list[OsPackageDb] = []
    for reader in READERS:
        # A reader (and what its parser imports: sqlite3 and the rpm backends) loads only when one of
        # its directories is in the image; one without fixed roots finds its databases itself.
        if reader.dir_name or any(fs.lookup(root) is not None for root in reader.roots):
            dbs.extend(_reader_function(reader)(fs))
    for db in dbs:
        db.layer = db_layer(fs, db)
    return dbs


def _reader_function(reader: DbReader) -> Callable[[Filesystem], list[OsPackageDb]]:
    module, _, name = reader.read.partition(":")
    fn: Callable[[Filesystem], list[OsPackageDb]] = getattr(importlib.import_module(module), name)
    return fn
