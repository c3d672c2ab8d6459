"""Hand-made hostile inputs, one per line of issue 14 (and a few more of each kind).

A case is a name, the exit codes it may end with, and a function that builds the input under a
work dir and returns the CLI arguments. ``OK_OR_CORRUPT`` is for inputs the audit may either get
through (reporting findings, or ignoring the bad field with a warning) or refuse as corrupt;
exit 2 is never allowed for an image's content: it means "usage error" to CI.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fixtures.imagebuilder import Dir, File, Symlink, Whiteout

from .kit import Parts, demo, nested, sha, tar_of, write

CORRUPT = frozenset({3})
OK_OR_CORRUPT = frozenset({0, 1, 3})
AUDITED = frozenset({0, 1})
USAGE = frozenset({2})

Make = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    name: str
    allowed: frozenset[int]
    make: Make
    timeout: float = 60.0


CASES: list[Case] = []


def case(name: str, allowed: frozenset[int], timeout: float = 60.0) -> Callable[[Make], Make]:
    def register(fn: Make) -> Make:
        CASES.append(Case(name, allowed, fn, timeout))
        return fn
    return register


def _audit(parts: Parts, work: Path, layout: str = "docker", *extra: str) -> list[str]:
    path = write(parts, work / ("img" if layout == "oci" else "img.tar"), layout)
    prefix = "oci:" if layout == "oci" else ""
    return ["audit", prefix + str(path), *extra]


def _with_config(edit: Callable[[dict], None]) -> Make:
    def make(work: Path) -> list[str]:
        parts = demo()
        edit(parts.config)
        return _audit(parts, work)
    return make


# ---- 1. codec errors, in a worker process and in the parent -----------------------------------

def _xor(blob: bytes, start: int, end: int) -> bytes:
    b = bytearray(blob)
    for i in range(start, min(end, len(b))):
        b[i] ^= 0xFF
    return bytes(b)


@case("gzip-bytes-xored-pool", CORRUPT)
def _gzip_xor_pool(work: Path) -> list[str]:
    parts = demo()
    blob, tar, codec = parts.layers[1]
    parts.layers[1] = (_xor(blob, 2000, 2064), tar, codec)
    return _audit(parts, work)


@case("gzip-bytes-xored-one-layer", CORRUPT)
def _gzip_xor_single(work: Path) -> list[str]:
    parts = demo()
    blob, tar, codec = parts.layers[1]
    parts.layers = [(_xor(blob, 2000, 2064), tar, codec)]
    parts.config["rootfs"]["diff_ids"] = [sha(tar)]
    return _audit(parts, work)


@case("zstd-garbage-layer", CORRUPT)
def _zstd_garbage(work: Path) -> list[str]:
    parts = demo()
    _, tar, _ = parts.layers[2]
    parts.layers[2] = (b"\x28\xb5\x2f\xfd" + _noise(300), tar, "zstd")
    return _audit(parts, work, "oci")


# ---- 2. cache keys -----------------------------------------------------------------------------

for _name, _fn in {
    "diff-id-upper-hex": lambda d: "sha256:" + d[7:].upper(),
    "diff-id-not-hex": lambda d: "sha256:NOTHEX",
    "diff-id-other-algo": lambda d: "md5:" + d[7:39],
    "diff-id-path": lambda d: "sha256:../../../../etc/passwd",
}.items():
    for _nocache in (False, True):
        def _make(work: Path, fn: Callable[[str], str] = _fn, nocache: bool = _nocache) -> list[str]:
            parts = demo()
            ids = parts.config["rootfs"]["diff_ids"]
            ids[0] = fn(ids[0])
            return _audit(parts, work, "docker", *(["--no-cache"] if nocache else []))
        case(f"{_name}{'-nocache' if _nocache else ''}", CORRUPT)(_make)


# ---- 3. deep JSON ------------------------------------------------------------------------------

DEEP = 100_000


@case("deep-manifest-json", CORRUPT)
def _deep_manifest(work: Path) -> list[str]:
    path = write(demo(), work / "img.tar", "legacy")
    from .kit import archive_members
    files = archive_members(path)
    files["manifest.json"] = nested(DEEP)
    path.write_bytes(tar_of(list(files.items())))
    return ["audit", str(path)]


@case("deep-config", CORRUPT)
def _deep_config(work: Path) -> list[str]:
    parts = demo()
    parts.raw_config = b'{"config": ' + nested(DEEP) + b"}"
    return _audit(parts, work)


@case("deep-config-label", OK_OR_CORRUPT)
def _deep_label(work: Path) -> list[str]:
    parts = demo()
    parts.raw_config = json.dumps(parts.config).encode()[:-1] + b', "x": ' + nested(DEEP) + b"}"
    return _audit(parts, work, "oci")


@case("deep-index-json", CORRUPT)
def _deep_index(work: Path) -> list[str]:
    path = write(demo(), work / "img", "oci")
    (path / "index.json").write_bytes(nested(DEEP))
    return ["audit", f"oci:{path}"]


@case("deep-manifest-blob", CORRUPT)
def _deep_manifest_blob(work: Path) -> list[str]:
    path = write(demo(), work / "img", "oci")
    raw = b'{"schemaVersion": 2, "x": ' + nested(DEEP) + b"}"
    (path / "blobs" / "sha256" / sha(raw)[7:]).write_bytes(raw)
    index = json.loads((path / "index.json").read_text())
    index["manifests"][0].update(digest=sha(raw), size=len(raw))
    (path / "index.json").write_text(json.dumps(index))
    return ["audit", f"oci:{path}"]


# ---- 4. wrong types ----------------------------------------------------------------------------

def _set(*keys: str, value: object) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        for k in keys[:-1]:
            doc = doc.setdefault(k, {})
        doc[keys[-1]] = value
    return edit


_TYPED = {
    "config-env-int": _set("config", "Env", value=5),
    "config-env-float": _set("config", "Env", value=1.5),
    "config-env-mixed": _set("config", "Env", value=[1, None, "A=b", ["x"]]),
    "config-env-dict": _set("config", "Env", value={"PATH": "/bin"}),
    "config-user-int": _set("config", "User", value=1000),
    "config-user-superscript": _set("config", "User", value="²"),
    "config-user-superscript-gid": _set("config", "User", value="1000:²"),
    "config-user-huge": _set("config", "User", value="9" * 5000),
    "config-user-list": _set("config", "User", value=["root"]),
    "config-workdir-int": _set("config", "WorkingDir", value=7),
    "config-workdir-relative": _set("config", "WorkingDir", value="../../x"),
    "config-cmd-int": _set("config", "Cmd", value=5),
    "config-cmd-mixed": _set("config", "Cmd", value=[1, None, {"a": 1}]),
    "config-entrypoint-dict": _set("config", "Entrypoint", value={"a": "b"}),
    "config-cmd-unclosed-quote": _set("config", "Cmd", value=["/bin/sh", "-c", "python3 '" + "a" * (1 << 20)]),
    "config-history-int": _set("history", value=5),
    "config-history-created-by-int": lambda d: d["history"][1].update(created_by=-1),
    "config-history-created-by-float": lambda d: d["history"][1].update(created_by=1.5),
    "config-history-entries-mixed": _set("history", value=[1, None, "x"]),
    "config-os-int": _set("os", value=5),
    "config-arch-list": _set("architecture", value=[]),
    "config-variant-int": _set("variant", value=5),
    "config-config-list": _set("config", value=[1, 2]),
    "config-rootfs-string": _set("rootfs", value="x"),
    "config-diff-ids-string": _set("rootfs", "diff_ids", value="sha256:x"),
    "config-diff-ids-ints": _set("rootfs", "diff_ids", value=[1, 2, 3]),
    "config-labels-list": _set("config", "Labels", value=[1]),
    "config-env-path-huge": _set("config", "Env", value=["PATH=" + ":".join(["/x"] * 200_000)]),
    "config-env-pythonpath-many": _set("config", "Env",
                                       value=["PYTHONPATH=" + ":".join(f"/p{i}" for i in range(20_000))]),
}
for _name, _edit in _TYPED.items():
    case(_name, OK_OR_CORRUPT)(_with_config(_edit))


@case("config-not-object", CORRUPT)
def _config_list(work: Path) -> list[str]:
    parts = demo()
    parts.raw_config = b"[1, 2, 3]"
    return _audit(parts, work)


@case("config-not-utf8", CORRUPT)
def _config_bytes(work: Path) -> list[str]:
    parts = demo()
    parts.raw_config = b'{"config": {"User": "\xff\xfe"}}'
    return _audit(parts, work)


def _docker_manifest_edit(edit: Callable[[list], object], tag: str | None = None) -> Make:
    def make(work: Path) -> list[str]:
        path = write(demo(), work / "img.tar", "legacy")
        from .kit import archive_members
        files = archive_members(path)
        doc = json.loads(files["manifest.json"])
        files["manifest.json"] = json.dumps(edit(doc)).encode()
        path.write_bytes(tar_of(list(files.items())))
        return ["audit", f"docker-archive:{path}:{tag}" if tag else str(path)]
    return make


def _repotags(value: object) -> Callable[[list], list]:
    def edit(doc: list) -> list:
        doc[0]["RepoTags"] = value
        return doc
    return edit


def _two_images(doc: list) -> list:
    other = dict(doc[0])
    other["RepoTags"] = [5, None]
    doc[0]["RepoTags"] = [{"a": 1}]
    return [doc[0], other]


for _name, _edit2, _tag in [
    ("repotags-int-list", _repotags([1]), None),
    ("repotags-int-list-tagged", _repotags([1]), "sitelens/test:latest"),
    ("repotags-string", _repotags("sitelens/test:latest"), "sitelens/test:latest"),
    ("repotags-dict", _repotags({"a": 1}), "latest"),
    ("repotags-two-images-bad", _two_images, None),
    ("repotags-two-images-bad-tagged", _two_images, "x:latest"),
    ("manifest-json-layers-ints", lambda d: [dict(d[0], Layers=[1, 2])], None),
    ("manifest-json-config-path", lambda d: [dict(d[0], Config="../../../etc/passwd")], None),
    ("manifest-json-config-dir", lambda d: [dict(d[0], Config="/")], None),
    ("manifest-json-object", lambda d: {"Config": 1}, None),
]:
    case(_name, OK_OR_CORRUPT)(_docker_manifest_edit(_edit2, _tag))


def _ref_names(values: list[object], tag: str | None) -> Make:
    def make(work: Path) -> list[str]:
        path = write(demo(), work / "img", "oci")
        index = json.loads((path / "index.json").read_text())
        first = index["manifests"][0]
        index["manifests"] = []
        for v in values:
            e = dict(first)
            e["annotations"] = {"org.opencontainers.image.ref.name": v}
            index["manifests"].append(e)
        (path / "index.json").write_text(json.dumps(index))
        return ["audit", f"oci:{path}:{tag}" if tag else f"oci:{path}"]
    return make


for _name, _vals in {
    "ref-name-list": [["a"]], "ref-name-dict": [{}], "ref-name-int": [5],
    "ref-name-mixed": [5, "latest", ["x"], {}], "ref-name-null-mixed": [None, "latest", 1.5],
}.items():
    case(_name, OK_OR_CORRUPT)(_ref_names(_vals, None))
    case(_name + "-tagged", OK_OR_CORRUPT)(_ref_names(_vals, "latest"))


@case("index-annotations-list", OK_OR_CORRUPT)
def _annotations_list(work: Path) -> list[str]:
    path = write(demo(), work / "img", "oci")
    index = json.loads((path / "index.json").read_text())
    index["manifests"][0]["annotations"] = ["x"]
    index["manifests"][0]["platform"] = {"os": 5, "architecture": ["x"], "variant": {}}
    index["manifests"].append(dict(index["manifests"][0]))
    (path / "index.json").write_text(json.dumps(index))
    return ["audit", f"oci:{path}"]


@case("cli-user-superscript", USAGE)
def _cli_user(work: Path) -> list[str]:
    return ["audit", str(write(demo(), work / "img.tar", "docker")), "--user", "²"]


@case("cli-user-superscript-gid", USAGE)
def _cli_user_gid(work: Path) -> list[str]:
    return ["audit", str(write(demo(), work / "img.tar", "docker")), "--user", "0:²"]


# ---- 5. loops and recursion an input controls ----------------------------------------------------

def _layer_case(entries: list, raw_names: bool = False, layout: str = "docker") -> Make:
    def make(work: Path) -> list[str]:
        return _audit(demo().add_layer(entries, raw_names=raw_names), work, layout)
    return make


_PY = "/usr/bin/python3.11"
_SITE = "/usr/local/lib/python3.11/dist-packages"


def _noise(n: int, seed: int = 14) -> bytes:
    """Deterministic junk: a case must build the same input on every run."""
    return random.Random(seed * 7919 + n).randbytes(n)

_LAYER_CASES = {
    "venv-home-relative": [Dir("/venv"), Dir("/venv/bin"), File("/venv/pyvenv.cfg", b"home = bin\n"),
                           Symlink("/venv/bin/python", _PY)],
    "venv-home-dotdot-huge-key": [Dir("/venv"), Dir("/venv/bin"), Symlink("/venv/bin/python", _PY),
                                  File("/venv/pyvenv.cfg", b"home = ../../../../\n" + b"k" * (1 << 20) + b" = v\n")],
    "venv-version-3x": [Dir("/venv"), Dir("/venv/bin"), Symlink("/venv/bin/python", _PY),
                        File("/venv/pyvenv.cfg", b"home = /usr/bin\nversion = 3.x\n")],
    "venv-version-garbage": [Dir("/venv"), Dir("/venv/bin"), Symlink("/venv/bin/python", _PY),
                             File("/venv/pyvenv.cfg", b"home = /usr/bin\nversion_info = \xff\xfe.\x00\n"
                                  b"version = 99999999999999999999.1\n")],
    "venv-python-symlink-loop": [Dir("/venv"), Dir("/venv/bin"), Symlink("/venv/bin/python", "python3"),
                                 Symlink("/venv/bin/python3", "python"),
                                 File("/venv/pyvenv.cfg", b"home = /venv/bin\n")],
    "symlink-chain-long": [Symlink(f"/l{i}", f"/l{i + 1}") for i in range(2000)]
    + [Symlink("/usr/local/bin/python3", "/l0")],
    "deep-file-with-parents": [Dir("/d" + "/d" * i) for i in range(1500)] + [File("/d" + "/d" * 1500 + "/f", b"x")],
    "deep-file-no-parents": [File("/d" + "/d" * 1500 + "/f", b"x")],
    "deep-pth-dir": [File("/usr/local/lib/python3.11/dist-packages/deep.pth", ("/d" * 1500 + "\n").encode() * 50)],
    "pth-many-lines": [File("/usr/local/lib/python3.11/dist-packages/many.pth",
                            b"".join(b"/p%d\n" % i for i in range(200_000)))],
    "editable-finder-unary-minus": [File("/usr/local/lib/python3.11/dist-packages/__editable___x_finder.py",
                                         b"MAPPING = " + b"-" * 100_000 + b"1\n")],
    "editable-finder-deep-dict": [File("/usr/local/lib/python3.11/dist-packages/__editable___y_finder.py",
                                       b"MAPPING = " + b"{1:" * 50_000 + b"1" + b"}" * 50_000 + b"\n")],
    "record-binary": [Dir("/usr/local/lib/python3.11/dist-packages/evil-1.dist-info"),
                      File(f"{_SITE}/evil-1.dist-info/METADATA", b"Name: evil\nVersion: 1\n"),
                      File("/usr/local/lib/python3.11/dist-packages/evil-1.dist-info/RECORD", _noise(4096))],
    "metadata-binary": [File("/usr/local/lib/python3.11/dist-packages/evil-2.dist-info/METADATA",
                             b"Name: \xff\x00evil\nVersion: \x00\nRequires-Dist: \xff[\n" + _noise(2000))],
    "metadata-requires-many": [File("/usr/local/lib/python3.11/dist-packages/req-1.dist-info/METADATA",
                                    b"Name: req\nVersion: 1\n"
                                    + b"".join(b"Requires-Dist: missing-%d>=1\n" % i for i in range(5000)))],
    "record-rows-many": [File(f"{_SITE}/rec-1.dist-info/METADATA", b"Name: rec\nVersion: 1\n"),
                         File("/usr/local/lib/python3.11/dist-packages/rec-1.dist-info/RECORD",
                              b"".join(b"rec/m%d.py,sha256=AAAA,5\n" % i for i in range(20_000)))],
    "dpkg-status-garbage": [File("/var/lib/dpkg/status", b"Package: x\nStatus: install ok installed\nVersion: \xff\n"
                                 + _noise(5000) + b"\n\nPackage:\n\n" + b" continuation\n" * 1000)],
    "passwd-garbage": [File("/etc/passwd", b"root:x:\xff:0::/root:/bin/sh\nu:x:99999999999999999999:-1::\n"
                            b":::::::\n" + _noise(500))],
    "os-release-unclosed-quote": [File("/usr/lib/os-release", b"ID='" + b"a" * (1 << 20) + b"\n")],
    "non-utf8-file-name": [File("/usr/bin/\udcff\udcfe", b"x", mode=0o4755)],
    "setuid-many": [File(f"/usr/bin/s{i}", b"", mode=0o4755) for i in range(20_000)],
    "empty-files-many": [File(f"/e/{i}", b"") for i in range(50_000)],
    # project and lock files the inventory parses (TOML and JSON decoders recurse on nesting)
    "poetry-lock-deep": [Dir("/app"), File("/app/poetry.lock", b"a = " + nested(DEEP) + b"\n")],
    "pyproject-deep-inline-tables": [Dir("/app"), File("/app/pyproject.toml",
                                                       b"x = " + b"{a=" * 5000 + b"1" + b"}" * 5000 + b"\n")],
    "pipfile-lock-deep": [Dir("/app"), File("/app/Pipfile.lock", nested(DEEP))],
    "direct-url-deep": [File(f"{_SITE}/du-1.dist-info/METADATA", b"Name: du\nVersion: 1\n"),
                        File(f"{_SITE}/du-1.dist-info/direct_url.json", nested(DEEP))],
    "pth-import-line-deep": [File(f"{_SITE}/evil.pth", b"import os; x = " + b"-" * 8000 + b"1\n"
                                  + b"import os; y = [" + b"1," * 1_000_000 + b"]\n")],
}
for _name, _entries in _LAYER_CASES.items():
    # the image itself is sound: a bad file in it is a warning and the audit goes on
    case(_name, AUDITED)(_layer_case(_entries))


@case("deep-file-whited-out", OK_OR_CORRUPT)
def _deep_whiteout(work: Path) -> list[str]:
    parts = demo().add_layer([Dir("/d" + "/d" * i) for i in range(1500)] + [File("/d" + "/d" * 1500 + "/f", b"x")])
    parts.add_layer([Whiteout("/d")])
    return _audit(parts, work)


@case("sarif-non-utf8-file-name", AUDITED)
def _sarif_names(work: Path) -> list[str]:
    parts = demo().add_layer([File("/usr/bin/\udcff\udcfe", b"x", mode=0o4755)])
    return _audit(parts, work, "docker", "--format", "sarif", "--fail-on", "critical")


# ---- 6. no deadlines: special files, runaway SQL ---------------------------------------------------

def _oci_special(rel: str, how: str) -> Make:
    def make(work: Path) -> list[str]:
        path = write(demo(), work / "img", "oci")
        target = path / rel if rel != "config" else path / "blobs" / "sha256" / demo().built().manifest().decode()[0:0]
        if rel == "config":
            target = path / "blobs" / "sha256" / sha(demo().built().config)[7:]
        if rel == "layer":
            target = path / "blobs" / "sha256" / sha(demo().layers[0][0])[7:]
        target.unlink()
        if how == "fifo":
            os.mkfifo(target)
        elif how == "zero":
            target.symlink_to("/dev/zero")
        elif how == "dir":
            target.mkdir()
        elif how == "loop":
            target.symlink_to(target.name)
        return ["audit", f"oci:{path}"]
    return make


for _rel in ("index.json", "oci-layout", "config", "layer"):
    for _how in ("fifo", "zero", "dir", "loop"):
        case(f"oci-{_rel}-{_how}".replace(".json", ""), CORRUPT, timeout=30)(_oci_special(_rel, _how))


def _rpmdb(work: Path, sql: list[str], wal: bool = False) -> bytes:
    db = work / "rpmdb.sqlite"
    con = sqlite3.connect(db)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()
    return db.read_bytes()


_RECURSIVE_VIEW = [
    "CREATE TABLE Seed (x INTEGER)",
    "CREATE VIEW Packages AS WITH RECURSIVE r(hnum, blob) AS (SELECT 1, x'00' UNION ALL "
    "SELECT hnum + 1, blob FROM r) SELECT hnum, blob FROM r",
]


@case("rpmdb-recursive-view", OK_OR_CORRUPT, timeout=60)
def _rpm_view(work: Path) -> list[str]:
    data = _rpmdb(work, _RECURSIVE_VIEW)
    return _audit(demo().add_layer([File("/var/lib/rpm/rpmdb.sqlite", data)]), work)


@case("rpmdb-garbage", OK_OR_CORRUPT)
def _rpm_garbage(work: Path) -> list[str]:
    data = b"SQLite format 3\x00" + _noise(8192)
    return _audit(demo().add_layer([File("/var/lib/rpm/rpmdb.sqlite", data)]), work)


@case("rpmdb-blobs-garbage", OK_OR_CORRUPT)
def _rpm_blobs(work: Path) -> list[str]:
    data = _rpmdb(work, ["CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)"]
                  + [f"INSERT INTO Packages VALUES ({i}, x'{_noise(64).hex()}')" for i in range(1, 50)]
                  + ["INSERT INTO Packages VALUES (100, 'text')", "INSERT INTO Packages VALUES (101, NULL)"])
    return _audit(demo().add_layer([File("/var/lib/rpm/rpmdb.sqlite", data)]), work)


# ---- 7. disk outside the cache ----------------------------------------------------------------------

@case("rpmdb-wal", OK_OR_CORRUPT)
def _rpm_wal(work: Path) -> list[str]:
    db = work / "w.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    con.commit()
    main_bytes = db.read_bytes()
    wal = Path(str(db) + "-wal").read_bytes() if Path(str(db) + "-wal").exists() else b""
    con.close()
    return _audit(demo().add_layer([File("/var/lib/rpm/rpmdb.sqlite", main_bytes),
                                    File("/var/lib/rpm/rpmdb.sqlite-wal", wal or b"\x37\x7f\x06\x82" + bytes(28))]),
                  work)


def _zeros_gzip(total: int) -> bytes:
    """gzip of ``total`` zero bytes, built from one compressed 16 MiB member repeated (cheap)."""
    unit = 16 << 20
    one = gzip.compress(bytes(unit), compresslevel=9, mtime=0)
    n, rest = divmod(total, unit)
    return one * n + gzip.compress(bytes(rest), mtime=0)


@case("gzip-archive-unreferenced-member", OK_OR_CORRUPT, timeout=90)
def _gz_archive(work: Path) -> list[str]:
    path = write(demo(), work / "img.tar", "docker")
    from .kit import archive_members
    files = list(archive_members(path).items())
    big = 1 << 30
    import tarfile
    ti = tarfile.TarInfo("junk")
    ti.size = big
    header = ti.tobuf(tarfile.USTAR_FORMAT)
    body = tar_of(files)
    # the unreferenced member comes first: its bytes must never land on disk
    gz = gzip.compress(header, mtime=0) + _zeros_gzip(big) + gzip.compress(body, mtime=0)
    out = work / "img.tar.gz"
    out.write_bytes(gz)
    return ["audit", f"docker-archive:{out}"]


@case("gzip-layer-bomb", CORRUPT, timeout=45)
def _gzip_bomb(work: Path) -> list[str]:
    import tarfile
    ti = tarfile.TarInfo("bomb")
    ti.size = 20 << 30
    blob = gzip.compress(ti.tobuf(tarfile.GNU_FORMAT), mtime=0) + _zeros_gzip(20 << 30)
    parts = demo()
    parts.layers.append((blob, b"", "gzip"))
    parts.config["rootfs"]["diff_ids"].append("sha256:" + "0" * 64)
    return _audit(parts, work, "oci")


@case("zlib-not-gzip-layer", CORRUPT)
def _zlib_layer(work: Path) -> list[str]:
    parts = demo()
    _, tar, _ = parts.layers[2]
    parts.layers[2] = (zlib.compress(tar), tar, "gzip")
    return _audit(parts, work, "oci")


# ---- 9. paths ---------------------------------------------------------------------------------------

@case("missing-bare-path", CORRUPT)
def _missing(work: Path) -> list[str]:
    return ["audit", str(work / "no-such.tar")]


@case("missing-docker-archive", CORRUPT)
def _missing_archive(work: Path) -> list[str]:
    return ["audit", f"docker-archive:{work / 'no-such.tar'}"]


@case("archive-is-dev-zero", CORRUPT, timeout=30)
def _dev_zero(work: Path) -> list[str]:
    (work / "z.tar").symlink_to("/dev/zero")
    return ["audit", f"docker-archive:{work / 'z.tar'}"]


@case("archive-is-fifo", CORRUPT, timeout=30)
def _fifo(work: Path) -> list[str]:
    os.mkfifo(work / "f.tar")
    return ["audit", f"docker-archive:{work / 'f.tar'}"]


@case("archive-empty", CORRUPT)
def _empty(work: Path) -> list[str]:
    (work / "e.tar").write_bytes(b"")
    return ["audit", f"docker-archive:{work / 'e.tar'}"]


# ---- registry: a hostile server on 127.0.0.1 ---------------------------------------------------------

def _registry_case(repo: str, allowed: frozenset[int], timeout_opt: str = "2") -> None:
    def make(work: Path) -> list[str]:
        from .registry_server import hostile_registry

        return ["--timeout", timeout_opt, "audit", f"registry:{hostile_registry()}/{repo}:latest"]
    case(f"registry-{repo}", allowed, timeout=45)(make)


_registry_case("good", AUDITED)
for _repo in ("blob-forever", "blob-forever-no-size", "trickle", "retry-after-hour", "retry-after-date",
              "redirect-loop", "redirect-ftp", "redirect-bad-ipv6", "redirect-file", "gzip-garbage",
              "huge-length", "deep-manifest", "manifest-types", "manifest-sizes", "manifest-not-json",
              "index-loop", "no-answer", "error-forever", "config-types", "no-such-repo"):
    _registry_case(_repo, CORRUPT)
_registry_case("gzip-plain", OK_OR_CORRUPT)
_registry_case("huge-length-2e9", CORRUPT)
_registry_case("retry-after-nan", CORRUPT)


def _scan_case(catalog: str, extra: tuple[str, ...] = ()) -> None:
    def make(work: Path) -> list[str]:
        from .registry_server import hostile_registry

        return ["--timeout", "2", "scan", hostile_registry(catalog), "--db", str(work / "scan.db"),
                "--workers", "1", "--cache-dir", str(work / "cache"), *extra]
    case(f"scan-catalog-{catalog}{'-' + extra[1] if extra else ''}", frozenset({0, 1, 2, 3}), timeout=60)(make)


for _catalog in ("loop", "types", "list", "deep"):
    _scan_case(_catalog)
_scan_case("types", ("--repo", "good"))


@case("gzip-archive-sound", AUDITED)
def _gz_sound(work: Path) -> list[str]:
    # the streamed reader must still read a sound `docker save | gzip`, every layer
    path = write(demo(), work / "img.tar", "docker")
    out = work / "img.tar.gz"
    out.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    return ["audit", f"docker-archive:{out}"]


@case("zstd-oci-archive-sound", AUDITED)
def _zstd_sound(work: Path) -> list[str]:
    import zstandard

    path = write(demo(), work / "img.tar", "docker")
    out = work / "img.tar.zst"
    out.write_bytes(zstandard.ZstdCompressor().compress(path.read_bytes()))
    return ["audit", f"oci-archive:{out}"]
