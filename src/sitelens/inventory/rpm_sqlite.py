"""Header blobs from rpm's SQLite database (``rpmdb.sqlite``, Fedora ≥ 33, RHEL 9, Mariner).

The ``Packages`` table maps each instance number (``hnum``) to a header blob. The database bytes
come from the layer index, so they are opened in memory (``Connection.deserialize``, Python
3.11+); with a non-empty ``-wal`` file (a database copied while rpm had it open, or a WAL that
was never checkpointed) both files must sit side by side on disk for SQLite to replay the log,
so they are written to a private temporary directory, as they are on Python 3.10.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager

SQLITE_MAGIC = b"SQLite format 3\0"
HAS_DESERIALIZE = hasattr(sqlite3.Connection, "deserialize")  # Python 3.11+


@contextmanager
def _open(data: bytes, wal: bytes | None) -> Iterator[sqlite3.Connection]:
    if not wal and len(data) > 20 and data[18:20] == b"\2\2":
        # rpm keeps its db in WAL mode (header bytes 18/19 = 2). Without a -wal file the main
        # file is complete; marking it as rollback-journal mode lets SQLite open it in memory
        # and without a -shm file.
        data = data[:18] + b"\1\1" + data[20:]
    if not wal and HAS_DESERIALIZE and sys.version_info >= (3, 11):
        with closing(sqlite3.connect(":memory:")) as conn:
            conn.deserialize(data)
            yield conn
        return
    with tempfile.TemporaryDirectory(prefix="sitelens-rpmdb-") as tmp:
        path = os.path.join(tmp, "rpmdb.sqlite")
        with open(path, "wb") as fh:
            fh.write(data)
        if wal:
            with open(path + "-wal", "wb") as fh:
                fh.write(wal)
        # Not read-only: replaying the WAL needs to write the -shm index beside the copy.
        with closing(sqlite3.connect(path)) as conn:
            yield conn


def parse_sqlite(data: bytes, wal: bytes | None = None, warnings: list[str] | None = None) -> list[tuple[int, bytes]]:
    """(instance number, header blob) for every row of ``Packages``; problems go to ``warnings``."""
    warn = warnings if warnings is not None else []
    if not data.startswith(SQLITE_MAGIC):
        warn.append("not an SQLite database (bad magic)")
        return []
    out: list[tuple[int, bytes]] = []
    try:
        with _open(data, wal) as conn:
            cur = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
            while True:
                try:
                    row = cur.fetchone()
                except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: undecodable text
                    warn.append(f"reading Packages stopped after {len(out)} rows: {exc}")
                    break
                if row is None:
                    break
                hnum, blob = row
                if isinstance(blob, bytes) and isinstance(hnum, int):
                    out.append((hnum, blob))
                else:
                    warn.append(f"Packages row {hnum!r} holds no header blob")
    except (sqlite3.Error, ValueError, OverflowError) as exc:
        warn.append(f"cannot read the SQLite database: {exc}")
    return out
