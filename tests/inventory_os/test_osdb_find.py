"""find_package_dbs on images: locations, symlinked db dirs, several backends, layers, junk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import fs_from_spec, require_tool

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink, tree_entries
from fixtures.rpms import RpmFixture, RpmToolsUnavailable, rpm_fixture, sqlite_with_wal_row
from sitelens.inventory.dpkg import canonical_path
from sitelens.inventory.ospkg import find_package_dbs
from sitelens.inventory.osrelease import parse_os_release, read_os_release


@pytest.fixture(scope="module")
def fx() -> RpmFixture:
    require_tool("rpm", "rpmbuild")
    try:
        return rpm_fixture()
    except RpmToolsUnavailable as exc:
        pytest.skip(str(exc))


def _moved(entries: list, old: str, new: str) -> list:  # type: ignore[type-arg]
    out = []
    for e in entries:
        if e.path == old or e.path.startswith(old + "/"):
            e = dataclasses.replace(e, path=new + e.path[len(old):])
        out.append(e)
    return out


def test_fedora_layout_symlinked_dir_read_once(fx: RpmFixture) -> None:
    entries = [e for e in tree_entries(fx.sqlite_root) if not e.path.startswith("/var/lib/rpm")]
    db_entries = _moved(
        [e for e in tree_entries(fx.sqlite_root) if e.path.startswith("/var/lib/rpm/")],
        "/var/lib/rpm", "/usr/lib/sysimage/rpm",
    )
    spec = ImageSpec([
        LayerSpec([Dir("/usr/lib/sysimage"), Dir("/usr/lib/sysimage/rpm"),
                   Symlink("/var/lib/rpm", "../../usr/lib/sysimage/rpm")]),
        LayerSpec(entries + db_entries),
    ])
    fs = fs_from_spec(spec)
    dbs = find_package_dbs(fs)
    assert len(dbs) == 1
    db = dbs[0]
    assert (db.manager, db.path, db.layer, db.warnings) == ("rpm", "/usr/lib/sysimage/rpm/rpmdb.sqlite", 1, [])
    # prediction equals reality: every non-ghost regular file rpm recorded is in the image with
    # the sha256 the layer index computed from the tar
    checked = 0
    for pkg in db.packages:
        for f in pkg.files:
            if f.is_ghost or f.is_dir or f.digest is None:
                continue
            real = canonical_path(fs, f.path)
            node = fs.get(real) if real else None
            assert node is not None, f.path
            if f.algo == "sha256":
                assert node.entry.sha256 == f.digest, f.path
                assert node.st_mode == f.mode and node.size == f.size
                checked += 1
    assert checked > 300


def test_several_backends_newest_wins(fx: RpmFixture) -> None:
    spec = ImageSpec([
        LayerSpec([File("/var/lib/rpm/Packages", (fx.bdb_dir / "Packages").read_bytes())]),
        LayerSpec([File("/var/lib/rpm/rpmdb.sqlite", (fx.sqlite_db / "rpmdb.sqlite").read_bytes())]),
        LayerSpec([File("/var/lib/rpm/Packages", (fx.bdb_dir / "Packages").read_bytes(), mode=0o600),
                   File("/var/lib/rpm/Packages.db", b"")]),  # empty leftover: not a database
    ])
    fs = fs_from_spec(spec)
    (db,) = find_package_dbs(fs)
    assert db.path == "/var/lib/rpm/rpmdb.sqlite"
    assert db.layer == 1
    assert len(db.packages) == 3
    assert len(db.warnings) == 1 and "ignored /var/lib/rpm/Packages" in db.warnings[0]


def test_sqlite_wal_in_image(fx: RpmFixture, tmp_path: Path) -> None:
    main, wal = sqlite_with_wal_row(fx.sqlite_db / "rpmdb.sqlite", tmp_path, 9)
    spec = ImageSpec([
        LayerSpec([File("/var/lib/rpm/rpmdb.sqlite", main)]),
        LayerSpec([File("/var/lib/rpm/rpmdb.sqlite-wal", wal)]),
    ])
    (found,) = find_package_dbs(fs_from_spec(spec))
    assert len(found.packages) == 4 and found.warnings == []
    assert found.layer == 1  # the -wal changed the database


def test_bdb_in_usr_share_rpm(fx: RpmFixture) -> None:
    spec = ImageSpec([LayerSpec([File("/usr/share/rpm/Packages", (fx.bdb_dir / "Packages").read_bytes())])])
    (db,) = find_package_dbs(fs_from_spec(spec))
    assert db.path == "/usr/share/rpm/Packages" and len(db.packages) == 3 and db.warnings == []


def test_junk_everywhere_never_crashes() -> None:
    junk = bytes(range(256)) * 20
    spec = ImageSpec([LayerSpec([
        File("/var/lib/dpkg/status", junk),
        File("/var/lib/dpkg/info/x.list", junk),
        File("/var/lib/rpm/Packages", junk),
        File("/usr/lib/sysimage/rpm/rpmdb.sqlite", b"SQLite format 3\0" + junk),
        File("/usr/share/rpm/Packages.db", b"RpmP" + junk),
        File("/lib/apk/db/installed", junk),
        File("/etc/os-release", junk),
    ])])
    fs = fs_from_spec(spec)
    dbs = find_package_dbs(fs)
    assert sorted(db.manager for db in dbs) == ["apk", "dpkg", "rpm", "rpm", "rpm"]
    for db in dbs:
        assert db.warnings, db.path
        assert db.layer == 0
    assert isinstance(read_os_release(fs), dict)


def test_no_databases() -> None:
    fs = fs_from_spec(ImageSpec([LayerSpec([File("/etc/hostname", b"x\n"), Dir("/var/lib/rpm")])]))
    assert find_package_dbs(fs) == []
    assert read_os_release(fs) == {}


def test_os_release() -> None:
    text = b"""\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME='Debian GNU/Linux'
VERSION_ID="12"
ID=debian
# a comment
not a line
HOME_URL="https://www.debian.org/"
ESCAPED="a \\"quoted\\" word"
"""
    spec = ImageSpec([LayerSpec([
        Dir("/etc"), Dir("/usr/lib"), File("/usr/lib/os-release", text),
        Symlink("/etc/os-release", "../usr/lib/os-release"),
    ])])
    got = read_os_release(fs_from_spec(spec))
    assert got == {
        "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "NAME": "Debian GNU/Linux", "VERSION_ID": "12",
        "ID": "debian", "HOME_URL": "https://www.debian.org/", "ESCAPED": 'a "quoted" word',
    }
    assert parse_os_release('ID="unterminated\nVERSION_ID=3.19\n') == {"VERSION_ID": "3.19"}


def test_os_release_of_real_root() -> None:
    root = Path("/etc/os-release")
    if not root.exists():
        pytest.skip("host has no /etc/os-release")
    import platform

    expected = platform.freedesktop_os_release()
    assert parse_os_release(root.read_text()) == expected
