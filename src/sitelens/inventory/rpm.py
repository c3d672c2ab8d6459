"""rpm package databases: pick the backend file in a db directory, read its header blobs.

Three on-disk formats hold the same header blobs (see ``rpm_header``): SQLite ``rpmdb.sqlite``
(rpm ≥ 4.16 default), Berkeley DB hash ``Packages`` (rpm ≤ 4.15, RHEL/CentOS ≤ 8) and NDB
``Packages.db`` (SUSE). The parsers are pure functions of bytes; :func:`read_rpmdb` only fetches
the captured bytes from the image filesystem.
"""

from __future__ import annotations

import posixpath
import struct

from ..dbreaders import RPM_DIRS
from ..fs import Filesystem
from .model import OsPackage, OsPackageDb
from .rpm_bdb import parse_bdb
from .rpm_header import parse_header
from .rpm_ndb import parse_ndb
from .rpm_sqlite import parse_sqlite

# Backend file names, in the order rpm itself prefers them when several are present.
BACKENDS = (("rpmdb.sqlite", "sqlite"), ("Packages.db", "ndb"), ("Packages", "bdb"))


def parse_blobs(blobs: list[tuple[int, bytes]], warnings: list[str]) -> list[OsPackage]:
    """Packages from (instance, header blob) pairs; a bogus blob becomes a warning."""
    out: list[OsPackage] = []
    for instance, blob in blobs:
        try:
            out.append(parse_header(blob))
        except (ValueError, struct.error, IndexError, OverflowError) as exc:  # HeaderError is a ValueError
            warnings.append(f"header #{instance}: {exc}")
    return out


def parse_rpmdb(backend: str, data: bytes, wal: bytes | None = None) -> tuple[list[OsPackage], list[str]]:
    """All packages of one database file's bytes, and what could not be read."""
    warnings: list[str] = []
    if backend == "sqlite":
        blobs = parse_sqlite(data, wal, warnings)
    elif backend == "bdb":
        blobs = parse_bdb(data, warnings)
    elif backend == "ndb":
        blobs = parse_ndb(data, warnings)
    else:
        raise ValueError(f"unknown rpmdb backend {backend!r}")
    return parse_blobs(blobs, warnings), warnings


def backend_files(fs: Filesystem, dbdir: str) -> list[tuple[str, str]]:
    """(path, backend) of every database file present in a directory, preferred first."""
    out = []
    for name, backend in BACKENDS:
        path = posixpath.join(dbdir, name)
        node = fs.get(path)
        # An empty file is a leftover (e.g. ``touch``ed by a migration), not a database.
        if node is not None and node.kind in ("file", "hardlink") and node.size > 0:
            out.append((path, backend))
    return out


def read_rpmdb(fs: Filesystem, path: str, backend: str) -> OsPackageDb:
    db = OsPackageDb(manager="rpm", path=path)
    data = fs.read_bytes(path)
    node = fs.get(path)
    if data is None:
        db.warnings.append(f"{path}: content not captured in the layer index")
        return db
    if node is not None and node.entry.truncated:
        # Parse the captured part anyway: the reader skips what lies beyond it, with warnings.
        db.warnings.append(f"{path}: only the first {len(data)} bytes were captured")
    wal = fs.read_bytes(path + "-wal") if backend == "sqlite" else None
    db.packages, warnings = parse_rpmdb(backend, data, wal or None)
    db.warnings.extend(f"{path}: {w}" for w in warnings)
    return db


def read_rpm_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """The reader ``dbreaders.READERS`` names: one database per rpm directory (two locations
    that are one directory through a symlink are read once). A directory holding several
    backends (a migration left the old one behind) is read from the file written last, as rpm
    would use the configured (newer) one; the others are named in a warning."""
    from .ospkg import last_written

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
