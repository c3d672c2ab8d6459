"""Find the OS package databases of an image and read each with its manager's parser.

Looks where the package managers keep them: dpkg ``/var/lib/dpkg`` (``status`` or distroless
``status.d/``), rpm ``/var/lib/rpm``, ``/usr/lib/sysimage/rpm`` (Fedora ≥ 36, openSUSE) and
``/usr/share/rpm`` (old SUSE), apk ``/lib/apk/db/installed``. Two rpm locations that are the
same directory (a symlink) are read once. A directory holding several rpm backends (a
migration left the old one behind) is read from the file written last, as rpm would use the
configured (newer) one; the others are named in a warning.

``OsPackageDb.layer`` is the layer that last changed the database's content: a layer that only
re-ships it unchanged or changes its mode does not count.
"""

from __future__ import annotations

from ..fs import Filesystem
from .apk import read_apk
from .dpkg import read_dpkg
from .model import OsPackageDb
from .rpm import backend_files, read_rpmdb

RPM_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm", "/usr/share/rpm")


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


def _rpm_dbs(fs: Filesystem) -> list[OsPackageDb]:
    out: list[OsPackageDb] = []
    seen: set[str] = set()
    for d in RPM_DIRS:
        real = fs.resolve(d)
        if real is None or real in seen:
            continue
        seen.add(real)
        files = backend_files(fs, real)
        if not files:
            continue
        # Newest content first; rpm's own preference (sqlite, ndb, bdb) breaks ties.
        ranked = sorted(enumerate(files), key=lambda it: (-(last_written(fs, it[1][0]) or -1), it[0]))
        path, backend = ranked[0][1]
        db = read_rpmdb(fs, path, backend)
        others = [p for _, (p, _b) in ranked[1:]]
        if others:
            db.warnings.append(f"{real}: several rpm databases present; read {path}, ignored {', '.join(others)}")
        out.append(db)
    return out


def find_package_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """Every OS package database in the merged filesystem, parsed; never raises on bad bytes."""
    dbs: list[OsPackageDb] = []
    dpkg = read_dpkg(fs)
    if dpkg is not None:
        dbs.append(dpkg)
    dbs.extend(_rpm_dbs(fs))
    apk = read_apk(fs)
    if apk is not None:
        dbs.append(apk)
    for db in dbs:
        db.layer = db_layer(fs, db)
    return dbs
