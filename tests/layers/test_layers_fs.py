"""The merged filesystem: whiteouts, opaque dirs, hard links, symlinks inside the root, history."""

from __future__ import annotations

import hashlib

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
)
from sitelens.fs import ADDED, DELETED, METADATA, MODIFIED, UNCHANGED, Filesystem
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from tests.helpers import fs_from_spec, image_from_built


def fs_of(*layers: list, compression: str = "gzip"):  # type: ignore[no-untyped-def]
    return fs_from_spec(ImageSpec([LayerSpec(list(entries)) for entries in layers]), compression)


def actions(fs, path: str) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(c.layer, c.action) for c in fs.history(path)]


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_whiteout_hides_a_lower_file_in_every_codec(compression: str | None) -> None:
    fs = fs_from_spec(ImageSpec([
        LayerSpec([Dir("/etc"), File("/etc/a", b"1"), File("/etc/b", b"2")]),
        LayerSpec([Whiteout("/etc/a")]),
    ]), compression)
    assert fs.get("/etc/a") is None
    assert fs.get("/etc/b") is not None
    assert fs.listdir("/etc") == ["b"]
    assert fs.history("/etc/a")[-1].action == DELETED
    assert fs.history("/etc/a")[-1].cause == "whiteout"


def test_rm_rf_dir_deletes_every_descendant_with_parent_whiteout_cause() -> None:
    fs = fs_of(
        [Dir("/opt"), Dir("/opt/app"), Dir("/opt/app/sub"), File("/opt/app/sub/x", b"x"), File("/opt/app/y", b"y")],
        [Whiteout("/opt/app")],
    )
    assert fs.get("/opt/app") is None and fs.get("/opt/app/sub/x") is None
    assert fs.listdir("/opt") == []
    assert fs.history("/opt/app")[-1].cause == "whiteout"
    for p in ("/opt/app/sub", "/opt/app/sub/x", "/opt/app/y"):
        last = fs.history(p)[-1]
        assert (last.layer, last.action, last.cause) == (1, DELETED, "parent-whiteout")


def test_opaque_dir_hides_lower_content_but_keeps_its_own() -> None:
    fs = fs_of(
        [Dir("/srv"), File("/srv/old1", b"1"), Dir("/srv/d"), File("/srv/d/old2", b"2")],
        [Dir("/srv", 0o700), Opaque("/srv"), File("/srv/new", b"3")],
    )
    assert fs.listdir("/srv") == ["new"]
    assert fs.get("/srv").mode == 0o700
    assert fs.history("/srv/old1")[-1].cause == "opaque"
    assert fs.history("/srv/d/old2")[-1].cause == "opaque"


def test_a_layer_can_delete_and_recreate_a_directory() -> None:
    # What overlayfs-based builders write for `RUN rm -rf /app && mkdir /app && touch /app/new`.
    fs = fs_of(
        [Dir("/app"), File("/app/old", b"old")],
        [Whiteout("/app"), Dir("/app", 0o750), File("/app/new", b"new")],
    )
    assert fs.listdir("/app") == ["new"]
    assert fs.get("/app").mode == 0o750
    assert actions(fs, "/app") == [(0, ADDED), (1, DELETED), (1, ADDED)]
    assert actions(fs, "/app/old") == [(0, ADDED), (1, DELETED)]


def test_opaque_then_recreate_in_a_later_layer_again() -> None:
    fs = fs_of(
        [Dir("/d"), File("/d/a", b"a")],
        [Dir("/d"), Opaque("/d"), File("/d/b", b"b")],
        [Dir("/d"), File("/d/a", b"a2")],
    )
    assert fs.listdir("/d") == ["a", "b"]
    assert actions(fs, "/d/a") == [(0, ADDED), (1, DELETED), (2, ADDED)]


def test_bare_wh_file_is_a_file_not_a_whiteout() -> None:
    fs = fs_of([Dir("/x"), File("/x/a", b"a")], [File("/x/.wh.", b"")])
    assert fs.listdir("/x") == [".wh.", "a"]
    assert fs.get("/x/.wh.").kind == "file"


def test_whiteout_of_missing_path_is_harmless() -> None:
    fs = fs_of([Dir("/a")], [Whiteout("/a/nothing")])
    assert fs.get("/a") is not None and fs.history("/a/nothing") == []


def test_history_actions() -> None:
    fs = fs_of(
        [Dir("/e"), File("/e/content", b"1"), File("/e/meta", b"m"), File("/e/same", b"s"), File("/e/gone", b"g")],
        [Dir("/e"), File("/e/content", b"2"), File("/e/meta", b"m", mode=0o600), File("/e/same", b"s")],
        [Whiteout("/e/gone")],
    )
    assert actions(fs, "/e/content") == [(0, ADDED), (1, MODIFIED)]
    assert actions(fs, "/e/meta") == [(0, ADDED), (1, METADATA)]
    assert actions(fs, "/e/same") == [(0, ADDED), (1, UNCHANGED)]
    assert actions(fs, "/e/gone") == [(0, ADDED), (2, DELETED)]
    # Re-declaring an unchanged parent dir is not history noise, and the node keeps its layer.
    assert actions(fs, "/e") == [(0, ADDED)]
    assert fs.get("/e").layer == 0
    assert fs.get("/e/content").layer == 1
    assert fs.history("/e/content")[1].shipped == 1


def test_chown_is_metadata_and_type_change_is_modified() -> None:
    fs = fs_of(
        [File("/f", b"x", uid=0), File("/g", b"x"), Symlink("/h", "a")],
        [File("/f", b"x", uid=1000), Symlink("/g", "f"), Symlink("/h", "b")],
    )
    assert fs.history("/f")[-1].action == METADATA
    assert fs.history("/g")[-1].action == MODIFIED
    assert fs.history("/h")[-1].action == MODIFIED


def test_directory_replaced_by_a_file_deletes_its_children() -> None:
    fs = fs_of([Dir("/d"), File("/d/x", b"x")], [File("/d", b"now a file")])
    assert fs.get("/d").kind == "file" and fs.get("/d/x") is None
    assert fs.history("/d/x")[-1].cause == "replaced"


def test_implicit_parent_dirs() -> None:
    fs = fs_of([File("/a/b/c", b"c")])
    assert fs.get("/a").implicit and fs.get("/a/b").kind == "dir"
    assert [n.path for n in fs.walk("/")] == ["/", "/a", "/a/b", "/a/b/c"]


def test_hard_links_share_the_target_content() -> None:
    body = b"#!/usr/bin/python3\nprint(1)\n"
    fs = fs_of([Dir("/usr/bin"), File("/usr/bin/python3.11", body, 0o755),
                Hardlink("/usr/bin/py", "/usr/bin/python3.11")])
    node = fs.get("/usr/bin/py")
    assert node.kind == "hardlink" and node.size == len(body)
    assert node.entry.sha256 == hashlib.sha256(body).digest()
    assert node.entry.head == b"#!/usr/bin/python3"
    assert fs.history("/usr/bin/py")[0].shipped == 0  # a hard link ships no bytes


def test_hard_link_to_a_missing_target_is_a_warning_not_a_node() -> None:
    fs = fs_of([Hardlink("/x", "/nowhere")])
    assert fs.get("/x") is None
    assert any("hard link /x" in w for w in fs.warnings)


def test_device_nodes_are_listed_as_metadata() -> None:
    fs = fs_of([Dir("/dev"), Device("/dev/null", "char", 1, 3), Device("/dev/loop0", "block", 7, 0)])
    assert fs.get("/dev/null").kind == "char"
    assert fs.get("/dev/loop0").kind == "block"
    assert fs.read_bytes("/dev/null") is None


# ---- symlink resolution --------------------------------------------------------------------


@pytest.fixture(scope="module")
def linked():  # type: ignore[no-untyped-def]
    return fs_of([
        Dir("/usr"), Dir("/usr/lib"), Dir("/usr/lib/python3.11"), File("/usr/lib/python3.11/os.py", b"os"),
        Dir("/usr/bin"), File("/usr/bin/python3.11", b"ELF"),
        Symlink("/usr/bin/python3", "python3.11"),
        Symlink("/usr/bin/abs", "/usr/bin/python3"),
        Symlink("/lib", "usr/lib"),
        Symlink("/escape", "../../../../usr/lib"),
        Symlink("/escape_abs", "/../../usr/../usr/bin/python3.11"),
        Symlink("/loop1", "loop2"), Symlink("/loop2", "/loop1"),
        Symlink("/self", "self"),
        Symlink("/dangling", "/nonexistent/file"),
        Dir("/a"), Dir("/a/b"), Symlink("/a/b/up", "../.."),
        Symlink("/through_file", "/usr/bin/python3.11/x"),
    ])


@pytest.mark.parametrize(("path", "expected"), [
    ("/usr/bin/python3", "/usr/bin/python3.11"),
    ("/usr/bin/abs", "/usr/bin/python3.11"),
    ("/lib/python3.11/os.py", "/usr/lib/python3.11/os.py"),
    ("/escape/python3.11/os.py", "/usr/lib/python3.11/os.py"),  # `..` past the root stops there
    ("/escape_abs", "/usr/bin/python3.11"),
    ("/a/b/up/usr/bin/python3", "/usr/bin/python3.11"),
    ("/a/b/up/../../../usr", "/usr"),
    ("/usr/./bin//python3", "/usr/bin/python3.11"),
    ("/loop1", None),
    ("/self", None),
    ("/dangling", None),
    ("/through_file", None),
    ("/usr/bin/python3.11/x", None),
    ("/missing", None),
])
def test_resolve(linked, path: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    assert linked.resolve(path) == expected


def test_resolve_without_following_the_last_link(linked) -> None:  # type: ignore[no-untyped-def]
    assert linked.resolve("/usr/bin/python3", follow_last=False) == "/usr/bin/python3"
    assert linked.resolve("/lib/python3.11", follow_last=False) == "/usr/lib/python3.11"
    assert linked.lookup("/loop1", follow=False).kind == "symlink"


def test_lookup_read_bytes_and_listdir_follow_links(linked) -> None:  # type: ignore[no-untyped-def]
    assert linked.lookup("/lib/python3.11/os.py").path == "/usr/lib/python3.11/os.py"
    assert linked.listdir("/lib") == ["python3.11"]
    assert linked.listdir("/loop1") == []
    assert linked.exists("/usr/bin/abs") and not linked.exists("/dangling")


def test_lookup_is_the_walk_for_every_alias_and_link() -> None:
    # lookup's shortcuts (a canonical parent, a link to a sibling) must answer what the full
    # walk answers: sibling links to files, dirs, other links, nothing, themselves
    fs = fs_of([
        Dir("/usr"), Dir("/usr/lib"), Symlink("/lib", "usr/lib"), File("/usr/lib/libz.so.1.2", b"z"),
        Symlink("/usr/lib/libz.so.1", "libz.so.1.2"), Symlink("/usr/lib/libz.so", "libz.so.1"),
        Symlink("/usr/lib/gone.so", "gone.so.1"), Symlink("/usr/lib/me", "me"),
        Dir("/usr/lib/d"), Symlink("/usr/lib/to_d", "d"), Symlink("/usr/lib/dot", "."),
        Symlink("/usr/lib/up", ".."), File("/usr/lib/d/f", b"f"), Symlink("/usr/lib/d/back", "../libz.so"),
    ])
    names = ["libz.so.1.2", "libz.so.1", "libz.so", "gone.so", "me", "d", "to_d", "dot", "up",
             "d/f", "d/back", "to_d/f", "to_d/back", "up/lib/libz.so", "nope", "d/nope"]
    for parent in ("/usr/lib/", "/lib/", "/lib/dot/", "/usr/lib/up/lib/"):
        for name in names:
            path = parent + name
            for follow in (True, False):
                real = fs.resolve(path, follow_last=follow)
                assert fs.lookup(path, follow) is (fs.get(real) if real else None), (path, follow)


def test_read_bytes_returns_captured_content_only() -> None:
    fs = fs_of([File("/etc/os-release", b"ID=debian\n"), File("/srv/data", b"x"), Symlink("/etc/link", "os-release")])
    assert fs.read_bytes("/etc/os-release") == b"ID=debian\n"
    assert fs.read_text("/etc/link") == "ID=debian\n"
    assert fs.read_bytes("/srv/data") is None
    assert fs.read_bytes("/nope") is None


def test_layer_infos() -> None:
    fs = fs_of([File("/a", b"12345")], [File("/b", b"1"), Whiteout("/a")])
    assert [(li.index, li.content_bytes, li.entries) for li in fs.layers] == [(0, 5, 1), (1, 1, 2)]
    assert fs.layers[0].created_by == "layer 0"
    assert all(li.diff_id.startswith("sha256:") for li in fs.layers)


def test_members_under_a_symlinked_parent_land_where_the_link_points() -> None:
    # usrmerge: /lib -> usr/lib. A layer shipping lib/x without a lib/ dir entry writes
    # /usr/lib/x, as containerd and umoci extract it; the symlink stays a symlink.
    fs = fs_of(
        [Dir("/usr"), Dir("/usr/lib"), Symlink("/lib", "usr/lib"), Symlink("/gone", "/var/empty")],
        [File("/lib/x.so", b"x"), File("/lib/sub/y", b"y"), Hardlink("/lib/z", "/lib/x.so"),
         File("/gone/f", b"f")],
        [Whiteout("/lib/sub")],
    )
    assert fs.get("/lib").kind == "symlink"
    assert fs.listdir("/usr/lib") == ["x.so", "z"]
    assert fs.get("/usr/lib/z").size == 1
    assert actions(fs, "/usr/lib/sub") == [(1, ADDED), (2, DELETED)]
    assert fs.get("/var/empty/f") is not None  # a dangling link's target dirs are created


def test_explicit_dir_entry_replaces_a_symlink() -> None:
    fs = fs_of([Dir("/usr/lib"), Symlink("/lib", "usr/lib")], [Dir("/lib"), File("/lib/x", b"x")])
    assert fs.get("/lib").kind == "dir" and fs.get("/lib/x") is not None
    assert fs.get("/usr/lib/x") is None



def test_children_are_listdir_in_name_order_and_follow_each_layer() -> None:
    # children() is listdir(follow=False) as nodes, memoised: applying a layer must refresh it
    spec = ImageSpec([
        LayerSpec([Dir("/d"), File("/d/b", b"b"), File("/d/a-b", b"1"), Dir("/d/a"),
                   File("/d/a/x", b"x"), Symlink("/d/l", "a")]),
        LayerSpec([File("/d/c", b"c"), Whiteout("/d/b")]),
    ])
    image = image_from_built(build(spec))
    indexes = load_indexes(image, LayerCache(None, enabled=False))
    fs = Filesystem()
    fs.apply(indexes[0], 0)
    assert [n.path for n in fs.children("/d")] == ["/d/a", "/d/a-b", "/d/b", "/d/l"]
    assert [n.path for n in fs.children("/")] == ["/d"]
    assert fs.children("/d/l") == () and fs.children("/d/b") == () and fs.children("/nope") == ()
    fs.apply(indexes[1], 1)
    assert [n.path for n in fs.children("/d")] == ["/d/a", "/d/a-b", "/d/c", "/d/l"]
    assert [n.path for n in fs.children("/d")] == ["/d/" + n for n in fs.listdir("/d", follow=False)]
    assert [n.path for n in fs.walk("/d")] == ["/d", "/d/a", "/d/a/x", "/d/a-b", "/d/c", "/d/l"]
