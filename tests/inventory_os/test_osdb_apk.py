"""apk ``lib/apk/db/installed``: a record set written by hand from apk-tools' format.

Debian 12 has no apk-tools package (``apt-cache policy apk-tools``: no candidate), so there is no
independent oracle; the expectations are the file contents the records describe.
"""

from __future__ import annotations

import base64
import hashlib
import stat

from helpers import fs_from_spec

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.inventory.apk import parse_apk_installed, parse_checksum
from sitelens.inventory.attribution import Attributor
from sitelens.inventory.ospkg import find_package_dbs

LD = b"\x7fELF fake loader\n"
SITE = b"# site.py\n"
PYLIB = b"import os\n"


def q1(data: bytes) -> str:
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


INSTALLED = f"""\
C:Q1Wl0FPYmbxOs5Ia6I5ZP+KTTZ9L8=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705485417
c:a15a3e3a5d6d6fe8b5ba9e3bc3d5dc2a6ef5d5d3
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:{q1(LD)}
R:libc.musl-x86_64.so.1

C:Q1nK0yqDFzpTcVnjrTdBGSX8tBSdo=
P:python3
V:3.11.8-r0
A:x86_64
S:3
I:4
T:High-level scripting language
o:python3
D:so:libc.musl-x86_64.so.1
F:usr
F:usr/lib
F:usr/lib/python3.11
R:site.py
Z:{q1(SITE)}
R:os.py
a:0:0:600
Z:{q1(PYLIB)}
F:usr/lib/python3.11/site-packages
M:0:0:1777
R:README.txt

""".encode()


def test_parse_installed() -> None:
    warnings: list[str] = []
    pkgs = parse_apk_installed(INSTALLED, warnings)
    assert warnings == []
    assert [(p.name, p.version, p.arch, p.source) for p in pkgs] == [
        ("musl", "1.2.4_git20230717-r4", "x86_64", "musl"),
        ("python3", "3.11.8-r0", "x86_64", "python3"),
    ]
    musl = {f.path: f for f in pkgs[0].files}
    assert list(musl) == ["/lib", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1"]
    assert musl["/lib"].is_dir and musl["/lib"].mode == stat.S_IFDIR | 0o755
    ld = musl["/lib/ld-musl-x86_64.so.1"]
    assert (ld.algo, ld.digest, ld.mode, ld.user) == ("sha1", hashlib.sha1(LD).digest(), stat.S_IFREG | 0o755, "0")
    assert musl["/lib/libc.musl-x86_64.so.1"].digest is None
    py = {f.path: f for f in pkgs[1].files}
    assert py["/usr/lib/python3.11/os.py"].mode == stat.S_IFREG | 0o600
    assert py["/usr/lib/python3.11/site.py"].mode == stat.S_IFREG | 0o644
    assert py["/usr/lib/python3.11/site-packages"].mode == stat.S_IFDIR | 0o1777
    assert py["/usr/lib/python3.11/site-packages/README.txt"].digest is None


def test_apk_in_image_digests_match_files() -> None:
    spec = ImageSpec([
        LayerSpec([Dir("/lib"), File("/lib/ld-musl-x86_64.so.1", LD, 0o755),
                   File("/lib/apk/db/installed", INSTALLED.split(b"\n\nC:Q1nK")[0] + b"\n")]),
        LayerSpec([File("/usr/lib/python3.11/site.py", SITE), File("/usr/lib/python3.11/os.py", PYLIB, 0o600),
                   File("/lib/apk/db/installed", INSTALLED)]),
    ])
    fs = fs_from_spec(spec)
    (db,) = find_package_dbs(fs)
    assert (db.manager, db.path, db.layer, db.warnings) == ("apk", "/lib/apk/db/installed", 1, [])
    contents = {"/lib/ld-musl-x86_64.so.1": LD, "/usr/lib/python3.11/site.py": SITE,
                "/usr/lib/python3.11/os.py": PYLIB}
    seen = 0
    for pkg in db.packages:
        for f in pkg.files:
            if f.digest is not None:
                assert hashlib.sha1(contents[f.path]).digest() == f.digest
                node = fs.get(f.path)
                assert node is not None and node.st_mode == f.mode
                seen += 1
    assert seen == 3
    owners = db.owners_by_path()
    assert [p.owner_id for p in owners["/usr/lib/python3.11/site.py"]] == ["apk:python3"]


def test_usr_merged_image_db_under_usr_lib() -> None:
    # /lib -> usr/lib: the layer tar holds the database at usr/lib/apk/db/installed, the only
    # spelling the indexer sees; the capture rule must keep it there (it once kept only /lib/...).
    spec = ImageSpec([
        LayerSpec([Dir("/usr"), Dir("/usr/lib"), Symlink("/lib", "usr/lib"),
                   File("/usr/lib/ld-musl-x86_64.so.1", LD, 0o755), File("/usr/lib/apk/db/installed", INSTALLED)]),
        LayerSpec([File("/usr/lib/python3.11/site.py", SITE), File("/usr/lib/python3.11/os.py", PYLIB, 0o600)]),
    ])
    fs = fs_from_spec(spec, compression=None)
    (db,) = find_package_dbs(fs)
    assert (db.manager, db.path, db.layer, db.warnings) == ("apk", "/usr/lib/apk/db/installed", 0, [])
    assert sorted(p.name for p in db.packages) == ["musl", "python3"]
    musl = next(p for p in db.packages if p.name == "musl")
    (loader,) = [f for f in musl.files if f.path.endswith("ld-musl-x86_64.so.1")]
    node = fs.lookup(loader.path)
    assert node is not None and node.path == "/usr/lib/ld-musl-x86_64.so.1"
    assert loader.digest == hashlib.sha1(LD).digest()


def test_bad_records_are_warnings() -> None:
    bad = (
        b"P:ok\nV:1\nF:etc\nR:a\nZ:Q1notbase64!!\na:x:y\nM:0:0:zz\n\n"
        b"this is junk\nP:nover\n\n"
        b"V:2\n\n" + bytes(range(256))
        + b"\n\nP:last\nV:3\nR:rootfile\nZ:d41d8cd98f00b204e9800998ecf8427e\n"
    )
    warnings: list[str] = []
    pkgs = parse_apk_installed(bad, warnings)
    assert [p.name for p in pkgs] == ["ok", "last"]
    assert pkgs[1].files[0].path == "/rootfile" and pkgs[1].files[0].algo == "md5"
    text = "\n".join(warnings)
    for needle in ("unrecognised checksum", "bad file mode", "malformed line", "without P: or V:", "UTF-8"):
        assert needle in text, needle


def test_checksums() -> None:
    assert parse_checksum("Q1" + base64.b64encode(b"x" * 20).decode()) == ("sha1", b"x" * 20)
    assert parse_checksum("Q2" + base64.b64encode(b"y" * 32).decode()) == ("sha256", b"y" * 32)
    assert parse_checksum("Q1AAAA") is None
    assert parse_checksum("") is None


def test_xattr_acl_and_sha256_160_from_apk_tools_source() -> None:
    """Two details of apk-tools' ``apk_db_fdb_write``/``apk_db_fdb_read`` (from its source, no apk
    here): ``a``/``M`` may end in ``:<xattr checksum>``, and a package flagged ``f:S`` keeps the
    first 160 bits of each file's sha256 in its ``Q1`` fields — comparing those with a sha1 would
    report every file of such a package as altered."""
    site = "/usr/lib/python3.11/site-packages"
    mod = b"VALUE = 1\n"
    trunc = "Q1" + base64.b64encode(hashlib.sha256(mod).digest()[:20]).decode()
    xattr = "Q1" + base64.b64encode(b"z" * 20).decode()
    db = (
        f"P:py3-new\nV:1-r0\nf:S\nF:{site.lstrip('/')}\nM:0:0:755:{xattr}\n"
        f"R:newmod.py\na:0:0:640:{xattr}\nZ:{trunc}\n\n"
        f"P:py3-old\nV:1-r0\nF:{site.lstrip('/')}\nR:oldmod.py\nZ:{q1(mod)}\n\n"
    ).encode()
    warnings: list[str] = []
    new, old = parse_apk_installed(db, warnings)
    assert warnings == []
    newdir, newfile = new.files
    assert newdir.mode == stat.S_IFDIR | 0o755 and newfile.mode == stat.S_IFREG | 0o640
    assert (newfile.algo, newfile.digest) == ("sha256-160", hashlib.sha256(mod).digest()[:20])
    assert old.files[1].algo == "sha1"
    spec = ImageSpec([LayerSpec([
        File("/lib/apk/db/installed", db), File(f"{site}/newmod.py", mod), File(f"{site}/oldmod.py", mod),
    ])])
    fs = fs_from_spec(spec, compression=None)
    (pdb,) = find_package_dbs(fs)
    att = Attributor(fs, [], pdb.packages)
    assert [c.owner for c in att.file(f"{site}/newmod.py").matches] == ["apk:py3-new"]
    assert [c.owner for c in att.file(f"{site}/oldmod.py").matches] == ["apk:py3-old"]
