"""Cross-check the merged filesystem against a real unpacker: ``umoci unpack`` (Debian ``umoci``).

For each fixture image the tree umoci writes to ``BUNDLE/rootfs`` (read with ``os.lstat``) must
equal sitelens's merged view: the same paths, types, permission bits, owners, file sizes and
symlink targets. umoci applies whiteouts and opaque markers itself, so this checks our OCI
semantics against an independent implementation rather than against our own reading of the spec.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from fixtures.imagebuilder import (
    Device,
    Dir,
    File,
    Hardlink,
    ImageSpec,
    LayerSpec,
    Opaque,
    Symlink,
    Whiteout,
    build,
    write_oci_layout,
)
from sitelens.fs import Filesystem
from sitelens.pipeline import load
from tests.helpers import require_tool

FIXTURES: dict[str, ImageSpec] = {
    "whiteouts": ImageSpec([
        LayerSpec([Dir("/etc"), File("/etc/a", b"a"), File("/etc/b", b"bb"), Dir("/opt"), Dir("/opt/app"),
                   Dir("/opt/app/lib"), File("/opt/app/lib/x.py", b"x"), File("/opt/app/run", b"#!/bin/sh\n", 0o755)]),
        LayerSpec([Whiteout("/etc/a"), Whiteout("/opt/app"), File("/etc/c", b"ccc")]),
        # (a bare ".wh." file is left out here: umoci drops it, sitelens keeps it as a file like
        # stereoscope since its #647 fix; test_layers_fs covers our side)
        LayerSpec([Dir("/opt/app"), File("/opt/app/new", b"n")]),
    ]),
    "opaque": ImageSpec([
        LayerSpec([Dir("/srv"), Dir("/srv/d"), File("/srv/d/old", b"old"), File("/srv/keep", b"k")]),
        LayerSpec([Dir("/srv/d", 0o700, 1000, 1000), Opaque("/srv/d"), File("/srv/d/new", b"new", 0o600, 1000, 1000)]),
        # delete and recreate in one layer, as overlay-based builders write `rm -rf d && mkdir d`
        LayerSpec([Whiteout("/srv/keep"), Dir("/srv/keep", 0o750), File("/srv/keep/inside", b"i")]),
    ]),
    "symlinks": ImageSpec([
        LayerSpec([Dir("/usr"), Dir("/usr/lib"), Dir("/usr/bin"), File("/usr/bin/python3.11", b"ELF", 0o755),
                   Symlink("/usr/bin/python3", "python3.11"), Symlink("/lib", "usr/lib"),
                   Symlink("/escape", "../../../../etc/passwd"), Symlink("/abs", "/usr/bin/python3"),
                   Symlink("/loop", "loop")]),
        LayerSpec([Symlink("/usr/bin/python3", "/usr/bin/python3.11"), Whiteout("/loop"),
                   Symlink("/dangling", "/nowhere")]),
    ]),
    "hardlinks-modes": ImageSpec([
        LayerSpec([Dir("/bin"), File("/bin/su", b"suid", 0o4755), File("/bin/sg", b"sgid", 0o2711, 0, 42),
                   Dir("/tmp", 0o1777), File("/bin/busybox", b"bb" * 1000, 0o755),
                   Hardlink("/bin/ls", "/bin/busybox"), Hardlink("/bin/cat", "/bin/busybox"),
                   File("/home/u/secret", b"s", 0o600, 1000, 1000), Dir("/dev"), Device("/dev/null", "char", 1, 3)]),
        LayerSpec([File("/bin/su", b"suid", 0o755), Dir("/home/u", 0o700, 1000, 1000),
                   File("/bin/busybox", b"new", 0o700)]),
    ]),
    "symlinked-parents": ImageSpec([
        LayerSpec([Dir("/usr"), Dir("/usr/lib"), File("/usr/lib/old", b"o"), Symlink("/lib", "usr/lib"),
                   Symlink("/abs", "/usr/lib"), Symlink("/up", "../../usr"), Symlink("/dangling", "/nowhere"),
                   Dir("/real"), File("/real/a", b"a"), File("/real/b", b"b"), File("/plain", b"p")]),
        # no dir entries for the symlinked parents: the extractor follows them inside the root
        LayerSpec([File("/lib/foo", b"x"), File("/abs/bar", b"y"), File("/up/lib/baz", b"z"),
                   File("/lib/new/deep/file", b"d"), Hardlink("/real/c", "/lib/foo"),
                   Whiteout("/lib/old"), Symlink("/real2", "real")]),
        LayerSpec([Whiteout("/real2/a"), Opaque("/abs"), File("/abs/after", b"after"),
                   File("/dangling/x", b"x")]),
    ]),
    "replacements": ImageSpec([
        LayerSpec([Dir("/a"), File("/a/f", b"f"), File("/b", b"file"), Dir("/c"), File("/c/x", b"x")]),
        LayerSpec([File("/a", b"a is a file now"), Dir("/b"), File("/b/inside", b"i"), Symlink("/c", "/a")]),
    ]),
}


def snapshot_rootfs(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = "/" + os.path.relpath(full, root)
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, link)
    return out


def snapshot_fs(fs: Filesystem) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for node in fs.walk("/"):
        if node.path == "/":
            continue
        e = node.entry
        size = node.size if e.kind in ("file", "hardlink") else 0
        link = e.link if e.kind == "symlink" else None
        out[node.path] = (stat.S_IFMT(node.st_mode), e.mode & 0o7777, e.uid, e.gid, size, link)
    return out


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_merged_tree_equals_umoci_unpack(name: str, tmp_path: Path) -> None:
    require_tool("umoci")
    built = build(FIXTURES[name], "gzip")
    layout = write_oci_layout(built, tmp_path / "oci", tag="t")
    bundle = tmp_path / "bundle"
    r = subprocess.run(["umoci", "unpack", "--image", f"{layout}:t", str(bundle)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    expected = snapshot_rootfs(bundle / "rootfs")
    with load(f"oci:{layout}:t", use_cache=False) as loaded:
        got = snapshot_fs(loaded.fs)
    # Implicit parent dirs: umoci creates them 0755 root:root as we model them.
    assert sorted(got) == sorted(expected)
    diffs = {p: (got[p], expected[p]) for p in got if got[p] != expected[p]}
    assert diffs == {}
