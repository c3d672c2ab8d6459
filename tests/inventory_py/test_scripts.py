"""inventory/scripts.py: shebang lines as the kernel reads them, for scripts in bin dirs."""

from __future__ import annotations

from fixtures.imagebuilder import File, ImageSpec, LayerSpec
from sitelens.inventory.scripts import find_scripts, parse_shebang
from tests.helpers import fs_from_spec


def test_parse_shebang_keeps_the_rest_as_one_argument() -> None:
    assert parse_shebang(b"#!/usr/bin/python3 -sE") == ("/usr/bin/python3", "-sE")
    assert parse_shebang(b"#! /usr/bin/env  -S python3 -s") == ("/usr/bin/env", "-S python3 -s")
    assert parse_shebang(b"#!\t/bin/sh") == ("/bin/sh", "")
    assert parse_shebang(b"#!   ") is None


def test_find_scripts_only_in_bin_dirs_with_their_layer() -> None:
    fs = fs_from_spec(ImageSpec([
        LayerSpec([File("/usr/local/bin/tool", b"#!/opt/venv/bin/python\nimport x\n", 0o755),
                   File("/app/run.py", b"#!/usr/bin/python3\n", 0o755),
                   File("/usr/bin/data", b"not a script", 0o755)]),
        LayerSpec([File("/opt/venv/bin/pip", b"#!/opt/venv/bin/python3.11 -I\n", 0o755)]),
    ]))
    got = sorted((s.path, s.layer, s.interpreter, s.argument) for s in find_scripts(fs))
    assert got == [("/opt/venv/bin/pip", 1, "/opt/venv/bin/python3.11", "-I"),
                   ("/usr/local/bin/tool", 0, "/opt/venv/bin/python", "")]
