"""Helpers for the source tests: one image spec, written in every format sitelens reads.

A plain module (not conftest.py) so tests import it by a name unique in the repository."""

from __future__ import annotations

from fixtures.imagebuilder import (
    Dir,
    File,
    Hardlink,
    ImageSpec,
    LayerSpec,
    Opaque,
    Symlink,
    Whiteout,
)
from sitelens.fs import Filesystem


def sample_spec(marker: str = "") -> ImageSpec:
    """Three layers exercising whiteouts, opaque dirs, links and a python-ish tree."""
    return ImageSpec(
        layers=[
            LayerSpec(
                [
                    Dir("/usr"), Dir("/usr/bin"), Dir("/usr/lib"), Dir("/etc"),
                    File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
                    File("/etc/group", b"root:x:0:\napp:x:1000:\n"),
                    File("/usr/bin/python3.11", b"\x7fELF fake interpreter" * 40, mode=0o755),
                    Symlink("/usr/bin/python3", "python3.11"),
                    Dir("/usr/lib/python3.11"), Dir("/usr/lib/python3.11/site-packages"),
                    File("/usr/lib/python3.11/site-packages/old.py", b"print('old')\n"),
                    Dir("/opt"), Dir("/opt/cache"), File("/opt/cache/a.bin", b"a" * 5000),
                    File("/tmp-file", b"to be deleted"),
                ],
                created_by="RUN base" + marker,
            ),
            LayerSpec(
                [
                    Dir("/usr/lib/python3.11/site-packages/pkg-1.0.dist-info"),
                    File("/usr/lib/python3.11/site-packages/pkg-1.0.dist-info/METADATA",
                         b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"),
                    File("/usr/lib/python3.11/site-packages/pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n"),
                    Dir("/usr/lib/python3.11/site-packages/pkg"),
                    File("/usr/lib/python3.11/site-packages/pkg/__init__.py", b"VERSION = '1.0'\n"),
                    Hardlink("/usr/bin/python3-copy", "/usr/bin/python3.11", mode=0o755),
                    Whiteout("/tmp-file"),
                    File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", mode=0o600),
                ],
                created_by="RUN pip install pkg",
            ),
            LayerSpec(
                [
                    Opaque("/opt/cache"),
                    File("/opt/cache/b.bin", b"b" * 300, uid=1000, gid=1000),
                    Whiteout("/usr/lib/python3.11/site-packages/old.py"),
                    File("/home-note", b"x", mode=0o640, uid=1000),
                ],
                created_by="RUN cleanup",
            ),
        ],
        user="app",
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": "/opt"},
        workdir="/home/app",
        cmd=["python3"],
    )


def fs_signature(fs: Filesystem) -> list[tuple]:
    """What must not depend on the source: every visible path, its metadata, content and layer."""
    out = []
    for node in fs.nodes():
        e = node.entry
        out.append((e.path, e.kind, e.mode, e.uid, e.gid, e.size, e.link, e.sha256, e.data, node.layer))
    return sorted(out, key=lambda t: t[0])
