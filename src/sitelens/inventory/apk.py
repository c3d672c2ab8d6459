"""Alpine's apk database, ``lib/apk/db/installed``: packages and the files each owns.

Blank-line separated records of ``X:value`` lines (apk-tools' ``apk_db_fdb_write``): ``P`` name,
``V`` version, ``A`` arch, ``o`` origin (the source package), then the file tree: ``F`` a
directory relative to ``/``, optionally ``M:uid:gid:mode`` for it; ``R`` a file in the last
``F`` directory, optionally ``a:uid:gid:mode`` and ``Z`` its checksum. Checksums are ``Q1`` +
base64 sha1 (``Q2`` + base64 sha256 in newer apk) or plain hex md5 in very old databases; a
package whose ``f:`` flags hold ``S`` (written by apk-tools 3) stores the first 160 bits of the
sha256 in its ``Q1`` fields instead of a sha1. ``a``/``M`` may carry a fourth field, the checksum
of the entry's xattrs. Without ``a``/``M`` apk applies its defaults: root-owned, 0644 files and
0755 directories.
"""

from __future__ import annotations

import base64
import binascii
import stat

from ..dbreaders import APK_INSTALLED as PATHS
from ..fs import Filesystem
from .model import OsPackage, OsPackageDb, OwnedFile


def parse_checksum(value: str) -> tuple[str, bytes] | None:
    """(algorithm, raw digest) of an apk checksum field, None when unrecognised."""
    try:
        if value.startswith("Q1"):
            raw = base64.b64decode(value[2:], validate=True)
            return ("sha1", raw) if len(raw) == 20 else None
        if value.startswith("Q2"):
            raw = base64.b64decode(value[2:], validate=True)
            return ("sha256", raw) if len(raw) == 32 else None
        if len(value) == 32:
            return "md5", bytes.fromhex(value)
    except (binascii.Error, ValueError):
        return None
    return None


def _acl(value: str) -> tuple[str, str, int] | None:
    parts = value.split(":")
    if len(parts) not in (3, 4):  # uid:gid:mode[:xattr checksum]
        return None
    try:
        return parts[0], parts[1], int(parts[2], 8)
    except ValueError:
        return None


def parse_apk_installed(data: bytes, warnings: list[str] | None = None) -> list[OsPackage]:
    warn = warnings if warnings is not None else []
    text = data.decode("utf-8", "replace")
    if "\ufffd" in text:
        warn.append("installed: not valid UTF-8, undecodable bytes replaced")
    out: list[OsPackage] = []
    pkg: OsPackage | None = None
    cur_dir = ""
    last_file: OwnedFile | None = None
    last_dir: OwnedFile | None = None
    start = 1
    sha256_160 = False

    def finish(lineno: int) -> None:
        nonlocal pkg
        if pkg is not None:
            if pkg.name and pkg.version:
                out.append(pkg)
            else:
                warn.append(f"installed line {lineno}: record without P: or V: skipped")
        pkg = None

    for no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            finish(start)
            continue
        if pkg is None:
            pkg = OsPackage(manager="apk", name="", version="")
            cur_dir, last_file, last_dir, start, sha256_160 = "", None, None, no, False
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            warn.append(f"installed line {no}: malformed line {line[:60]!r} ignored")
            continue
        if key == "P":
            pkg.name = value
        elif key == "V":
            pkg.version = value
        elif key == "A":
            pkg.arch = value or None
        elif key == "o":
            pkg.source = value or None
        elif key == "f":
            sha256_160 = "S" in value
        elif key == "F":
            cur_dir = value.strip("/")
            last_file = None
            last_dir = OwnedFile(path="/" + cur_dir, mode=stat.S_IFDIR | 0o755, user="0", group="0", is_dir=True)
            pkg.files.append(last_dir)
        elif key == "M" and last_dir is not None:
            acl = _acl(value)
            if acl is None:
                warn.append(f"installed line {no}: bad directory mode {value!r}")
            else:
                last_dir.user, last_dir.group, last_dir.mode = acl[0], acl[1], stat.S_IFDIR | acl[2]
        elif key == "R":
            path = f"/{cur_dir}/{value}" if cur_dir else f"/{value}"
            last_file = OwnedFile(path=path, mode=stat.S_IFREG | 0o644, user="0", group="0")
            pkg.files.append(last_file)
        elif key == "a" and last_file is not None:
            acl = _acl(value)
            if acl is None:
                warn.append(f"installed line {no}: bad file mode {value!r}")
            else:
                last_file.user, last_file.group, last_file.mode = acl[0], acl[1], stat.S_IFREG | acl[2]
        elif key == "Z" and last_file is not None:
            parsed = parse_checksum(value)
            if parsed is None:
                warn.append(f"installed line {no}: unrecognised checksum {value[:40]!r}")
            else:
                last_file.algo, last_file.digest = parsed
                if sha256_160 and parsed[0] == "sha1":
                    last_file.algo = "sha256-160"
    finish(start)
    return out


def read_apk(fs: Filesystem) -> OsPackageDb | None:
    for path in PATHS:
        data = fs.read_bytes(path)
        if data is None:
            continue
        real = fs.resolve(path) or path
        db = OsPackageDb(manager="apk", path=real)
        db.packages = parse_apk_installed(data, db.warnings)
        db.warnings[:] = [f"{real}: {w}" for w in db.warnings]
        return db
    return None


def read_apk_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """The reader ``dbreaders.READERS`` names."""
    db = read_apk(fs)
    return [db] if db is not None else []
