"""Header blobs from rpm's SQLite database (``rpmdb.sqlite``, Fedora ≥ 33, RHEL 9, Mariner).

The ``Packages`` table maps each instance number (``hnum``) to a header blob. The database bytes
come from the layer index and are opened in memory (``Connection.deserialize``, Python 3.11+);
a ``-wal`` file beside it is replayed in memory too (``sqlite_wal``), so nothing from the image
is ever written to disk. The database is hostile input: ``Packages`` must be a real table (a
recursive VIEW would run forever), temporary storage stays in memory, and a progress handler
aborts any query that runs past a step budget.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from .sqlite_wal import apply_wal

SQLITE_MAGIC = b"SQLite format 3\0"
HAS_DESERIALIZE = hasattr(sqlite3.Connection, "deserialize")  # Python 3.11+
# A full distro's rpmdb (~3000 packages) needs a few million VM steps; seconds are a backstop.
MAX_STEPS = 200_000_000
MAX_SECONDS = 20.0
_STEP = 10_000


@contextmanager
def _open(data: bytes, wal: bytes | None) -> Iterator[sqlite3.Connection]:
    if wal:
        data = apply_wal(data, wal)
    if len(data) > 20 and data[18:20] == b"\2\2":
        # rpm keeps its db in WAL mode (header bytes 18/19 = 2). With the log applied the main
        # file is complete; marking it as rollback-journal mode lets SQLite open it in memory.
        data = data[:18] + b"\1\1" + data[20:]
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.deserialize(data)  # type: ignore[attr-defined,unused-ignore]  # 3.11+, checked above
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA query_only = 1")
        deadline = time.monotonic() + MAX_SECONDS
        steps = [0]

        def budget() -> int:
            steps[0] += _STEP
            return int(steps[0] > MAX_STEPS or time.monotonic() > deadline)

        conn.set_progress_handler(budget, _STEP)
        yield conn


def parse_sqlite(data: bytes, wal: bytes | None = None, warnings: list[str] | None = None) -> list[tuple[int, bytes]]:
    """(instance number, header blob) for every row of ``Packages``; problems go to ``warnings``."""
    warn = warnings if warnings is not None else []
    if not data.startswith(SQLITE_MAGIC):
        warn.append("not an SQLite database (bad magic)")
        return []
    if not HAS_DESERIALIZE:
        warn.append("reading an SQLite rpmdb needs Python 3.11 or newer (in-memory databases)")
        return []
    out: list[tuple[int, bytes]] = []
    bad: list[object] = []
    try:
        with _open(data, wal) as conn:
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
            if kind is None or kind[0] != "table":
                warn.append("the database has no Packages table" if kind is None
                            else f"Packages is a {kind[0]}, not a table: not read")
                return []
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
                    bad.append(hnum)
    except (sqlite3.Error, ValueError, OverflowError, MemoryError) as exc:
        warn.append(f"cannot read the SQLite database: {exc}")
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        warn.append(f"Packages rows {', '.join(map(repr, bad[:5]))}{more} hold no header blob")
    return out
