"""RPM header blobs as the package database stores them, parsed into an :class:`OsPackage`.

Every rpmdb backend (sqlite, Berkeley DB, NDB) stores one *header blob* per installed package.
It is the ``.rpm`` file's main header without the lead, the signature header and the 8-byte
``8e ad e8 01 00000000`` intro: two big-endian counts (index entries ``il``, data bytes ``dl``),
``il`` 16-byte index entries (tag, type, offset, count) and the data store. rpm appends
"dribble" entries (e.g. install time) after the immutable region, so a tag may occur twice; the
last occurrence wins, as in rpm's own lookup.

``rpmfile`` reads headers only from ``.rpm`` files (it scans for the header magic after a lead,
asserts on bad input and has no INT64/CHAR types, needed for LONGFILESIZES), so the blob is
parsed here, with every offset bounds-checked: a bogus blob yields an error, never a crash.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from typing import TypeVar

from .model import OsPackage, OwnedFile

# Tags (rpm's lib/rpmtag.h).
NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
OLDFILENAMES, FILESIZES, FILEMODES, FILEDIGESTS, FILEFLAGS = 1027, 1028, 1030, 1035, 1037
FILEUSERNAME, FILEGROUPNAME = 1039, 1040
DIRINDEXES, BASENAMES, DIRNAMES = 1116, 1117, 1118
LONGFILESIZES, FILEDIGESTALGO = 5008, 5011

# Types.
T_NULL, T_CHAR, T_INT8, T_INT16, T_INT32, T_INT64 = 0, 1, 2, 3, 4, 5
T_STRING, T_BIN, T_STRING_ARRAY, T_I18NSTRING = 6, 7, 8, 9

RPMFILE_CONFIG = 1 << 0
RPMFILE_GHOST = 1 << 6

# FILEDIGESTALGO values (PGP hash algorithm ids); md5 when the tag is absent (rpm < 4.6).
DIGEST_ALGOS = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}

MAX_ENTRIES = 1 << 20  # rpm's own limit on index entries (HEADER_TAGS_MAX is smaller still)
MAX_DATA = 256 << 20  # rpm caps a header's data store at 256 MiB

T = TypeVar("T")
Value = str | bytes | list[str] | list[int]


class HeaderError(ValueError):
    """The blob is not a well-formed rpm header."""


@dataclass(frozen=True)
class _Entry:
    tag: int
    type: int
    offset: int
    count: int


def _strings(store: bytes, offset: int, count: int) -> list[str]:
    out: list[str] = []
    pos = offset
    for _ in range(count):
        end = store.find(b"\0", pos)
        if end < 0:
            raise HeaderError(f"string array runs past the data store at offset {pos}")
        out.append(store[pos:end].decode("utf-8", "surrogateescape"))
        pos = end + 1
    return out


_INT_FORMATS = {T_CHAR: ("B", 1), T_INT8: ("B", 1), T_INT16: ("H", 2), T_INT32: ("I", 4), T_INT64: ("Q", 8)}


def _value(e: _Entry, store: bytes) -> Value:
    if e.type in _INT_FORMATS:
        fmt, size = _INT_FORMATS[e.type]
        end = e.offset + size * e.count
        if end > len(store):
            raise HeaderError(f"tag {e.tag}: {e.count} integers run past the data store")
        return list(struct.unpack_from(f">{e.count}{fmt}", store, e.offset))
    if e.type in (T_STRING, T_I18NSTRING):
        # An I18NSTRING holds one string per locale; the first is the default (C) locale.
        return _strings(store, e.offset, 1)[0]
    if e.type == T_STRING_ARRAY:
        return _strings(store, e.offset, e.count)
    if e.type == T_BIN:
        if e.offset + e.count > len(store):
            raise HeaderError(f"tag {e.tag}: binary value runs past the data store")
        return store[e.offset : e.offset + e.count]
    raise HeaderError(f"tag {e.tag}: unknown type {e.type}")


def parse_tags(blob: bytes, wanted: set[int] | None = None) -> dict[int, Value]:
    """The tag → value map of a header blob (only ``wanted`` tags decoded, when given)."""
    if len(blob) < 8:
        raise HeaderError(f"header blob of {len(blob)} bytes is too short")
    if blob[:3] == b"\x8e\xad\xe8":
        blob = blob[8:]  # a header with its intro (as in .rpm files): skip magic and reserved
    il, dl = struct.unpack_from(">II", blob, 0)
    if il == 0 or il > MAX_ENTRIES or dl > MAX_DATA:
        raise HeaderError(f"implausible header counts: {il} entries, {dl} data bytes")
    store_start = 8 + 16 * il
    if store_start + dl > len(blob):
        raise HeaderError(f"header declares {il} entries and {dl} data bytes but the blob has {len(blob)} bytes")
    store = blob[store_start : store_start + dl]
    out: dict[int, Value] = {}
    for i in range(il):
        tag, typ, offset, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
        if wanted is not None and tag not in wanted:
            continue
        if offset < 0 or offset >= dl or count == 0 or count > dl:
            raise HeaderError(f"tag {tag}: offset {offset} / count {count} outside the data store")
        out[tag] = _value(_Entry(tag, typ, offset, count), store)
    return out


_WANTED = {
    NAME,
    VERSION,
    RELEASE,
    EPOCH,
    ARCH,
    SOURCERPM,
    OLDFILENAMES,
    FILESIZES,
    FILEMODES,
    FILEDIGESTS,
    FILEFLAGS,
    FILEUSERNAME,
    FILEGROUPNAME,
    DIRINDEXES,
    BASENAMES,
    DIRNAMES,
    LONGFILESIZES,
    FILEDIGESTALGO,
}


def _str(tags: dict[int, Value], tag: int) -> str | None:
    v = tags.get(tag)
    if isinstance(v, str):
        return v
    if isinstance(v, list) and v and isinstance(v[0], str):
        return v[0]
    return None


def _ints(tags: dict[int, Value], tag: int) -> list[int]:
    v = tags.get(tag)
    return [x for x in v if isinstance(x, int)] if isinstance(v, list) else []


def _strs(tags: dict[int, Value], tag: int) -> list[str]:
    v = tags.get(tag)
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    return [v] if isinstance(v, str) else []


def _at(seq: list[T], i: int) -> T | None:
    return seq[i] if i < len(seq) else None


def evr(version: str, release: str | None, epoch: int | None) -> str:
    """rpm's ``[EPOCH:]VERSION-RELEASE`` as ``rpm -q --qf '%{EVR}'`` prints it."""
    out = f"{epoch}:{version}" if epoch is not None else version
    return f"{out}-{release}" if release else out


def file_paths(tags: dict[int, Value]) -> list[str]:
    """Absolute paths: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], or OLDFILENAMES (rpm < 4.0)."""
    basenames = _strs(tags, BASENAMES)
    if not basenames:
        return _strs(tags, OLDFILENAMES)
    dirnames = _strs(tags, DIRNAMES)
    indexes = _ints(tags, DIRINDEXES)
    if len(indexes) != len(basenames):
        raise HeaderError(f"{len(basenames)} basenames but {len(indexes)} dir indexes")
    out = []
    for base, di in zip(basenames, indexes, strict=True):
        if di >= len(dirnames):
            raise HeaderError(f"dir index {di} beyond {len(dirnames)} dirnames")
        out.append(dirnames[di] + base)
    return out


def parse_header(blob: bytes) -> OsPackage:
    """One installed package from its header blob; raises :class:`HeaderError` when bogus."""
    tags = parse_tags(blob, _WANTED)
    name = _str(tags, NAME)
    version = _str(tags, VERSION)
    if not name or version is None:
        raise HeaderError("header has no NAME or VERSION")
    epochs = _ints(tags, EPOCH)
    pkg = OsPackage(
        manager="rpm",
        name=name,
        version=evr(version, _str(tags, RELEASE), epochs[0] if epochs else None),
        arch=_str(tags, ARCH),
        source=_str(tags, SOURCERPM),
    )
    paths = file_paths(tags)
    algo_ids = _ints(tags, FILEDIGESTALGO)
    algo = DIGEST_ALGOS.get(algo_ids[0], f"pgp-hash-{algo_ids[0]}") if algo_ids else "md5"
    sizes = _ints(tags, LONGFILESIZES) or _ints(tags, FILESIZES)
    modes = _ints(tags, FILEMODES)
    digests = _strs(tags, FILEDIGESTS)
    flags = _ints(tags, FILEFLAGS)
    users = _strs(tags, FILEUSERNAME)
    groups = _strs(tags, FILEGROUPNAME)
    for i, path in enumerate(paths):
        hexd = _at(digests, i)
        digest: bytes | None = None
        if hexd:
            try:
                digest = bytes.fromhex(hexd)
            except ValueError:
                digest = None
        mode = _at(modes, i)
        flag = _at(flags, i) or 0
        pkg.files.append(
            OwnedFile(
                path=path,
                algo=algo if digest is not None else None,
                digest=digest,
                size=_at(sizes, i),
                mode=mode,
                user=_at(users, i),
                group=_at(groups, i),
                is_dir=mode is not None and stat.S_ISDIR(mode),
                is_config=bool(flag & RPMFILE_CONFIG),
                is_ghost=bool(flag & RPMFILE_GHOST),
            )
        )
    return pkg
