"""``sitelens ls`` rendering: console table and JSON over a real merged filesystem."""

from __future__ import annotations

import json

import pytest

from fixtures.imagebuilder import Device, Dir, File, Hardlink, ImageSpec, LayerSpec, Symlink, Whiteout
from sitelens.errors import UsageError
from sitelens.report.listing import render_listing
from tests.helpers import fs_from_spec


@pytest.fixture(scope="module")
def fs():  # type: ignore[no-untyped-def]
    return fs_from_spec(ImageSpec([
        LayerSpec([Dir("/usr"), Dir("/usr/bin"), File("/usr/bin/python3.11", b"x" * 1234, 0o755),
                   Symlink("/usr/bin/python3", "python3.11"), Dir("/etc"), File("/etc/gone", b"g"),
                   Symlink("/lib", "usr/lib"), Dir("/usr/lib"), File("/usr/lib/libc.so", b"elf")]),
        LayerSpec([File("/usr/bin/su", b"su", 0o4755, 0, 0), File("/home/u/.bashrc", b"rc", 0o600, 1000, 1000),
                   Hardlink("/usr/bin/py", "/usr/bin/python3.11"), Whiteout("/etc/gone"),
                   File("/usr/bin/[red]evil\x1b[2J", b""), Dir("/dev"), Device("/dev/null")]),
    ]))


def rows(text: str) -> dict[str, list[str]]:
    out = {}
    for line in text.splitlines()[1:]:
        cols = line.split(None, 5)
        out[cols[5]] = cols[:5]
    return out


def test_console_directory_listing(fs) -> None:  # type: ignore[no-untyped-def]
    text = render_listing(fs, "/usr/bin", "console")
    assert text.splitlines()[0].split() == ["mode", "uid", "gid", "size", "layer", "name"]
    r = rows(text)
    assert r["python3.11"] == ["-rwxr-xr-x", "0", "0", "1234", "0"]
    assert r["python3 -> python3.11"] == ["lrwxrwxrwx", "0", "0", "0", "0"]
    assert r["su"][0] == "-rwsr-xr-x" and r["su"][4] == "1"
    assert r["py => /usr/bin/python3.11"] == ["-rwxr-xr-x", "0", "0", "1234", "1"]
    # names from the image never reach the terminal raw: no markup, no escape sequences
    assert "[red]evil\\x1b[2J" in r
    assert "\x1b" not in text
    assert all(not line.endswith(" ") for line in text.splitlines())


def test_symlinked_dir_lists_its_target_and_file_lists_itself(fs) -> None:  # type: ignore[no-untyped-def]
    assert list(rows(render_listing(fs, "/lib", "console"))) == ["libc.so"]
    assert list(rows(render_listing(fs, "/usr/bin/python3", "console"))) == ["python3 -> python3.11"]
    assert list(rows(render_listing(fs, "usr/bin/python3.11", "console"))) == ["python3.11"]


def test_json_listing(fs) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(render_listing(fs, "/", "json"))
    names = [d["name"] for d in data]
    assert names == sorted(names) and "etc" in names and "home" in names
    home = next(d for d in data if d["name"] == "home")
    assert home["implicit"] is True and home["type"] == "dir" and home["layer"] == 1
    dev = json.loads(render_listing(fs, "/dev/null", "json"))
    assert dev == [{"path": "/dev/null", "name": "null", "type": "char", "mode": "crw-rw-rw-", "perm": "0666",
                    "uid": 0, "gid": 0, "size": 0, "layer": 1, "link": None, "implicit": False}]
    bashrc = json.loads(render_listing(fs, "/home/u", "json"))[0]
    assert (bashrc["perm"], bashrc["uid"], bashrc["gid"], bashrc["size"]) == ("0600", 1000, 1000, 2)


def test_deleted_and_missing_paths_are_usage_errors(fs) -> None:  # type: ignore[no-untyped-def]
    assert json.loads(render_listing(fs, "/etc", "json")) == []  # the whiteout emptied it
    for missing in ("/etc/gone", "/nope", "/usr/bin/python3.11/x"):
        with pytest.raises(UsageError, match="no such file or directory in the image"):
            render_listing(fs, missing, "console")
