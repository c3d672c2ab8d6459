"""``dir:PATH`` reads an unpacked root as one layer, streamed through a pipe, never cached."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sources_helpers import fs_signature

from fixtures.imagebuilder import ImageSpec, LayerSpec, build, tree_entries, write_oci_layout
from sitelens.pipeline import load
from sitelens.sources import SourceOptions


def make_root(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib/python3/dist-packages/demo-1.0.dist-info").mkdir(parents=True)
    (root / "usr/lib/python3/dist-packages/demo-1.0.dist-info/METADATA").write_text("Name: demo\nVersion: 1.0\n")
    (root / "usr/bin/tool").write_bytes(b"#!/usr/bin/python3\nprint(1)\n")
    os.chmod(root / "usr/bin/tool", 0o755)
    os.symlink("tool", root / "usr/bin/tool-link")
    os.symlink("/etc/../../outside", root / "usr/bin/escape")
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.chown(root / "etc/passwd", 0, 42)
    os.chmod(root / "etc/passwd", 0o640)
    (root / "big").write_bytes(os.urandom(3 << 20))  # larger than a pipe buffer
    return root


def test_dir_source_matches_an_image_of_the_same_tree(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    cache = tmp_path / "cache"
    with load(f"dir:{root}", SourceOptions(), cache_dir=cache) as loaded:
        assert len(loaded.image.layers) == 1
        assert loaded.image.layers[0].diff_id == ""
        # the loader computed the diff_id from the stream
        assert loaded.indexes[0].diff_id.startswith("sha256:")
        fs = loaded.fs
        sig = fs_signature(fs)
        meta = "/usr/lib/python3/dist-packages/demo-1.0.dist-info/METADATA"
        assert fs.read_bytes(meta) == b"Name: demo\nVersion: 1.0\n"
        tool = fs.get("/usr/bin/tool")
        assert tool is not None and tool.mode == 0o755 and tool.entry.head == b"#!/usr/bin/python3"
        node = fs.get("/etc/passwd")
        assert node is not None and (node.mode, node.uid, node.gid) == (0o640, 0, 42)
        big = fs.get("/big")
        assert big is not None and big.entry.sha256 == hashlib.sha256((root / "big").read_bytes()).digest()
        esc = fs.get("/usr/bin/escape")
        assert esc is not None and esc.entry.link == "/etc/../../outside"
        assert fs.resolve("/usr/bin/tool-link") == "/usr/bin/tool"
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))

    layout = write_oci_layout(build(ImageSpec([LayerSpec(tree_entries(root))]), "gzip"), tmp_path / "lay")
    with load(f"oci:{layout}", SourceOptions(), use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == sig


def test_dir_source_hardlinks(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "a").write_bytes(b"same inode")
    os.link(root / "a", root / "b")
    with load(f"dir:{root}", SourceOptions(), use_cache=False) as loaded:
        b = loaded.fs.get("/b")
        assert b is not None and b.kind == "hardlink" and b.entry.link == "/a"
        a = loaded.fs.get("/a")
        assert a is not None and a.kind == "file" and a.size == 10
