"""The fixture images the waste tests share: each one exercises one way bytes get wasted.

Every spec is run through sitelens and through the real dive; DIVE_DIFFERENCES says, per
fixture, how sitelens's own figure differs from dive's and why (docs/waste.md explains each).
"""

from __future__ import annotations

import base64
import hashlib

from fixtures.imagebuilder import Dir, File, Hardlink, ImageSpec, LayerSpec, Opaque, Symlink, Whiteout

KIB = 1024
MIB = 1024 * KIB


def blob(n: int, seed: str = "x") -> bytes:
    """n bytes whose content depends on the seed (so equal seeds mean equal content)."""
    unit = (seed * 61)[:61].encode()
    return (unit * (n // len(unit) + 1))[:n]


def base_layer(extra: list | None = None) -> LayerSpec:
    return LayerSpec([Dir("/etc"), File("/etc/os-release", b"ID=debian\n"), Dir("/usr"),
                      Dir("/usr/bin"), File("/usr/bin/tool", blob(4000, "t"), 0o755),
                      *(extra or [])], "ADD rootfs.tar.xz /")


PY311 = [Dir("/usr/lib"), Dir("/usr/lib/python3.11"), File("/usr/lib/python3.11/os.py", b"# os\n"),
         File("/usr/bin/python3.11", blob(6000, "py"), 0o755)]


def dist(site: str, name: str, version: str, files: dict[str, bytes], installer: str = "pip") -> list:
    """A wheel-installed distribution: its files, METADATA, INSTALLER and a real RECORD."""
    info = f"{site}/{name}-{version}.dist-info"
    rows = []
    entries: list = [Dir(info)]
    for rel, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{rel},sha256={digest},{len(data)}")
        entries.append(File(f"{site}/{rel}", data))
    entries.append(File(f"{info}/METADATA", f"Name: {name}\nVersion: {version}\n".encode()))
    entries.append(File(f"{info}/INSTALLER", installer.encode() + b"\n"))
    rows += [f"{name}-{version}.dist-info/METADATA,,", f"{name}-{version}.dist-info/INSTALLER,,",
             f"{name}-{version}.dist-info/RECORD,,",
             f"../../../bin/{name.lower()},sha256=abc,10"]
    entries.append(File(f"{info}/RECORD", ("\n".join(rows) + "\n").encode()))
    return entries


def dpkg_db(packages: dict[str, list[str]]) -> list:
    status = "".join(f"Package: {p}\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n"
                     for p in packages)
    out: list = [Dir("/var/lib/dpkg"), Dir("/var/lib/dpkg/info"),
                 File("/var/lib/dpkg/status", status.encode())]
    for p, paths in packages.items():
        out.append(File(f"/var/lib/dpkg/info/{p}.list", ("\n".join(paths) + "\n").encode()))
    return out


OVERWRITE = ImageSpec([
    base_layer([Dir("/app"), File("/app/big.bin", blob(300_000, "a")),
                File("/app/same.txt", blob(5000, "s"))]),
    LayerSpec([Dir("/app"), File("/app/big.bin", blob(100_000, "b")),
               File("/app/same.txt", blob(5000, "s"))], "RUN ./rebuild.sh"),
    LayerSpec([Dir("/app"), File("/app/big.bin", blob(200_000, "c"))], "RUN ./rebuild.sh again"),
])

DELETE_FILE = ImageSpec([
    base_layer([Dir("/tmp"), File("/tmp/setup.tar", blob(250_000, "d"))]),
    LayerSpec([Dir("/tmp"), Whiteout("/tmp/setup.tar")], "RUN rm /tmp/setup.tar"),
])

RM_RF_DIR = ImageSpec([
    base_layer(),
    LayerSpec([Dir("/build"), Dir("/build/src"), File("/build/src/a.c", blob(120_000, "c1")),
               File("/build/src/b.c", blob(80_000, "c2")), Dir("/build/out"),
               File("/build/out/lib.so", blob(400_000, "so"))], "COPY . /build"),
    LayerSpec([Whiteout("/build")], "RUN rm -rf /build"),
])

# The same rm -rf, but the layer tar never declares the directories (some tools write only
# files): dive then sees the directory as a zero-size non-directory.
RM_RF_IMPLICIT = ImageSpec([
    base_layer(),
    LayerSpec([File("/build/src/a.c", blob(120_000, "c1")),
               File("/build/out/lib.so", blob(400_000, "so"))], "COPY . /build"),
    LayerSpec([Whiteout("/build")], "RUN rm -rf /build"),
])

OPAQUE = ImageSpec([
    base_layer(),
    LayerSpec([Dir("/opt"), Dir("/opt/app"), File("/opt/app/old.py", blob(90_000, "o1")),
               File("/opt/app/keep.py", blob(30_000, "k"))], "COPY app-v1 /opt/app"),
    LayerSpec([Dir("/opt"), Dir("/opt/app"), Opaque("/opt/app"),
               File("/opt/app/keep.py", blob(30_000, "k")),
               File("/opt/app/new.py", blob(10_000, "n"))], "COPY app-v2 /opt/app"),
])

CHOWN = ImageSpec([
    base_layer(),
    LayerSpec([Dir("/srv"), Dir("/srv/venv"), Dir("/srv/venv/lib"),
               File("/srv/venv/lib/numpy.so", blob(600_000, "np")),
               File("/srv/venv/lib/util.py", blob(40_000, "u"))], "COPY venv /srv/venv"),
    LayerSpec([Dir("/srv"), Dir("/srv/venv", uid=1001), Dir("/srv/venv/lib", uid=1001),
               File("/srv/venv/lib/numpy.so", blob(600_000, "np"), uid=1001),
               File("/srv/venv/lib/util.py", blob(40_000, "u"), mode=0o664, uid=1001)],
              "RUN chown -R 1001 /srv/venv"),
])

# A whiteout of a path no lower layer has: dive stops reading the rest of that layer.
WHITEOUT_MISSING = ImageSpec([
    base_layer([Dir("/z"), File("/z/data", blob(70_000, "z1"))]),
    LayerSpec([Dir("/a"), Whiteout("/a/ghost"), Dir("/z"), File("/z/data", blob(60_000, "z2"))],
              "RUN rm -f /a/ghost && ./regen"),
])

SINGLE_LAYER = ImageSpec([base_layer([File("/big", blob(50_000, "b"))])])

LINKS = ImageSpec([
    base_layer([Dir("/data"), Dir("/empty"), File("/data/f", blob(30_000, "f")),
                Hardlink("/data/f2", "/data/f"), Symlink("/data/l", "f")]),
    LayerSpec([Dir("/empty"), Dir("/data"), File("/data/f", blob(31_000, "g")),
               Hardlink("/data/f2", "/data/f"), Symlink("/data/l", "f2")], "RUN relink"),
])

# A realistic Python image: apt lists deleted in a later layer, pip cache left behind,
# dpkg status rewritten, a chmod -R, a source tree removed.
PYTHON_APP = ImageSpec([
    base_layer([Dir("/var"), Dir("/var/lib"), Dir("/var/lib/dpkg"),
                File("/var/lib/dpkg/status", blob(20_000, "st1"))]),
    LayerSpec([Dir("/var"), Dir("/var/lib"), Dir("/var/lib/apt"), Dir("/var/lib/apt/lists"),
               File("/var/lib/apt/lists/deb_Packages", blob(500_000, "pk")),
               File("/var/lib/apt/lists/deb_Release", blob(20_000, "rl")),
               Dir("/var/lib/dpkg"), File("/var/lib/dpkg/status", blob(21_000, "st2"))],
              "RUN apt-get update && apt-get install -y libpq5"),
    LayerSpec([Dir("/root"), Dir("/root/.cache"), Dir("/root/.cache/pip"),
               File("/root/.cache/pip/http/wheel1", blob(300_000, "w1")),
               Dir("/app"), File("/app/main.py", blob(2000, "m")),
               File("/app/lib.py", blob(8000, "l"))], "RUN pip install -r requirements.txt"),
    LayerSpec([Dir("/var/lib/apt"), Whiteout("/var/lib/apt/lists"),
               Dir("/app", mode=0o775), File("/app/main.py", blob(2000, "m"), mode=0o775),
               File("/app/lib.py", blob(8000, "l"), mode=0o775)],
              "RUN rm -rf /var/lib/apt/lists && chmod -R g=u /app"),
])

# Edge cases of one layer: a path written twice in the same tar, a directory whited out and
# recreated in one layer, and a regular file named ".wh." (not a whiteout for OCI; dive takes it
# for a whiteout of its parent directory and weighs that whole directory once more).
SAME_LAYER_EDGES = ImageSpec([
    base_layer([Dir("/e"), File("/e/dup", blob(100, "d1")), File("/e/dup", blob(300, "d2")),
                Dir("/e/x"), File("/e/x/old", blob(4000, "o"))]),
    LayerSpec([Dir("/e"), Whiteout("/e/x"), Dir("/e/x"), File("/e/x/new", blob(700, "n")),
               File("/e/.wh.", blob(50, "w"))], "RUN ./edge.sh"),
])

DIVE_FIXTURES = {
    "overwrite": OVERWRITE,
    "delete-file": DELETE_FILE,
    "rm-rf-dir": RM_RF_DIR,
    "rm-rf-implicit-dir": RM_RF_IMPLICIT,
    "opaque-dir": OPAQUE,
    "chown-copy": CHOWN,
    "whiteout-missing": WHITEOUT_MISSING,
    "single-layer": SINGLE_LAYER,
    "links": LINKS,
    "python-app": PYTHON_APP,
    "same-layer-edges": SAME_LAYER_EDGES,
}


# An apt cache deleted a layer later and an app tree chown-ed: SL301, SL302, SL303 on one image.
BIG = ImageSpec([
    base_layer(PY311),
    LayerSpec([Dir("/var/lib/apt/lists"),
               File("/var/lib/apt/lists/Packages", blob(3 * MIB, "pk")),
               Dir("/app"), Dir("/app/lib"), File("/app/lib/model.bin", blob(2 * MIB, "m")),
               File("/root/.cache/pip/http/w", blob(300_000, "w")),
               File("/srv/__pycache__/x.cpython-38.pyc", blob(500, "38"))],
              "RUN apt-get update && pip install -r requirements.txt"),
    LayerSpec([Dir("/var/lib/apt"), Whiteout("/var/lib/apt/lists"),
               Dir("/app", uid=1001), Dir("/app/lib", uid=1001),
               File("/app/lib/model.bin", blob(2 * MIB, "m"), uid=1001, mode=0o640)],
              "/bin/sh -c rm -rf /var/lib/apt/lists/* && chown -R 1001 /app"),
])
