"""On-disk cache of layer indexes, keyed by diff_id and the index format.

An entry is ``MAGIC | sha256(payload) | payload`` with ``payload = zlib(marshal(tuples))``.
``marshal`` keeps loading fast and cannot run code on load (unlike pickle); the checksum means a
torn or tampered file is detected and rebuilt, never trusted. Writes are atomic (temp + rename),
so concurrent runs sharing a cache never see half a file.

Workers that share a cache directory (a scan's processes, Dask workers on a shared filesystem)
take a per-layer file lock (``locks/<hex>.lock``, ``flock``) on a miss and look again once they
hold it, so a layer is indexed by one of them while the others wait and then read its entry.
The kernel drops the lock when its holder dies; a holder that is alive but stuck for
``stale_after`` seconds is treated as stale and ignored (the layer is indexed twice rather than
never). A process already holding a layer lock never waits for another one, so two images with
the same layers in a different order cannot deadlock. Each fresh index appends one line to
``journal`` (diff_id, host, pid, time): the cache's own record of what was indexed by whom.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import marshal
import os
import socket
import tempfile
import time
import zlib
from collections import OrderedDict
from pathlib import Path

from ..cachedir import default_cache_dir
from ..image import is_sha256_digest
from .index import INDEX_FORMAT, Entry, LayerIndex

MAGIC = b"SLIDX\x01"
STALE_AFTER = 900.0  # seconds a live holder may keep a layer lock before others stop waiting
_POLL = 0.05


# Entries decoded in this process, by the cache file's identity (path, inode, size, mtime): a scan
# worker audits hundreds of images over the same few base layers, and reading, checking and
# decoding their entries again cost about 1 ms per layer per image. A rewritten or tampered file
# has another identity, so it is read (and checked) again. Bounded by the entries held.
MEMO_ENTRIES = 200_000
_DECODED: OrderedDict[tuple[str, int, int, int], LayerIndex] = OrderedDict()


def _remember(stamp: tuple[str, int, int, int], index: LayerIndex) -> None:
    if len(index.entries) > MEMO_ENTRIES // 4:
        return  # one huge layer would push every base layer out
    _DECODED[stamp] = index
    held = sum(len(i.entries) for i in _DECODED.values())
    while held > MEMO_ENTRIES and _DECODED:
        _, dropped = _DECODED.popitem(last=False)
        held -= len(dropped.entries)


class LayerCache:
    def __init__(self, root: Path | None = None, enabled: bool = True, stale_after: float = STALE_AFTER) -> None:
        self.root = (root or default_cache_dir()) / f"layers-v{INDEX_FORMAT}"
        self.enabled = enabled
        self.stale_after = stale_after
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0
        self._held: dict[str, int] = {}  # diff_id → fd of the lock this process holds for it

    def _path(self, diff_id: str) -> Path | None:
        """The entry's file; None for a key that is not a sha256 digest (never a file name:
        sources refuse such diff_ids, and a stray one must not turn into a path)."""
        if not is_sha256_digest(diff_id):
            return None
        hexd = diff_id[7:]
        return self.root / hexd[:2] / f"{hexd}.idx"

    def _read(self, diff_id: str) -> LayerIndex | None:
        path = self._path(diff_id)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        index = _DECODED.get(stamp)
        if index is not None:
            _DECODED.move_to_end(stamp)
            return index
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        index = _decode(blob, diff_id)
        if index is None:
            self.rebuilt += 1
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        _remember(stamp, index)
        return index

    def get(self, diff_id: str) -> LayerIndex | None:
        """The cached index, or None after taking the layer's lock: the caller indexes the layer
        and ``put``s it, which releases the lock (``release_all`` if it gives up)."""
        if not self.enabled:
            return None
        index = self._read(diff_id)
        if index is None and diff_id not in self._held and self._lock(diff_id):
            index = self._read(diff_id)  # another worker may have indexed it while we waited
            if index is not None:
                self._unlock(diff_id)
        if index is None:
            self.misses += 1
            return None
        self.hits += 1
        return index

    def put(self, index: LayerIndex) -> None:
        if not self.enabled:
            return
        path = self._path(index.diff_id)
        if path is None:
            self._unlock(index.diff_id)
            return
        try:
            blob = _encode(index)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
            self._journal(index.diff_id)
        except OSError:
            # A read-only or full cache must not fail the audit; the next run re-indexes.
            pass
        finally:
            self._unlock(index.diff_id)

    # ---- per-layer locks -----------------------------------------------------------------------

    def _lock(self, diff_id: str) -> bool:
        """Hold the layer's lock (True), or give up without it (False): a lock directory we
        cannot write, a filesystem without flock, a stale holder, or a wait that could deadlock."""
        entry = self._path(diff_id)
        if entry is None:
            return False  # not a digest: never cached, so nothing to lock
        path = self.root / "locks" / f"{entry.stem}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        wait = not self._held
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or not wait or self._stale(fd):
                    os.close(fd)
                    return False
                time.sleep(_POLL)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n".encode(), 0)
        self._held[diff_id] = fd
        return True

    def _stale(self, fd: int) -> bool:
        try:
            stamp = float(os.pread(fd, 200, 0).split()[2])
        except (OSError, ValueError, IndexError):
            return False  # the holder has not written its stamp yet
        return time.time() - stamp > self.stale_after

    def _unlock(self, diff_id: str) -> None:
        fd = self._held.pop(diff_id, None)
        if fd is not None:
            # The lock file stays: unlinking it would let a late waiter lock an orphaned inode.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def release_all(self) -> None:
        for diff_id in list(self._held):
            self._unlock(diff_id)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also at interpreter exit, when os may be gone
            self.release_all()

    def _journal(self, diff_id: str) -> None:
        line = f"{diff_id} {socket.gethostname()} {os.getpid()} {time.time():.3f}\n".encode()
        fd = os.open(self.root / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)  # one short O_APPEND write: lines from many writers never interleave
        finally:
            os.close(fd)

    def journal(self) -> list[tuple[str, str, int]]:
        """(diff_id, host, pid) of every index this cache directory stored, oldest first."""
        try:
            lines = (self.root / "journal").read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            parts = line.split()
            if len(parts) == 4 and parts[2].isdigit():
                out.append((parts[0], parts[1], int(parts[2])))
        return out


def _encode(index: LayerIndex) -> bytes:
    payload = zlib.compress(
        marshal.dumps(
            (
                index.diff_id,
                index.tar_bytes,
                index.codec,
                tuple(index.warnings),
                tuple(e.to_tuple() for e in index.entries),
            )
        ),
        1,
    )
    return MAGIC + hashlib.sha256(payload).digest() + payload


def _decode(blob: bytes, diff_id: str) -> LayerIndex | None:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 32:
        return None
    digest = blob[len(MAGIC) : len(MAGIC) + 32]
    payload = blob[len(MAGIC) + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        stored_id, tar_bytes, codec, warnings, rows = marshal.loads(zlib.decompress(payload))
        if stored_id != diff_id:
            return None
        entries = [Entry.from_tuple(t) for t in rows]
    except (ValueError, TypeError, EOFError, zlib.error):
        return None
    return LayerIndex(
        diff_id=diff_id, entries=entries, tar_bytes=tar_bytes, codec=codec, warnings=list(warnings)
    )
