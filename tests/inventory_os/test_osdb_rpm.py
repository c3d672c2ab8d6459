"""rpm database readers (sqlite, Berkeley DB, NDB) against ``rpm --dbpath`` and on bad bytes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import require_tool

from fixtures.rpms import (
    RpmFixture,
    RpmToolsUnavailable,
    rpm_fixture,
    sqlite_blobs,
    sqlite_to_bdb,
    sqlite_with_wal_row,
    write_ndb,
)
from sitelens.inventory.model import OsPackage
from sitelens.inventory.rpm import parse_blobs, parse_rpmdb
from sitelens.inventory.rpm_bdb import parse_bdb
from sitelens.inventory.rpm_header import HeaderError, parse_header
from sitelens.inventory.rpm_ndb import parse_ndb
from sitelens.inventory.rpm_sqlite import parse_sqlite

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rpmdb"
MARINER = DATA / "sqlite-cbl-mariner-2.0-rpmdb.sqlite"
LIBUUID = DATA / "bdb-libuuid-Packages"

BDB = ["--define", "_db_backend bdb_ro"]


@pytest.fixture(scope="module")
def fx() -> RpmFixture:
    require_tool("rpm", "rpmbuild")
    try:
        return rpm_fixture()
    except RpmToolsUnavailable as exc:
        pytest.skip(str(exc))


def _data(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"real rpm databases not available: {DATA} is absent (see ../shared/data/README.md)")
    return path


def _rpm(dbpath: Path, *args: str) -> str:
    proc = subprocess.run(["rpm", "--dbpath", str(dbpath), *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _oracle_packages(dbpath: Path, *extra: str) -> set[tuple[str, str, str, str | None]]:
    out = _rpm(dbpath, *extra, "-qa", "--qf", "%{NAME}\t%{EVR}\t%{ARCH}\t%{SOURCERPM}\n")
    rows = set()
    for line in out.splitlines():
        name, evr, arch, src = line.split("\t")
        rows.add((name, evr, arch, None if src == "(none)" else src))
    return rows


FILE_QF = ("[%{=NAME}\t%{FILENAMES}\t%{FILEDIGESTS}\t%{FILEMODES}\t%{FILESIZES}\t%{FILEUSERNAME}"
           "\t%{FILEGROUPNAME}\t%{FILEFLAGS}\t%{=FILEDIGESTALGO}\n]")
ALGOS = {"(none)": "md5", "1": "md5", "2": "sha1", "8": "sha256", "10": "sha512"}


def _oracle_files(dbpath: Path, *extra: str) -> set[tuple]:  # type: ignore[type-arg]
    rows = set()
    for line in _rpm(dbpath, *extra, "-qa", "--qf", FILE_QF).splitlines():
        name, path, digest, mode, size, user, group, flags, algo = line.split("\t")
        rows.add((name, path, ALGOS[algo] if digest else None, digest or None, int(mode), int(size),
                  user, group, int(flags) & 1 == 1, int(flags) & 64 == 64))
    return rows


def _ours_packages(pkgs: list[OsPackage]) -> set[tuple[str, str, str | None, str | None]]:
    return {(p.name, p.version, p.arch, p.source) for p in pkgs}


def _ours_files(pkgs: list[OsPackage]) -> set[tuple]:  # type: ignore[type-arg]
    return {
        (p.name, f.path, f.algo, f.digest.hex() if f.digest else None, f.mode, f.size, f.user, f.group,
         f.is_config, f.is_ghost)
        for p in pkgs for f in p.files
    }


def _check(pkgs: list[OsPackage], warnings: list[str], dbpath: Path, *extra: str) -> None:
    assert warnings == []
    assert _ours_packages(pkgs) == _oracle_packages(dbpath, *extra)
    assert _ours_files(pkgs) == _oracle_files(dbpath, *extra)


# ---- fixture databases: rpmbuild + rpm --root ---------------------------------------------------


def test_sqlite_fixture_equals_rpm(fx: RpmFixture) -> None:
    pkgs, warnings = parse_rpmdb("sqlite", (fx.sqlite_db / "rpmdb.sqlite").read_bytes())
    assert {p.name for p in pkgs} == {"sl-pymod", "sl-conf", "sl-many"}
    _check(pkgs, warnings, fx.sqlite_db)


def test_fixture_details(fx: RpmFixture) -> None:
    pkgs, _ = parse_rpmdb("sqlite", (fx.sqlite_db / "rpmdb.sqlite").read_bytes())
    by = {p.name: p for p in pkgs}
    conf = {f.path: f for f in by["sl-conf"].files}
    assert by["sl-conf"].version == "2:0.9-1"
    assert conf["/etc/slconf/sl.conf"].is_config and conf["/etc/slconf/sl.conf"].algo == "md5"
    assert conf["/var/log/sl.log"].is_ghost and not conf["/var/log/sl.log"].is_config
    assert conf["/var/lib/slconf"].is_dir and conf["/var/lib/slconf"].mode == stat.S_IFDIR | 0o750
    assert conf["/etc/slconf/secret"].mode == stat.S_IFREG | 0o600
    assert stat.S_ISLNK(conf["/usr/bin/sl-alias"].mode or 0) and conf["/usr/bin/sl-alias"].digest is None
    py = {f.path: f for f in by["sl-pymod"].files}
    init = py["/usr/lib/python3.11/site-packages/slmod/__init__.py"]
    installed = fx.sqlite_root / "usr/lib/python3.11/site-packages/slmod/__init__.py"
    import hashlib

    assert init.algo == "sha256" and init.digest == hashlib.sha256(installed.read_bytes()).digest()
    assert init.size == installed.stat().st_size
    # rpm -q --dump agrees too (path size mtime digest mode owner group isconfig ...)
    for line in _rpm(fx.sqlite_db, "-q", "--dump", "sl-conf").splitlines():
        path, size, _mtime, digest, mode, owner, group, isconfig = line.split(" ")[:8]
        f = conf[path]
        assert (f.size, f.mode, f.user, f.group, f.is_config) == (int(size), int(mode, 8), owner, group,
                                                                   isconfig == "1")
        assert (f.digest.hex() if f.digest else "0" * 32) == digest


def test_bdb_fixture_equals_rpm(fx: RpmFixture) -> None:
    warnings: list[str] = []
    blobs = parse_bdb((fx.bdb_dir / "Packages").read_bytes(), warnings)
    pkgs = parse_blobs(blobs, warnings)
    _check(pkgs, warnings, fx.bdb_dir, *BDB)


def test_ndb_fixture_holds_rpms_headers(fx: RpmFixture) -> None:
    # Debian's rpm has no ndb backend, so the oracle is the sqlite db the headers came from.
    pkgs, warnings = parse_rpmdb("ndb", (fx.ndb_dir / "Packages.db").read_bytes())
    _check(pkgs, warnings, fx.sqlite_db)


# ---- real databases from distribution images ----------------------------------------------------


def test_real_sqlite_mariner_equals_rpm(tmp_path: Path) -> None:
    require_tool("rpm")
    src = _data(MARINER.name)
    shutil.copy(src, tmp_path / "rpmdb.sqlite")
    pkgs, warnings = parse_rpmdb("sqlite", src.read_bytes())
    assert len(pkgs) == 129
    _check(pkgs, warnings, tmp_path, "--define", "_db_backend sqlite")


def test_real_bdb_libuuid_equals_rpm(tmp_path: Path) -> None:
    require_tool("rpm")
    src = _data(LIBUUID.name)
    shutil.copy(src, tmp_path / "Packages")
    pkgs, warnings = parse_rpmdb("bdb", src.read_bytes())
    assert [(p.name, p.version, p.arch) for p in pkgs] == [("libuuid", "2.32.1-42.el8_8", "x86_64")]
    _check(pkgs, warnings, tmp_path, *BDB)


@pytest.fixture(scope="module")
def mariner_bdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("rpm")
    src = _data(MARINER.name)
    try:
        return sqlite_to_bdb(src, tmp_path_factory.mktemp("mariner-bdb"))
    except RpmToolsUnavailable as exc:
        pytest.skip(str(exc))


def test_real_headers_in_bdb_with_overflow_pages(mariner_bdb: Path) -> None:
    data = mariner_bdb.read_bytes()
    pkgs, warnings = parse_rpmdb("bdb", data)
    assert len(pkgs) == 129
    _check(pkgs, warnings, mariner_bdb.parent, *BDB)


def test_real_headers_in_ndb(tmp_path: Path) -> None:
    require_tool("rpm")
    src = _data(MARINER.name)
    blobs = sqlite_blobs(src)
    path = write_ndb(blobs, tmp_path / "Packages.db")
    assert (path.stat().st_size // 4096) > 1
    shutil.copy(src, tmp_path / "rpmdb.sqlite")
    pkgs, warnings = parse_rpmdb("ndb", path.read_bytes())
    _check(pkgs, warnings, tmp_path, "--define", "_db_backend sqlite")


# ---- bad input --------------------------------------------------------------------------------


def test_truncated_bdb_pages(mariner_bdb: Path) -> None:
    data = mariner_bdb.read_bytes()
    full = parse_bdb(data)
    for cut in (len(data) // 2, len(data) // 2 + 1000, len(data) - 4096, 600, 100):
        warnings: list[str] = []
        blobs = parse_bdb(data[:cut], warnings)
        assert warnings, cut
        assert len(blobs) < len(full)
        pkgs = parse_blobs(blobs, warnings)
        assert len(pkgs) == len(blobs)  # every blob that was returned is whole
    # a broken overflow page in the middle: that package is lost, the rest read
    pagesize = 4096
    damaged = bytearray(data)
    for pg in range(1, len(data) // pagesize):
        if damaged[pg * pagesize + 25] == 7:  # first overflow page
            damaged[pg * pagesize + 25] = 0
            break
    warnings = []
    blobs = parse_bdb(bytes(damaged), warnings)
    assert len(blobs) == len(full) - 1 and warnings


def test_bdb_junk_never_crashes() -> None:
    import random

    rng = random.Random(3)
    header = bytearray(4096)
    header[12:16] = (0x061561).to_bytes(4, "little")
    header[20:24] = (512).to_bytes(4, "little")
    header[32:36] = (40).to_bytes(4, "little")
    for _ in range(40):
        junk = bytes(header[:512]) + bytes(rng.randrange(256) for _ in range(512 * 8))
        parse_bdb(junk, [])
    assert parse_bdb(b"\0" * 10, w := []) == [] and w


def test_bogus_header_blob_is_a_warning(fx: RpmFixture, tmp_path: Path) -> None:
    db = tmp_path / "rpmdb.sqlite"
    shutil.copy(fx.sqlite_db / "rpmdb.sqlite", db)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO Packages (hnum, blob) VALUES (100, ?)", (b"\x00\x00\x00\x05junk",))
    conn.execute("INSERT INTO Packages (hnum, blob) VALUES (101, ?)", (b"\xff" * 64,))
    conn.commit()
    conn.close()  # checkpoints the WAL rpm's db mode uses into the main file
    pkgs, warnings = parse_rpmdb("sqlite", db.read_bytes())
    assert len(pkgs) == 3
    assert len(warnings) == 2 and "header #100" in warnings[0]
    one_entry = b"\x00\x00\x00\x01\x00\x00\x00\x04"  # il=1, dl=4
    name_tag = b"\x00\x00\x03\xe8\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01"  # NAME, STRING
    for blob in (b"", b"\x00" * 8, b"\x00\x00\x00\x01\x00\x00\x00\x10" + b"\x00" * 16,
                 one_entry + name_tag + b"abcd"):  # string without its NUL
        with pytest.raises(HeaderError):
            parse_header(blob)


def test_header_fuzz_never_crashes(fx: RpmFixture) -> None:
    import random

    rng = random.Random(11)
    blobs = sqlite_blobs(fx.sqlite_db / "rpmdb.sqlite")
    base = bytearray(blobs[0][1])
    for _ in range(300):
        blob = bytearray(base)
        for _ in range(rng.randrange(1, 8)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        if rng.random() < 0.3:
            blob = blob[: rng.randrange(len(blob))]
        warnings: list[str] = []
        parse_blobs([(1, bytes(blob))], warnings)


def test_truncated_sqlite(fx: RpmFixture) -> None:
    data = (fx.sqlite_db / "rpmdb.sqlite").read_bytes()
    for cut in (len(data) // 2, 4096, 100, 10):
        warnings: list[str] = []
        blobs = parse_sqlite(data[:cut], None, warnings)
        assert warnings, cut
        parse_blobs(blobs, warnings)
    assert parse_sqlite(b"junk" * 100, None, w := []) == [] and "bad magic" in w[0]


def test_sqlite_wal_is_replayed(fx: RpmFixture, tmp_path: Path) -> None:
    main, wal = sqlite_with_wal_row(fx.sqlite_db / "rpmdb.sqlite", tmp_path, 50)
    assert wal
    with_wal = parse_sqlite(main, wal, w1 := [])
    without = parse_sqlite(main, None, w2 := [])
    assert w1 == [] and w2 == []
    assert [h for h, _ in with_wal] == [1, 2, 3, 50]
    assert [h for h, _ in without] == [1, 2, 3]


def test_sqlite_without_deserialize_writes_nothing(fx: RpmFixture, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    # Python 3.10 has no Connection.deserialize: the database is not copied to disk (issue 14),
    # the reader says why it read nothing.
    import tempfile

    from sitelens.inventory import rpm_sqlite

    data = (fx.sqlite_db / "rpmdb.sqlite").read_bytes()
    monkeypatch.setattr(rpm_sqlite, "HAS_DESERIALIZE", False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert parse_sqlite(data, None, w := []) == [] and "Python 3.11" in w[0]
    assert os.listdir(tmp_path) == []


def test_sqlite_recursive_view_is_refused(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE VIEW Packages AS WITH RECURSIVE r(hnum, blob) AS (SELECT 1, x'00' "
                    "UNION ALL SELECT hnum + 1, blob FROM r) SELECT hnum, blob FROM r")
    con.close()
    assert parse_sqlite(db.read_bytes(), None, w := []) == [] and "view" in w[0]


def test_sqlite_runaway_query_is_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A real table whose rows cost more than the step budget: the progress handler ends it.
    import sqlite3

    from sitelens.inventory import rpm_sqlite

    db = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
        con.executemany("INSERT INTO Packages VALUES (?, ?)", [(i, b"x") for i in range(1, 20000)])
    con.close()
    monkeypatch.setattr(rpm_sqlite, "MAX_STEPS", 50_000)
    rows = parse_sqlite(db.read_bytes(), None, w := [])
    assert len(rows) < 19999 and "interrupted" in " ".join(w)


def test_ndb_damage_is_a_warning(fx: RpmFixture) -> None:
    data = bytearray((fx.ndb_dir / "Packages.db").read_bytes())
    full = parse_ndb(bytes(data))
    # break the second package's blob magic
    slot = 32 + 16
    blkoff = int.from_bytes(data[slot + 8:slot + 12], "little")
    data[blkoff * 16:blkoff * 16 + 4] = b"XXXX"
    warnings: list[str] = []
    blobs = parse_ndb(bytes(data), warnings)
    assert len(blobs) == len(full) - 1 and "no valid blob" in warnings[0]
    warnings = []
    assert parse_ndb(bytes(data[:5000]), warnings) == [] and warnings
    assert parse_ndb(b"RpmP" + b"\xff" * 40, w := []) == [] and w
