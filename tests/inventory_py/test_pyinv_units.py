"""Pure parsers and the entrypoint resolver, on bytes and small real images."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.image import ImageConfig
from sitelens.inventory.entrypoint import resolve_entrypoint
from sitelens.inventory.record import decode_digest, parse_record
from sitelens.inventory.venv import parse_pyvenv_cfg
from tests.helpers import fs_from_spec


def test_pyinv_pyvenv_cfg_rules() -> None:
    cfg = parse_pyvenv_cfg(b"home = /usr/bin\nHome=/other\ninclude-system-site-packages = True\n")
    assert cfg.home == "/usr/bin"  # getpath: the first home
    assert cfg.system_site == "true"
    assert parse_pyvenv_cfg(b"home=/x\ninclude-system-site-packages = yes\n").system_site == "yes"
    assert parse_pyvenv_cfg(b"home=/x\n").system_site == "true"  # missing key counts as true
    assert parse_pyvenv_cfg(b"version = 3.11.2\nno equals line\n").home is None


def test_pyinv_record_digest_and_paths() -> None:
    assert decode_digest("AAECAw") == bytes([0, 1, 2, 3])
    rows, warns = parse_record(
        b"a.py,sha256=AAECAw,4\n/abs/x,,\n../../../bin/t,,\n", "/s/lib/python3.11/site-packages", "R"
    )
    assert [r.path for r in rows] == ["/s/lib/python3.11/site-packages/a.py", "/abs/x", "/s/bin/t"]
    assert rows[0].digest == bytes([0, 1, 2, 3]) and rows[0].size == 4 and not warns


def test_pyinv_entrypoint_shebang_and_path() -> None:
    spec = ImageSpec(
        [
            LayerSpec(
                [
                    Dir("/usr/bin"),
                    Dir("/opt/venv/bin"),
                    File("/usr/bin/python3.11", b"\x7fELF", 0o755),
                    Symlink("/usr/bin/python3", "python3.11"),
                    File("/opt/venv/bin/app", b"#!/opt/venv/bin/python -sE\nimport app\n", 0o755),
                    Symlink("/opt/venv/bin/python", "/usr/bin/python3"),
                    File("/opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
                    File("/usr/bin/tool", b"#!/usr/bin/env python3\n", 0o755),
                ]
            )
        ]
    )
    fs = fs_from_spec(spec)
    env = {"PATH": "/opt/venv/bin:/usr/bin"}
    ep = resolve_entrypoint(fs, ImageConfig(env=env, cmd=["app", "--port", "80"]))
    assert ep is not None and ep.interpreter == "/opt/venv/bin/python"
    assert ep.flags == ["-s", "-E"] and ep.script == "/opt/venv/bin/app"
    ep = resolve_entrypoint(fs, ImageConfig(env=env, entrypoint=["/bin/sh", "-c"], cmd=["exec tool"]))
    # a shell form is seen through: what the shell execs is what runs
    assert ep is not None and ep.interpreter == "/usr/bin/python3" and ep.script == "/usr/bin/tool"
    ep = resolve_entrypoint(fs, ImageConfig(env=env, entrypoint=["sh", "-c", "X=1 exec app -v"]))
    assert ep is not None and ep.interpreter == "/opt/venv/bin/python" and ep.flags == ["-s", "-E"]
    ep = resolve_entrypoint(fs, ImageConfig(env=env, cmd=["missing"]))
    assert ep is not None and ep.interpreter is None
    ep = resolve_entrypoint(fs, ImageConfig(env={"PATH": "/usr/bin"}, cmd=["tool"]))
    assert ep is not None and ep.interpreter == "/usr/bin/python3" and ep.script == "/usr/bin/tool"
    ep = resolve_entrypoint(fs, ImageConfig(env=env, cmd=["python3", "-I", "-m", "http.server"]))
    assert ep is not None and ep.interpreter == "/usr/bin/python3" and ep.flags == ["-I"]
    assert ep.script == "-m http.server"


def test_scl_expansion_and_hostile_words() -> None:
    from sitelens.inventory.scl import MAX_WORD, expand

    env = {"PATH": "/usr/bin", "E": ""}
    assert expand("/opt/x/bin${PATH:+:${PATH}}", env) == "/opt/x/bin:/usr/bin"
    assert expand("/opt/x/lib${E:+:${E}}", env) == "/opt/x/lib"
    assert expand("${MISSING:-/usr/local/share:/usr/share}:$PATH", env) == "/usr/local/share:/usr/share:/usr/bin"
    assert expand("${PATH", env) == "${PATH"  # unterminated: left as written
    deep = "${PATH:+" * 5000 + "x" + "}" * 5000
    assert expand(deep, env) == deep  # longer than any real line: not expanded, no recursion
    nested = "${PATH:+" * 50 + "x" + "}" * 50
    assert len(nested) < MAX_WORD and "x" in expand(nested, env)


def test_scl_self_doubling_assignments_stay_bounded() -> None:
    """``export A=$A$A$A$A`` forty times would be 4**40 bytes: a value past MAX_VALUE stays as
    written, and a real PATH prepend is untouched."""
    from sitelens.inventory.scl import MAX_VALUE, run_simple

    env = {"A": "xx", "PATH": "/usr/bin"}
    fs = fs_from_spec(ImageSpec([LayerSpec([Dir("/opt")])]))
    for _ in range(40):
        assert run_simple(fs, ["export", "A=$A$A$A$A"], env)
        assert len(env["A"]) <= MAX_VALUE
    run_simple(fs, ["export", "PATH=/opt/rh/c/root/usr/bin${PATH:+:${PATH}}"], env)
    assert env["PATH"] == "/opt/rh/c/root/usr/bin:/usr/bin"


def test_scl_hostile_sourced_files_end_quietly() -> None:
    """A BASH_ENV file that sources itself, an enable script of one 60 KiB line and one of deep
    nesting: the resolver ends, within the capture limit, without an exception."""
    loop = b"source /opt/app-root/etc/scl_enable\nexport A=1\n"
    spec = ImageSpec([LayerSpec([
        Dir("/opt"), Dir("/opt/app-root"), Dir("/opt/app-root/etc"), File("/opt/app-root/etc/scl_enable", loop),
        Dir("/opt/rh"), Dir("/opt/rh/big"), File("/opt/rh/big/enable", b"export P=" + b"${P:+" * 12000 + b"\n"),
        Dir("/opt/rh/deep"), File("/opt/rh/deep/enable", b"export P=" + b"${P:-" * 500 + b"x" + b"}" * 500 + b"\n"),
        Dir("/usr"), Dir("/usr/bin"), File("/usr/bin/python3", b"\x7fELF", 0o755),
    ])])
    fs = fs_from_spec(spec)
    env = {"PATH": "/usr/bin", "BASH_ENV": "/opt/app-root/etc/scl_enable"}
    ep = resolve_entrypoint(fs, ImageConfig(env=env, cmd=["bash", "-c", "exec python3 app.py"]))
    assert ep is not None and ep.interpreter == "/usr/bin/python3" and ep.env["A"] == "1"
    for coll in ("big", "deep"):
        cmd = ["scl", "enable", coll, "--", "python3", "app.py"]
        ep = resolve_entrypoint(fs, ImageConfig(env={"PATH": "/usr/bin"}, cmd=cmd))
        assert ep is not None and ep.interpreter == "/usr/bin/python3"


def test_deeply_nested_direct_url_keeps_the_distribution() -> None:
    """json's decoder recurses: 100 000 nested arrays raise RecursionError. The distribution
    stays in the inventory with a warning (the scanner's catch-all used to drop it whole)."""
    from sitelens.inventory.distributions import DirScanner

    site = "/usr/local/lib/python3.11/dist-packages"
    spec = ImageSpec([LayerSpec([
        File(f"{site}/du-1.dist-info/METADATA", b"Name: du\nVersion: 1\n"),
        File(f"{site}/du-1.dist-info/direct_url.json", b"[" * 100_000 + b"]" * 100_000),
    ])])
    (d,) = DirScanner(fs_from_spec(spec)).scan(site)
    assert (d.name, d.version) == ("du", "1")
    assert any("direct_url.json: not valid JSON" in w for w in d.warnings)
