"""The layer index: one streaming pass over a layer tar, producing every entry's metadata,
a sha256 of every regular file, and the bytes of the few files the inventory reads.

A layer index is a pure function of the layer's uncompressed bytes, which is why it can be cached
by diff_id and shared across images and runs (see ``cache.py``).
"""

from __future__ import annotations

import hashlib
import posixpath
import struct
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar, cast, overload

from ..errors import CorruptImage
from .capture import capture_limit, wants_md5, wants_sha1
from .tarstream import TarReader

T = TypeVar("T")

# Bump when Entry fields, capture rules or normalisation change: cached indexes are rebuilt.
INDEX_FORMAT = 10

WHITEOUT_PREFIX = ".wh."
OPAQUE_NAME = ".wh..wh..opq"
AUFS_META_PREFIX = "/.wh..wh."
SHEBANG_MAX = 256
MAX_ENTRIES = 5_000_000
# Bytes of captured content one layer may hold in memory. Real layers hold a few MiB (the
# biggest legitimate item is an rpm database, ~100 MiB on a full distro); more is a bomb, and
# it would break the "peak RSS stays bounded" promise.
MAX_CAPTURED = 256 << 20


# Entry's fields in constructor and tuple order (the cache stores entries as these tuples).
ENTRY_FIELDS = (
    "path", "kind", "mode", "uid", "gid", "size", "link", "sha256", "md5", "data", "head",
    "xattrs", "acl", "truncated", "pyinit", "mtime", "sha1",
)


class _Rare:
    """The fields few entries set (captured files, dpkg/apk digests, scripts, extensions, pax
    extras): kept apart, so an entry without them is 56 bytes smaller (the image's every path
    has an Entry, 270 k in a 200 k-file image)."""

    __slots__ = ("md5", "data", "head", "xattrs", "acl", "truncated", "pyinit", "sha1")

    def __init__(self) -> None:
        self.md5: bytes | None = None
        self.data: bytes | None = None
        self.head: bytes | None = None
        self.xattrs: dict[str, bytes] | None = None
        self.acl: str | None = None
        self.truncated = False
        self.pyinit: tuple[str, ...] | None = None
        self.sha1: bytes | None = None


class _RareField(Generic[T]):
    """An Entry field stored in its ``_Rare`` part, read as a plain attribute."""

    def __init__(self, default: T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _RareField[T]: ...
    @overload
    def __get__(self, obj: Entry, objtype: type | None = None) -> T: ...

    def __get__(self, obj: Entry | None, objtype: type | None = None) -> T | _RareField[T]:
        if obj is None:
            return self
        rare = obj._rare
        return self.default if rare is None else cast(T, getattr(rare, self.name))

    def __set__(self, obj: Entry, value: T) -> None:
        rare = obj._rare
        if rare is None:
            if value == self.default and type(value) is type(self.default):
                return
            rare = obj._rare = _Rare()
        setattr(rare, self.name, value)


class Entry:
    """One tar member, normalised.

    ``path`` is absolute and normalised ("/usr/bin/python3"; "/" for the root). ``kind`` is one
    of file, dir, symlink, hardlink, char, block, fifo, whiteout (path = the hidden path) or
    opaque (path = the directory whose lower contents are hidden). Digests are raw bytes.
    """

    __slots__ = ("path", "kind", "mode", "uid", "gid", "size", "link", "sha256", "mtime", "_rare")

    md5: _RareField[bytes | None] = _RareField(None)
    data: _RareField[bytes | None] = _RareField(None)  # captured content (see capture.py), possibly truncated
    head: _RareField[bytes | None] = _RareField(None)  # first line of a file starting with "#!"
    xattrs: _RareField[dict[str, bytes] | None] = _RareField(None)  # SCHILY.xattr.* / LIBARCHIVE.xattr.* from pax
    acl: _RareField[str | None] = _RareField(None)  # SCHILY.acl.access when present
    truncated: _RareField[bool] = _RareField(False)  # data holds only the first capture_limit bytes
    # an extension module's exported PyInit_<name> symbols (None: not an extension, or not read)
    pyinit: _RareField[tuple[str, ...] | None] = _RareField(None)
    sha1: _RareField[bytes | None] = _RareField(None)  # apk's file checksum, only where capture.wants_sha1 says

    def __init__(
        self,
        path: str,
        kind: str,
        mode: int = 0,
        uid: int = 0,
        gid: int = 0,
        size: int = 0,
        link: str | None = None,  # symlink target as written; hardlink target as a normalised path
        sha256: bytes | None = None,
        md5: bytes | None = None,
        data: bytes | None = None,
        head: bytes | None = None,
        xattrs: dict[str, bytes] | None = None,
        acl: str | None = None,
        truncated: bool = False,
        pyinit: tuple[str, ...] | None = None,
        # seconds since the epoch, kept for ``.py`` files only: a timestamp-based ``__pycache__``
        # pyc is used instead of its source only when the two agree (0 elsewhere: one shared int)
        mtime: int = 0,
        sha1: bytes | None = None,
    ) -> None:
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.link = link
        self.sha256 = sha256
        self.mtime = mtime
        self._rare: _Rare | None = None
        if (md5 is not None or data is not None or head is not None or xattrs is not None or acl is not None
                or truncated or pyinit is not None or sha1 is not None):
            rare = self._rare = _Rare()
            rare.md5, rare.data, rare.head, rare.xattrs = md5, data, head, xattrs
            rare.acl, rare.truncated, rare.pyinit, rare.sha1 = acl, truncated, pyinit, sha1

    def to_tuple(self) -> tuple:
        r = self._rare
        if r is None:
            return (
                self.path, self.kind, self.mode, self.uid, self.gid, self.size, self.link, self.sha256,
                None, None, None, None, None, False, None, self.mtime, None,
            )
        return (
            self.path, self.kind, self.mode, self.uid, self.gid, self.size, self.link,
            self.sha256, r.md5, r.data, r.head, r.xattrs, r.acl, r.truncated, r.pyinit, self.mtime, r.sha1,
        )

    @classmethod
    def from_tuple(cls, t: tuple) -> Entry:
        return cls(*t)

    def replace(self, **changes: Any) -> Entry:
        """A copy with ``changes`` (field=value), as ``dataclasses.replace`` makes."""
        fields = dict(zip(ENTRY_FIELDS, self.to_tuple(), strict=True))
        fields.update(changes)
        return Entry(**fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Entry:
            return NotImplemented
        return self.to_tuple() == other.to_tuple()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as a dataclass)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in zip(ENTRY_FIELDS, self.to_tuple(), strict=True))
        return f"Entry({shown})"

    def __getstate__(self) -> tuple:
        return self.to_tuple()

    def __setstate__(self, state: tuple) -> None:
        self.__init__(*state)  # type: ignore[misc]


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
    """A CPython extension module: its import needs the PyInit_<name> symbol its file name says.
    A name whose part before the first dot is no identifier (``libopenblas-6cdc3b4a.so``, a
    wheel's bundled library) can never be imported as a module: its symbols are not read."""
    if not path.endswith(".so"):
        return False
    base = path[path.rfind("/") + 1 :]
    return base.partition(".")[0].isidentifier() and (
        ".cpython-" in base or ".abi3." in base or "-packages/" in path or "/lib-dynload/" in path
    )


def pyinit_names(data: bytes | memoryview, found: set[str]) -> None:
    """Add the ``PyInit_<name>`` symbol names in ``data`` (NUL-terminated, as in ``.dynstr``)."""
    buf = data if isinstance(data, bytes) else bytes(data)
    i = buf.find(_PYINIT)
    while i >= 0 and len(found) < _MAX_PYINIT:
        j = i + len(_PYINIT)
        end = buf.find(b"\0", j, j + 256)
        if end > j:
            name = buf[j:end]
            if name.replace(b"_", b"a").isalnum() and name.isascii():
                found.add(name.decode())
        i = buf.find(_PYINIT, j)


# ELF class → (e_phoff at, its format, p_offset at, p_filesz at, their format) per the ELF spec
_ELF_LAYOUT = {1: (0x1C, "I", 4, 16, "I"), 2: (0x20, "Q", 8, 32, "Q")}
_PT_LOAD = 1


def elf_first_segment(head: bytes | memoryview) -> int:
    """Where an ELF file's first loadable segment ends (0: not ELF, or its program headers are
    not within ``head``). The dynamic string table, with the exported ``PyInit_`` names, sits in
    that segment (after the headers, before the code or in a read-only segment of its own), so
    a scan that finds the names there need not read a large extension to its end."""
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] not in _ELF_LAYOUT or head[5] not in (1, 2):
        return 0
    phoff_at, phoff_fmt, offset_at, filesz_at, word = _ELF_LAYOUT[head[4]]
    order = "<" if head[5] == 1 else ">"
    (phoff,) = struct.unpack_from(order + phoff_fmt, head, phoff_at)
    # e_phentsize and e_phnum follow e_flags and e_ehsize, 42 (32-bit) or 54 (64-bit) bytes in
    entsize, count = struct.unpack_from(order + "HH", head, 0x2A if head[4] == 1 else 0x36)
    need = filesz_at + struct.calcsize(word)
    for i in range(min(count, 64)):
        at = phoff + i * entsize
        if entsize < need or at + need > len(head):
            return 0
        (p_type,) = struct.unpack_from(order + "I", head, at)
        (p_offset,) = struct.unpack_from(order + word, head, at + offset_at)
        if p_type == _PT_LOAD and p_offset == 0:
            return int(struct.unpack_from(order + word, head, at + filesz_at)[0])
    return 0


class ExportScan:
    """The ``PyInit_`` names of an extension module, fed its bytes in order. An ELF file's first
    loadable segment is scanned first, and the rest only when that segment names none (not ELF,
    an unusual layout). Fed in one piece or in chunks, the same bytes give the same names."""

    HEAD = 4096  # enough for the ELF header and the program headers of any real extension

    def __init__(self) -> None:
        self.found: set[str] = set()
        self._pending: list[bytes] = []  # bytes held until the head is complete
        self._held = 0
        self._end = -1  # the first segment's end; -1 until the head is read, 0: scan it all
        self._seen = 0  # stream offset of the next byte to scan
        self._tail = b""  # the last bytes scanned: a name may straddle two pieces
        self._done = False

    def feed(self, chunk: bytes | memoryview) -> None:
        if self._done:
            return
        view = memoryview(chunk)
        if self._end < 0:
            need = self.HEAD - self._held
            self._pending.append(bytes(view[:need]))
            self._held += min(need, len(view))
            if self._held < self.HEAD:
                return  # the head is not complete yet
            self._start()
            view = view[need:]
        if len(view):
            self._scan(view)

    def finish(self) -> tuple[str, ...]:
        if self._end < 0:
            self._start()
        return tuple(sorted(self.found))

    def _start(self) -> None:
        head = b"".join(self._pending)
        self._pending = []
        self._end = elf_first_segment(head)
        self._scan(head)

    def _scan(self, data: bytes | memoryview) -> None:
        if self._done:
            return
        if self._seen < self._end:
            first = data[: self._end - self._seen]
            self._search(first)
            if self._seen >= self._end and self.found:
                self._done = True  # the exported names are all in that segment
                return
            data = data[len(first):]
        if len(data):
            self._search(data)

    def _search(self, piece: bytes | memoryview) -> None:
        raw = piece if isinstance(piece, bytes) else bytes(piece)  # only what is scanned is copied
        if self._tail:  # a name may straddle two pieces
            pyinit_names(self._tail + raw[:300], self.found)
        pyinit_names(raw, self.found)
        self._tail = raw[-300:]
        self._seen += len(raw)


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
    # One int object per distinct mode (a layer has a dozen): the header parser makes one per
    # member, 32 bytes each, and marshal (the cache, the workers' answers) keeps the sharing.
    modes: dict[int, int] = {}
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
        mode = m.mode
        e = Entry(path, kind, modes.setdefault(mode, mode), m.uid, m.gid, m.size)
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
            exports = ExportScan() if _is_extension(path) else None
            if m.size <= reader.buffered:
                # The whole member is already in the reader's buffer: one slice, no loop.
                data = reader.read_all()
                if exports is not None:
                    exports.feed(data)
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
                for chunk in reader.read_data():
                    if len(head) < SHEBANG_MAX:
                        head += bytes(chunk[: SHEBANG_MAX - len(head)])
                    if exports is not None:
                        exports.feed(chunk)
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
                e.pyinit = exports.finish()
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
