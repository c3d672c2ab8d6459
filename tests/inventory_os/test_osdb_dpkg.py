"""dpkg database reader: a real Debian 12 root against dpkg-query, plus parser edge cases."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from helpers import fs_from_spec, image_from_built, require_tool

from fixtures.debian_root import RootUnavailable, debian_root
from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink, build, tree_entries
from sitelens.fs import Filesystem
from sitelens.inventory.dpkg import (
    canonical_path,
    parse_dpkg_status,
    parse_list,
    parse_md5sums,
    read_dpkg,
)
from sitelens.inventory.model import OsPackage, OsPackageDb
from sitelens.inventory.ospkg import find_package_dbs
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes


@pytest.fixture(scope="module")
def debian() -> tuple[Path, Filesystem, OsPackageDb]:
    require_tool("mmdebstrap", "dpkg-query")
    try:
        root = debian_root()
    except RootUnavailable as exc:
        pytest.skip(str(exc))
    # The whole root as one image layer, through the real tar writer, indexer and merge.
    image = image_from_built(build(ImageSpec([LayerSpec(tree_entries(root))]), None))
    fs = Filesystem.from_indexes(load_indexes(image, LayerCache(None, enabled=False)))
    dbs = find_package_dbs(fs)
    assert [db.manager for db in dbs] == ["dpkg"]
    return root, fs, dbs[0]


def _query(root: Path, *args: str) -> str:
    proc = subprocess.run(
        ["dpkg-query", f"--admindir={root}/var/lib/dpkg", *args],
        capture_output=True, text=True, check=True,
    )
    return proc.stdout


def _by_name(db: OsPackageDb) -> dict[str, OsPackage]:
    return {p.name: p for p in db.packages}


def test_packages_equal_dpkg_query(debian: tuple[Path, Filesystem, OsPackageDb]) -> None:
    root, _, db = debian
    out = _query(root, "-W", "-f", "${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package}\n")
    expected = set()
    for line in out.splitlines():
        state, *rest = line.split(" ")
        assert state == "installed"  # a fresh root: every listed package is installed
        expected.add(tuple(rest))
    got = {(p.name, p.version, p.arch, p.source) for p in db.packages}
    assert len(got) > 100
    assert got == expected
    assert db.warnings == []
    assert db.path == "/var/lib/dpkg/status" and db.layer == 0


def test_file_lists_equal_dpkg_query_L(debian: tuple[Path, Filesystem, OsPackageDb]) -> None:
    root, _, db = debian
    for pkg in db.packages:
        ref = pkg.name if not pkg.arch or pkg.arch == "all" else f"{pkg.name}:{pkg.arch}"
        listed = [ln for ln in _query(root, "-L", ref).splitlines() if ln.startswith("/")]
        expected = {"/" if p == "/." else p for p in listed}
        got = [f.path for f in pkg.files]
        assert len(got) == len(set(got)), pkg.name
        assert set(got) == expected, pkg.name


def test_md5_digests_equal_md5sums_and_disk(debian: tuple[Path, Filesystem, OsPackageDb]) -> None:
    root, fs, db = debian
    checked_disk = 0
    for pkg in db.packages:
        ref = pkg.name if not pkg.arch or pkg.arch == "all" else f"{pkg.name}:{pkg.arch}"
        proc = subprocess.run(
            ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "--control-show", ref, "md5sums"],
            capture_output=True, text=True,
        )
        expected = {}
        if proc.returncode == 0:
            for line in proc.stdout.splitlines():
                digest, rel = line.split(None, 1)
                expected["/" + rel] = digest
        conf = {f.path for f in pkg.files if f.is_config}
        got = {f.path: f.digest.hex() for f in pkg.files if f.digest and f.path not in conf}
        assert got == expected, pkg.name
        for f in pkg.files:
            if f.digest is None:
                continue
            assert f.algo == "md5"
            real = canonical_path(fs, f.path)
            disk = root / real.lstrip("/") if real else None
            if disk is not None and disk.is_file() and not disk.is_symlink():
                assert hashlib.md5(disk.read_bytes()).digest() == f.digest, f.path
                checked_disk += 1
    assert checked_disk > 1000


def test_conffiles_and_dirs(debian: tuple[Path, Filesystem, OsPackageDb]) -> None:
    root, _, db = debian
    pkgs = _by_name(db)
    for name in ("adduser", "base-files"):
        out = _query(root, "-W", "-f", "${Conffiles}\n", name)
        expected = {ln.split()[0] for ln in out.splitlines() if ln.strip()}
        assert expected
        assert {f.path for f in pkgs[name].files if f.is_config} == expected
        # conffiles carry the md5 recorded in the status file
        assert all(f.digest for f in pkgs[name].files if f.is_config)
    dirs = {f.path for f in pkgs["base-files"].files if f.is_dir}
    assert {"/", "/etc", "/usr/share"} <= dirs
    assert not any(f.is_dir for f in pkgs["base-files"].files if f.path == "/etc/debian_version")


def test_usr_merge_canonical_path(debian: tuple[Path, Filesystem, OsPackageDb]) -> None:
    _, fs, db = debian
    libc = _by_name(db)["libc6"]
    recorded = [f.path for f in libc.files if f.path.startswith("/lib/x86_64-linux-gnu/")]
    assert recorded, "Debian 12 libc6 records its libraries under /lib"
    for path in recorded:
        real = canonical_path(fs, path)
        assert real == "/usr" + path
        assert fs.get(real) is not None
    # every recorded path except the ones path-exclude dropped exists at its canonical path
    excluded = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/")
    for pkg in db.packages:
        for f in pkg.files:
            real = canonical_path(fs, f.path)
            if real is None or fs.get(real) is None:
                assert f.path.startswith(excluded) or f.path.rstrip("/") + "/" in excluded, f.path


# ---- parsers on bytes --------------------------------------------------------------------------

STATUS = b"""\
Package: good
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: goodsrc (1.0-1)
Version: 1.0-1+b1
Conffiles:
 /etc/good.conf 0123456789abcdef0123456789abcdef
 /etc/old.conf fedcba9876543210fedcba9876543210 obsolete

Package: purged
Status: purge ok not-installed
Architecture: all

Package: removed
Status: deinstall ok config-files
Version: 2
Architecture: all

Package: unpacked
Status: install ok unpacked
Version: 3
Architecture: all
"""


def test_parse_status_states_and_fields() -> None:
    warnings: list[str] = []
    recs = parse_dpkg_status(STATUS, warnings=warnings)
    assert warnings == []
    assert [r.package.name for r in recs] == ["good", "unpacked"]
    good = recs[0]
    assert (good.package.version, good.package.arch, good.package.source) == ("1.0-1+b1", "amd64", "goodsrc")
    assert good.info_names == ["good:amd64", "good"]
    assert good.conffiles["/etc/good.conf"] == bytes.fromhex("0123456789abcdef0123456789abcdef")
    assert recs[1].package.source == "unpacked"


def test_corrupt_stanzas_are_warnings() -> None:
    junk = (
        b"Package: ok1\nStatus: install ok installed\nVersion: 1\n\n"
        b"this line has no colon\n\x00\xff\xfe binary junk\nPackage: ok2\nStatus: install ok installed\n"
        b"Version: 2\n\n"
        b"Version: 3\nStatus: install ok installed\n\n"  # no Package
        b"Package: nostatus\nVersion: 4\n\n"
        b"Package: badstatus\nStatus: installed\nVersion: 5\n\n"
        + bytes(range(256)) * 4
    )
    warnings: list[str] = []
    recs = parse_dpkg_status(junk, warnings=warnings)
    assert [r.package.name for r in recs] == ["ok1", "ok2"]
    text = "\n".join(warnings)
    assert "malformed line" in text
    assert "UTF-8" in text
    assert "without a Package field" in text
    assert "nostatus" in text and "badstatus" in text


def test_binary_junk_status_never_crashes() -> None:
    import random

    rng = random.Random(7)
    for _ in range(50):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        warnings: list[str] = []
        parse_dpkg_status(blob + STATUS + blob, warnings=warnings)
        parse_md5sums(blob, warnings)
        parse_list(blob)


def test_md5sums_and_list_parsing() -> None:
    sums = b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/a b\nnot a line\nd41d8cd98f00b204e9800998ecf8427e *usr/lib/x\n"
    warnings: list[str] = []
    got = parse_md5sums(sums, warnings)
    assert set(got) == {"/usr/bin/a b", "/usr/lib/x"}
    assert got["/usr/lib/x"] == bytes.fromhex("d41d8cd98f00b204e9800998ecf8427e")
    assert warnings and "1 malformed" in warnings[0]
    assert parse_list(b"/.\n/usr\n/usr/bin/a b\n\n") == ["/", "/usr", "/usr/bin/a b"]


# ---- images ------------------------------------------------------------------------------------


def test_distroless_status_d_and_layer() -> None:
    md5 = hashlib.md5(b"print(1)\n").hexdigest()
    spec = ImageSpec([
        LayerSpec([Dir("/usr/lib/python3.11"), File("/usr/lib/python3.11/x.py", b"print(1)\n")]),
        LayerSpec([
            File("/var/lib/dpkg/status.d/libpython3.11-minimal",
                 b"Package: libpython3.11-minimal\nVersion: 3.11.2-6\nArchitecture: amd64\n"
                 b"Source: python3.11\n"),
            File("/var/lib/dpkg/status.d/libpython3.11-minimal.md5sums",
                 f"{md5}  usr/lib/python3.11/x.py\n".encode()),
            File("/var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2024a-0\nArchitecture: all\n"),
        ]),
    ])
    fs = fs_from_spec(spec)
    dbs = find_package_dbs(fs)
    assert len(dbs) == 1
    db = dbs[0]
    assert (db.manager, db.path, db.layer) == ("dpkg", "/var/lib/dpkg/status.d", 1)
    pkgs = _by_name(db)
    assert set(pkgs) == {"libpython3.11-minimal", "tzdata"}
    lp = pkgs["libpython3.11-minimal"]
    assert lp.source == "python3.11"
    assert [(f.path, f.algo, f.digest) for f in lp.files] == [
        ("/usr/lib/python3.11/x.py", "md5", bytes.fromhex(md5))
    ]
    assert fs.get("/usr/lib/python3.11/x.py").entry.md5 == lp.files[0].digest
    assert pkgs["tzdata"].files == []


def test_status_layer_is_last_content_change() -> None:
    status = b"Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"
    spec = ImageSpec([
        LayerSpec([File("/var/lib/dpkg/status", status), File("/var/lib/dpkg/info/a.list", b"/.\n/etc\n/etc/a\n"),
                   Symlink("/lib", "usr/lib"), Dir("/usr/lib")]),
        LayerSpec([File("/var/lib/dpkg/status", status + b"\nPackage: b\nStatus: install ok installed\nVersion: 2\n")]),
        LayerSpec([File("/var/lib/dpkg/status", status + b"\nPackage: b\nStatus: install ok installed\nVersion: 2\n",
                        mode=0o600)]),  # metadata only: not a new db
    ])
    fs = fs_from_spec(spec)
    db = read_dpkg(fs)
    assert db is not None
    assert [p.name for p in db.packages] == ["a", "b"]
    assert "no info/b.list" in db.warnings[0]
    (dbl,) = find_package_dbs(fs)
    assert dbl.layer == 1
    assert canonical_path(fs, "/lib/foo.so") == "/usr/lib/foo.so"
    assert canonical_path(fs, "/nonexistent/x") is None


def test_status_budget_stanzas_and_warnings() -> None:
    # issue 14: a 60 MB status took 105 s and 917 MB. Past MAX_STANZAS the rest is a warning,
    # and one malformed line per stanza does not become one warning per stanza.
    from sitelens.inventory import dpkg

    para = b"Package: p%d\nStatus: install ok installed\nVersion: 1\n!bad line\n\n"
    data = b"".join(para % i for i in range(dpkg.MAX_STANZAS + 10))
    warnings: list[str] = []
    records = dpkg.parse_dpkg_status(data, "status", warnings)
    assert len(records) == dpkg.MAX_STANZAS
    assert len(warnings) == dpkg.MAX_WARNINGS + 2
    assert "the rest is not read" in warnings[0] and "more warnings not shown" in warnings[-1]
