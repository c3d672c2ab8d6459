"""The layer index: one streaming pass over a layer tar, producing every entry's metadata,
a sha256 of every regular file, and the bytes of the few files the inventory reads.

A layer index is a pure function of the layer's uncompressed bytes, which is why it can be cached
by diff_id and shared across images and runs (see ``cache.py``).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from typing import IO

from ..errors import CorruptImage
from .capture import capture_limit, wants_md5, wants_sha1
from .tarstream import TarReader

# Bump when Entry fields, capture rules or normalisation change: cached indexes are rebuilt.
INDEX_FORMAT = 9

WHITEOUT_PREFIX = ".wh."
OPAQUE_NAME = ".wh..wh..opq"
AUFS_META_PREFIX = "/.wh..wh."
SHEBANG_MAX = 256
MAX_ENTRIES = 5_000_000
# Bytes of captured content one layer may hold in memory. Real layers hold a few MiB (the
# biggest legitimate item is an rpm database, ~100 MiB on a full distro); more is a bomb, and
# it would break the "peak RSS stays bounded" promise.
MAX_CAPTURED = 256 << 20


@dataclass(slots=True)
class Entry:
    """One tar member, normalised.

    ``path`` is absolute and normalised ("/usr/bin/python3"; "/" for the root). ``kind`` is one
    of file, dir, symlink, hardlink, char, block, fifo, whiteout (path = the hidden path) or
    opaque (path = the directory whose lower contents are hidden). Digests are raw bytes.
    """

    path: str
    kind: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    link: str | None = None  # symlink target as written; hardlink target as a normalised path
    sha256: bytes | None = None
    md5: bytes | None = None
    data: bytes | None = None  # captured content (see capture.py), possibly truncated
    head: bytes | None = None  # first line of a file starting with "#!"
    xattrs: dict[str, bytes] | None = None  # SCHILY.xattr.* / LIBARCHIVE.xattr.* from pax
    acl: str | None = None  # SCHILY.acl.access when present
    truncated: bool = False  # data holds only the first capture_limit bytes
    # an extension module's exported PyInit_<name> symbols (None: not an extension, or not read)
    pyinit: tuple[str, ...] | None = None
    # seconds since the epoch, kept for ``.py`` files only: a timestamp-based ``__pycache__`` pyc
    # is used instead of its source only when the two agree (0 elsewhere: one shared int)
    mtime: int = 0
    sha1: bytes | None = None  # apk's file checksum, only where capture.wants_sha1 says

    def to_tuple(self) -> tuple:
        return (
            self.path, self.kind, self.mode, self.uid, self.gid, self.size, self.link,
            self.sha256, self.md5, self.data, self.head, self.xattrs, self.acl, self.truncated,
            self.pyinit, self.mtime, self.sha1,
        )

    @classmethod
    def from_tuple(cls, t: tuple) -> Entry:
        return cls(*t)


@dataclass
class LayerIndex:
    diff_id: str
    entries: list[Entry] = field(default_factory=list)
    tar_bytes: int = 0  # uncompressed stream length
    codec: str = "plain"
    warnings: list[str] = field(default_factory=list)

    @property
    def content_bytes(self) -> int:
        """Sum of regular-file sizes (dive's layer size)."""
        return sum(e.size for e in self.entries if e.kind == "file")


def normalize_member_name(name: str, where: str) -> str:
    """Make a member name absolute and canonical; refuse names that leave the root."""
    if name.startswith("/"):
        raise CorruptImage(f"{where}: tar member has an absolute path {name!r}")
    if (
        "//" not in name and "." not in name[:1] and "/." not in name and "\0" not in name
    ):
        # Fast path, nearly every member: already canonical apart from a trailing slash.
        return "/" + name.rstrip("/") if name not in ("", "/") else "/"
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise CorruptImage(f"{where}: tar member path escapes the root: {name!r}")
            parts.pop()
            continue
        if "\0" in part:
            raise CorruptImage(f"{where}: tar member name contains NUL: {name!r}")
        parts.append(part)
    return "/" + "/".join(parts)


_PYINIT = b"PyInit_"
_MAX_PYINIT = 32


def _is_extension(path: str) -> bool:
    """A CPython extension module: its import needs the PyInit_<name> symbol its file name says."""
    return path.endswith(".so") and (
        ".cpython-" in path or ".abi3." in path or "-packages/" in path or "/lib-dynload/" in path
    )


def pyinit_names(data: bytes | memoryview, found: set[str]) -> None:
    """Add the ``PyInit_<name>`` symbol names in ``data`` (NUL-terminated, as in ``.dynstr``)."""
    buf = bytes(data)
    i = buf.find(_PYINIT)
    while i >= 0 and len(found) < _MAX_PYINIT:
        j = i + len(_PYINIT)
        end = buf.find(b"\0", j, j + 256)
        if end > j:
            name = buf[j:end]
            if name.replace(b"_", b"a").isalnum() and name.isascii():
                found.add(name.decode())
        i = buf.find(_PYINIT, j)


def _special(path: str, index: LayerIndex) -> Entry | None:
    """Whiteout and opaque markers as entries; None for aufs bookkeeping (dropped)."""
    slash = path.rfind("/")
    parent, base = (path[:slash] or "/"), path[slash + 1 :]
    if base == OPAQUE_NAME:
        return Entry(path=parent, kind="opaque")
    if base.startswith(".wh..wh."):
        # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the filesystem
        index.warnings.append(f"ignored aufs metadata {path}")
        return None
    return Entry(path=posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]), kind="whiteout")


def build_index(stream: IO[bytes], diff_id: str, where: str, codec: str = "plain") -> LayerIndex:
    """Read an *uncompressed* layer tar stream to its end and index it."""
    index = LayerIndex(diff_id=diff_id, codec=codec)
    entries = index.entries
    append = entries.append
    reader = TarReader(stream, where)
    captured_total = 0
    sha256 = hashlib.sha256
    md5 = hashlib.md5
    sha1 = hashlib.sha1
    for m in reader:
        if len(entries) >= MAX_ENTRIES:
            raise CorruptImage(f"{where}: layer has more than {MAX_ENTRIES} entries")
        path = normalize_member_name(m.name, where)
        if path.startswith(AUFS_META_PREFIX):
            # aufs bookkeeping at the root (.wh..wh.plnk/, .wh..wh.aufs, .wh..wh.orph/) and
            # everything under it is not part of the image's filesystem (as Docker skips it).
            if len(index.warnings) < 100:
                index.warnings.append(f"ignored aufs metadata {path}")
            continue
        if ".wh." in path and path[path.rfind("/") + 1 :].startswith(WHITEOUT_PREFIX) and not path.endswith(
            "/" + WHITEOUT_PREFIX
        ):
            special = _special(path, index)
            if special is not None:
                append(special)
            continue
        kind = m.kind
        e = Entry(path, kind, m.mode, m.uid, m.gid, m.size)
        if m.pax:
            xattrs = {
                k.split(".xattr.", 1)[1]: v.encode("latin-1")
                for k, v in m.pax.items()
                if ".xattr." in k
            }
            if xattrs:
                e.xattrs = xattrs
            acl = m.pax.get("SCHILY.acl.access")
            if acl:
                e.acl = acl
        if kind == "file":
            if path.endswith(".py"):
                e.mtime = m.mtime_value
            limit = capture_limit(path)
            h5 = md5() if wants_md5(path) else None
            h1 = sha1() if wants_sha1(path) else None
            exports: set[str] | None = set() if _is_extension(path) else None
            if m.size <= reader.buffered:
                # The whole member is already in the reader's buffer: one slice, no loop.
                data = reader.read_all()
                if exports is not None:
                    pyinit_names(data, exports)
                e.sha256 = sha256(data).digest()
                if h5 is not None:
                    h5.update(data)
                    e.md5 = h5.digest()
                if h1 is not None:
                    h1.update(data)
                    e.sha1 = h1.digest()
                if data[:2] == b"#!":
                    e.head = data[:SHEBANG_MAX].split(b"\n", 1)[0]
                if limit:
                    e.data = data if len(data) <= limit else data[:limit]
            else:
                h = sha256()
                head = b""
                keep: list[bytes] = []
                kept = 0
                tail = b""
                for chunk in reader.read_data():
                    if len(head) < SHEBANG_MAX:
                        head += bytes(chunk[: SHEBANG_MAX - len(head)])
                    if exports is not None:
                        # a symbol may straddle two chunks: scan the last bytes of the previous one too
                        joined = tail + bytes(chunk)
                        pyinit_names(joined, exports)
                        tail = joined[-300:]
                    h.update(chunk)
                    if h5 is not None:
                        h5.update(chunk)
                    if h1 is not None:
                        h1.update(chunk)
                    if kept < limit:
                        piece = bytes(chunk[: limit - kept])
                        keep.append(piece)
                        kept += len(piece)
                e.sha256 = h.digest()
                if h5 is not None:
                    e.md5 = h5.digest()
                if h1 is not None:
                    e.sha1 = h1.digest()
                if head[:2] == b"#!":
                    e.head = head.split(b"\n", 1)[0]
                if limit:
                    e.data = b"".join(keep)
            if exports is not None:
                e.pyinit = tuple(sorted(exports))
            if e.data is not None:
                e.truncated = m.size > limit
                captured_total += len(e.data)
                if captured_total > MAX_CAPTURED:
                    raise CorruptImage(f"{where}: layer holds more than {MAX_CAPTURED >> 20} MiB of metadata files")
        elif kind == "symlink":
            e.link = m.linkname
        elif kind == "hardlink":
            target = m.linkname
            e.link = normalize_member_name(target.lstrip("/") if target.startswith("/") else target, where)
        append(e)
    # Drain the end-of-archive blocks and anything after them so digests cover the whole stream.
    index.tar_bytes = reader.drain()
    return index
