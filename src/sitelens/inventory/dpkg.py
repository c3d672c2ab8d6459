"""The dpkg database: ``var/lib/dpkg/status`` (or distroless ``status.d/``) and ``info/`` files.

* ``status``: one deb822 stanza per package (``_fields``: field names are case-insensitive,
  continuation lines start with a space or tab, ``#`` lines are comments). A package's files are
  on disk from the ``unpacked`` state on, so every such state counts as installed; purged
  (``not-installed``) and ``config-files`` packages own nothing but conffiles and are left out.
* ``info/<pkg>.list`` (``<pkg>:<arch>.list`` for ``Multi-Arch: same`` packages): every path the
  package owns, directories included, ``/.`` for the root.
* ``info/<pkg>.md5sums``: ``<md5>  <path relative to />`` for regular files (conffiles are
  usually absent; their md5 is in the status ``Conffiles`` field instead).
* ``info/<pkg>.conffiles``: the package's conffiles.
* distroless images have no ``status`` but ``status.d/<name>`` (one stanza, often without a
  ``Status`` field) and ``status.d/<name>.md5sums`` beside it; those md5sums are the file list.

Paths are kept as the database records them. On usr-merged systems (Debian ≥ 12) a package may
list ``/lib/x86_64-linux-gnu/libc.so.6`` while the file lives at ``/usr/lib/...`` because
``/lib`` is a symlink; :func:`canonical_path` maps a recorded path to the path the filesystem
model stores, which is what checks must use to compare a db entry with the image.

The parsers are pure functions of bytes; :func:`read_dpkg` fetches the bytes from the image.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..fs import Filesystem
from ..paths import normpath
from .model import OsPackage, OsPackageDb, OwnedFile

ADMINDIR = "/var/lib/dpkg"
STATUS = ADMINDIR + "/status"
STATUS_D = ADMINDIR + "/status.d"
INFO = ADMINDIR + "/info"

# dpkg states in which the package's files are on disk.
ON_DISK = {"unpacked", "half-configured", "triggers-awaited", "triggers-pending", "installed"}

_FIELD = re.compile(rb"^[^\s:#][^:\s]*:")
# A full Debian archive installed at once is ~60k packages; real images hold a few thousand.
# Past this a status file is an attack on the parser (issue 14: 60 MB took 105 s, 917 MB).
MAX_STANZAS = 20_000
MAX_WARNINGS = 50
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
# A well-formed md5sums line: the digest, one space, an optional second space or ``*`` (binary
# mode; possessive: a line with nothing after it is malformed), then a non-empty path.
_MD5SUMS_LINE = re.compile(r"^([0-9a-fA-F]{32}) [ *]?+(.+)$", re.MULTILINE)


@dataclass
class DpkgRecord:
    """One stanza of the status file, as far as ownership needs it."""

    package: OsPackage
    state: str | None  # third word of Status (None: no Status field, as in distroless)
    multi_arch: str | None = None
    conffiles: dict[str, bytes | None] = field(default_factory=dict)  # path -> md5 (None: "newconffile")

    @property
    def info_names(self) -> list[str]:
        """Candidate base names of the package's ``info/`` files, the likeliest first."""
        pkg = self.package
        qualified = f"{pkg.name}:{pkg.arch}" if pkg.arch else pkg.name
        return [qualified, pkg.name] if self.multi_arch == "same" else [pkg.name, qualified]


def _decode(raw: bytes, what: str, warnings: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"{what}: not valid UTF-8, undecodable bytes replaced")
        return raw.decode("utf-8", "replace")


def _stanzas(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(first line number, raw bytes) of each blank-line separated stanza, one at a time: a
    64 MiB status split into a list of lines costs several times its size in memory."""
    cur: list[bytes] = []
    start = 1
    for no, line in enumerate(io.BytesIO(data), 1):
        line = line.rstrip(b"\n")
        if line.strip() == b"":
            if cur:
                yield start, b"\n".join(cur) + b"\n"
                cur = []
            continue
        if not cur:
            start = no
        cur.append(line)
    if cur:
        yield start, b"\n".join(cur) + b"\n"


def _fields(text: str) -> dict[str, str]:
    """One deb822 stanza: lower-cased field name -> value, continuation lines joined with
    newlines. (python-debian's parser, which this replaces, costs more to import than a whole
    status file costs to parse.)"""
    out: dict[str, str] = {}
    key: str | None = None
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        if line[0] in " \t":
            if key is not None:
                out[key] += "\n" + line
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            key = None  # malformed: reported by the caller
            continue
        key = name.lower()
        out[key] = value.strip()
    return out


def parse_conffiles_field(value: str) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for line in value.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("/"):
            continue
        digest = bytes.fromhex(parts[1]) if len(parts) > 1 and _MD5.match(parts[1]) else None
        out[posixpath.normpath(parts[0])] = digest
    return out


def parse_dpkg_status(
    data: bytes, source: str = "status", warnings: list[str] | None = None, require_status: bool = True
) -> list[DpkgRecord]:
    """Packages whose files are on disk; bad stanzas and lines become ``warnings``."""
    target = warnings if warnings is not None else []
    warn = _Capped(target, source)
    out: list[DpkgRecord] = []
    for n, (lineno, raw) in enumerate(_stanzas(data)):
        if n >= MAX_STANZAS:
            target.append(f"{source}: more than {MAX_STANZAS} stanzas; the rest is not read")
            break
        where = f"{source} line {lineno}"
        bad = [ln for ln in raw.split(b"\n") if ln and not ln[:1].isspace() and not _FIELD.match(ln)]
        if bad:
            warn.append(f"{where}: {len(bad)} malformed line(s) ignored, e.g. {bad[0][:60]!r}")
        para = _fields(_decode(raw, where, warn))
        name = para.get("package", "").strip()
        version = para.get("version", "").strip()
        status = para.get("status", "").split()
        state = status[2] if len(status) == 3 else None
        if not name:
            warn.append(f"{where}: stanza without a Package field skipped")
            continue
        if state is None and (status or require_status):
            warn.append(f"{where}: package {name} has no valid Status field, skipped")
            continue
        if state is not None and state not in ON_DISK:
            continue
        if not version:
            warn.append(f"{where}: package {name} has no Version")
        pkg = OsPackage(
            manager="dpkg",
            name=name,
            version=version,
            arch=para.get("architecture", "").strip() or None,
            # "Source: name (version)" when the versions differ; no field: same as the package.
            source=para.get("source", "").split(" ")[0].strip() or name,
        )
        out.append(
            DpkgRecord(
                package=pkg,
                state=state,
                multi_arch=para.get("multi-arch", "").strip() or None,
                conffiles=parse_conffiles_field(para.get("conffiles", "")),
            )
        )
    warn.close()
    return out


class _Capped(list[str]):
    """Warnings, ``MAX_WARNINGS`` of them kept and the rest counted; ``close`` hands them on."""

    def __init__(self, target: list[str], source: str) -> None:
        super().__init__()
        self._target = target
        self._source = source
        self._dropped = 0

    def append(self, message: str) -> None:
        if len(self) < MAX_WARNINGS:
            super().append(message)
        else:
            self._dropped += 1

    def close(self) -> None:
        self._target.extend(self)
        if self._dropped:
            self._target.append(f"{self._source}: {self._dropped} more warnings not shown")


def parse_list(data: bytes) -> list[str]:
    """Paths of an ``info/*.list`` file, normalised (``/.`` becomes ``/``)."""
    return [normpath(line) for line in data.decode("utf-8", "surrogateescape").split("\n") if line.startswith("/")]


def parse_md5sums(data: bytes, warnings: list[str] | None = None, source: str = "md5sums") -> dict[str, bytes]:
    """Absolute path -> raw md5 digest (md5sums paths are relative to ``/``)."""
    warn = warnings if warnings is not None else []
    text = data.decode("utf-8", "surrogateescape")
    # An image's md5sums hold thousands of lines: the well-formed ones are found in one scan
    rows = _MD5SUMS_LINE.findall(text)
    out = {normpath("/" + rel.lstrip("/")): bytes.fromhex(digest) for digest, rel in rows}
    lines = text.count("\n") + 1 - (not text or text.endswith("\n"))  # split("\n") minus a last ""
    if len(rows) != lines:  # blank or malformed lines: only the malformed ones are reported
        bad = sum(1 for line in text.split("\n") if line.strip()) - len(rows)
        if bad:
            warn.append(f"{source}: {bad} malformed line(s) ignored")
    return out


def parse_conffiles(data: bytes) -> list[str]:
    return [
        posixpath.normpath(ln.strip())
        for ln in data.decode("utf-8", "surrogateescape").split("\n")
        if ln.strip().startswith("/")
    ]


def owned_files(paths: list[str], md5s: dict[str, bytes], conffiles: dict[str, bytes | None]) -> list[OwnedFile]:
    """OwnedFile rows: the list's paths (or the md5sums' when there is no list), digests joined."""
    out: list[OwnedFile] = []
    append = out.append  # thousands of rows per package db: one lookup, not one per row
    # dict.fromkeys: the paths in order, each once (a list may repeat one)
    for path in dict.fromkeys(paths) if paths else md5s:
        digest = md5s.get(path)
        if digest is None:
            digest = conffiles.get(path)
        append(OwnedFile(path, "md5" if digest else None, digest, is_config=path in conffiles))
    return out


def canonical_path(fs: Filesystem, path: str) -> str | None:
    """Where a recorded path lives in the filesystem model (usr-merge aliases resolved).

    The parent directories are resolved through symlinks (``/lib`` -> ``/usr/lib``), the last
    component is not (a package may own a symlink), and need not exist: a check can ask where a
    deleted file would be. None when the parent directory does not exist.
    """
    return fs.canonical(normpath(path))


def _mark_dirs(fs: Filesystem, files: list[OwnedFile]) -> None:
    # dpkg does not record file types; a listed path without a digest that is a directory in
    # the image is the package's directory.
    # The paths come from parse_list / parse_md5sums, normalised already: canonical_path's
    # normpath would be a no-op per row.
    canonical, lookup = fs.canonical, fs.lookup
    for f in files:
        if f.digest is None:
            real = canonical(f.path)
            node = lookup(real) if real else None
            f.is_dir = node is not None and node.entry.kind == "dir"


def _read_info(fs: Filesystem, rec: DpkgRecord, warnings: list[str]) -> None:
    paths: list[str] = []
    md5s: dict[str, bytes] = {}
    conffiles = dict(rec.conffiles)
    for base in rec.info_names:
        listed = fs.read_bytes(f"{INFO}/{base}.list")
        if listed is None:
            continue
        paths = parse_list(listed)
        sums = fs.read_bytes(f"{INFO}/{base}.md5sums")
        if sums is not None:
            md5s = parse_md5sums(sums, warnings, f"info/{base}.md5sums")
        conf = fs.read_bytes(f"{INFO}/{base}.conffiles")
        if conf is not None:
            for p in parse_conffiles(conf):
                conffiles.setdefault(p, None)
        break
    else:
        warnings.append(f"package {rec.package.name}: no info/{rec.info_names[0]}.list")
    rec.package.files = owned_files(paths, md5s, conffiles)


def read_dpkg(fs: Filesystem) -> OsPackageDb | None:
    """The dpkg database of the image, or None when it has none (``layer`` is set by the caller)."""
    data = fs.read_bytes(STATUS)
    if data is not None:
        db = OsPackageDb(manager="dpkg", path=STATUS)
        records = parse_dpkg_status(data, "status", db.warnings)
        for rec in records:
            _read_info(fs, rec, db.warnings)
        db.packages = [r.package for r in records]
    else:
        names = [n for n in fs.listdir(STATUS_D) if not n.endswith((".md5sums", ".list"))]
        if not names:
            return None
        db = OsPackageDb(manager="dpkg", path=STATUS_D)
        for name in names:
            path = f"{STATUS_D}/{name}"
            raw = fs.read_bytes(path)
            if raw is None:
                continue
            records = parse_dpkg_status(raw, f"status.d/{name}", db.warnings, require_status=False)
            for rec in records:
                sums = fs.read_bytes(f"{path}.md5sums")
                listed = fs.read_bytes(f"{path}.list")
                md5s = parse_md5sums(sums, db.warnings, f"status.d/{name}.md5sums") if sums else {}
                rec.package.files = owned_files(parse_list(listed) if listed else [], md5s, rec.conffiles)
                db.packages.append(rec.package)
    for pkg in db.packages:
        _mark_dirs(fs, pkg.files)
    return db


def read_dpkg_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """The reader ``dbreaders.READERS`` names."""
    db = read_dpkg(fs)
    return [db] if db is not None else []
