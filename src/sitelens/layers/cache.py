"""On-disk cache of layer indexes, keyed by diff_id and the index format.

An entry is ``MAGIC | sha256(payload) | payload`` with ``payload = zlib(marshal(tuples))``.
``marshal`` keeps loading fast and cannot run code on load (unlike pickle); the checksum means a
torn or tampered file is detected and rebuilt, never trusted. Writes are atomic (temp + rename),
so concurrent runs sharing a cache never see half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
import zlib
from pathlib import Path

from ..image import is_sha256_digest
from .index import INDEX_FORMAT, Entry, LayerIndex

MAGIC = b"SLIDX\x01"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sitelens"


class LayerCache:
    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = (root or default_cache_dir()) / f"layers-v{INDEX_FORMAT}"
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0

    def _path(self, diff_id: str) -> Path | None:
        """The entry's file; None for a key that is not a sha256 digest (never a file name:
        sources refuse such diff_ids, and a stray one must not turn into a path)."""
        if not is_sha256_digest(diff_id):
            return None
        hexd = diff_id[7:]
        return self.root / hexd[:2] / f"{hexd}.idx"

    def get(self, diff_id: str) -> LayerIndex | None:
        if not self.enabled:
            return None
        path = self._path(diff_id)
        if path is None:
            return None
        try:
            blob = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        index = _decode(blob, diff_id)
        if index is None:
            self.rebuilt += 1
            self.misses += 1
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self.hits += 1
        return index

    def put(self, index: LayerIndex) -> None:
        if not self.enabled:
            return
        path = self._path(index.diff_id)
        if path is None:
            return
        blob = _encode(index)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
        except OSError:
            # A read-only or full cache must not fail the audit; the next run re-indexes.
            return


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
