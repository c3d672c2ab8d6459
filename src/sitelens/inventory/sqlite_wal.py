"""Replay an SQLite write-ahead log onto its database bytes, in memory.

SQLite replays a ``-wal`` file only for a database on disk (beside the log, with a ``-shm``
index it writes), so reading an image's rpmdb that way meant copying both to ``$TMPDIR``. The
WAL format is small and documented (sqlite.org/fileformat2.html §4): a 32-byte header, then
frames of a 24-byte header and one page. A frame counts when its salts match the header's and
the running checksum holds; pages are applied up to the last such *commit* frame (a non-zero
"database size" field), exactly what a reader sees after recovery.
"""

from __future__ import annotations

import struct

WAL_MAGIC_LE = 0x377F0682
WAL_MAGIC_BE = 0x377F0683
_HEADER = 32
_FRAME_HEADER = 24


def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    n = len(data) // 4
    words = struct.unpack((">" if big_endian else "<") + f"{n}I", data[: n * 4])
    for i in range(0, n - 1, 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def apply_wal(db: bytes, wal: bytes) -> bytes:
    """``db`` with the committed frames of ``wal`` applied; ``db`` unchanged for a bad log."""
    if len(wal) < _HEADER:
        return db
    magic, _version, page_size, _ckpt, salt1, salt2, c0, c1 = struct.unpack(">8I", wal[:_HEADER])
    if magic not in (WAL_MAGIC_LE, WAL_MAGIC_BE) or page_size < 512 or page_size & (page_size - 1):
        return db
    big = magic == WAL_MAGIC_BE
    s0, s1 = _checksum(wal[:24], 0, 0, big)
    if (s0, s1) != (c0, c1):
        return db
    pages: dict[int, bytes] = {}
    committed: dict[int, bytes] = {}
    db_pages = 0
    step = _FRAME_HEADER + page_size
    for off in range(_HEADER, len(wal) - step + 1, step):
        pgno, commit, fsalt1, fsalt2, f0, f1 = struct.unpack(">6I", wal[off : off + _FRAME_HEADER])
        if (fsalt1, fsalt2) != (salt1, salt2) or pgno == 0:
            break
        page = wal[off + _FRAME_HEADER : off + step]
        s0, s1 = _checksum(wal[off : off + 8], s0, s1, big)
        s0, s1 = _checksum(page, s0, s1, big)
        if (s0, s1) != (f0, f1):
            break
        pages[pgno] = page
        if commit:
            committed.update(pages)
            pages.clear()
            db_pages = commit
    if not committed:
        return db
    out = bytearray(db[: db_pages * page_size].ljust(db_pages * page_size, b"\0"))
    for pgno, page in committed.items():
        if pgno <= db_pages:
            out[(pgno - 1) * page_size : pgno * page_size] = page
    return bytes(out)
