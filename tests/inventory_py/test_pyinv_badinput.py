"""Hostile and odd Python metadata in a real image: parse what can be parsed, warn, never crash."""

from __future__ import annotations

import base64
import hashlib
import json

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink, build, write_oci_layout
from sitelens.inventory.builder import build_inventory
from sitelens.inventory.imports import metadata_version
from sitelens.inventory.model import Identity
from sitelens.permissions import ROOT as ROOT_CRED
from sitelens.report.inventory import inventory_document
from tests.helpers import fs_from_spec, image_from_built

SP = "/usr/lib/python3.11/site-packages"
ROOT = Identity("root", 0, 0, [0], "root", "/root", True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


GOOD_PY = b"X = 1\n"
RECORD = (
    f"good/__init__.py,sha256={_b64(GOOD_PY)},{len(GOOD_PY)}\n"
    "good/broken.py,sha256=!!!notbase64,12\n"
    "good/nosize.py,sha256=,notanumber\n"
    'good/quoted "x.py,md5\n'
    "good-1.0.dist-info/RECORD,,\n"
    "../../../bin/good-cli,,\n"
    ",,\n"
    "\n"
).encode() + b"\xff\xfe binary,row\n"


def _spec() -> ImageSpec:
    base = [
        Dir("/usr"),
        Dir("/usr/bin"),
        Dir("/usr/lib"),
        Dir("/usr/lib/python3.11"),
        File("/usr/bin/python3.11", b"\x7fELF" + b"\0" * 64, 0o755),
        Symlink("/usr/bin/python3", "python3.11"),
        File("/usr/lib/python3.11/os.py", b"# os\n"),
        Dir("/usr/lib/python3.11/lib-dynload"),
        File(
            "/usr/lib/python3.11/_sysconfigdata__linux_x86_64-linux-gnu.py",
            b"build_time_vars = {'prefix': '/usr', 'exec_prefix': '/usr', 'ABIFLAGS': ''}\n",
        ),
        File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        Dir("/root", 0o700),
        Dir(SP),
    ]
    dists = [
        File(f"{SP}/good/__init__.py", GOOD_PY),
        File(
            f"{SP}/good-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: Good\nVersion: 1.0\nRequires-Dist: six>=1.0\n"
            b"Requires-Dist: not a valid ((requirement\n",
        ),
        File(f"{SP}/good-1.0.dist-info/RECORD", RECORD),
        File(f"{SP}/good-1.0.dist-info/INSTALLER", b"pip\n"),
        File(f"{SP}/junk-0.1.dist-info/METADATA", bytes(range(256)) * 8),
        File(f"{SP}/ODDcase-2.0.DIST-INFO/METADATA", b"Metadata-Version: 2.1\nName: OddCase\nVersion: 2.0.post1\n"),
        File(f"{SP}/legacy-0.5.egg-info", b"Metadata-Version: 1.0\nName: legacy\nVersion: 0.5\n"),
        Dir(f"{SP}/eggy-3.0-py3.11.egg/EGG-INFO"),
        File(f"{SP}/eggy-3.0-py3.11.egg/EGG-INFO/PKG-INFO", b"Name: eggy\nVersion: 3.0\n"),
        File(f"{SP}/easy-install.pth", b"./eggy-3.0-py3.11.egg\n"),
        File(f"{SP}/devpkg.egg-link", b"/src/devpkg\n.\n"),
        Dir("/src/devpkg/devpkg.egg-info"),
        File("/src/devpkg/devpkg.egg-info/PKG-INFO", b"Name: devpkg\nVersion: 0.0.1\n"),
        File(f"{SP}/ed-1.2.dist-info/METADATA", b"Name: ed\nVersion: 1.2\n"),
        File(f"{SP}/__editable___ed_1_2_finder.py", b"import sys\nMAPPING = {'ed': '/src/ed/ed'}\nNAMESPACES = {}\n"),
        File(
            f"{SP}/__editable__.ed-1.2.pth",
            b"import __editable___ed_1_2_finder; __editable___ed_1_2_finder.install()\n",
        ),
        # .pth files: a loop, the site dir itself, binary junk, a symlink cycle target
        File(f"{SP}/a-loop.pth", b"/loop\n" + SP.encode() + b"\n/cyc/sub\n"),
        File(f"{SP}/b-junk.pth", b"/opt/ok\n\xff\xfe\x00garbage\n"),
        Symlink("/loop", "/loop"),
        Symlink("/cyc", "/cyc2"),
        Symlink("/cyc2", "/cyc"),
        Dir("/opt/ok"),
        Symlink(f"{SP}/selfloop.dist-info", "selfloop.dist-info"),
    ]
    return ImageSpec(
        [LayerSpec(base, "base"), LayerSpec(dists, "pip install")], cmd=["/usr/bin/python3", "-sE", "-m", "good"]
    )


def test_pyinv_bad_metadata_is_parsed_with_warnings() -> None:
    fs = fs_from_spec(_spec())
    inv = build_inventory(fs, image_from_built(build(_spec())), identities=[ROOT])
    (env,) = inv.environments
    by = {d.name: d for d in env.distributions}
    assert set(by) >= {"good", "oddcase", "legacy", "eggy", "devpkg", "ed"}
    good = by["good"]
    assert good.version == "1.0" and good.installer == "pip" and good.layer == 1
    assert good.requires == ["six>=1.0"]  # the invalid one is a warning
    rec = {e.path: e for e in good.record or []}
    init = rec[f"{SP}/good/__init__.py"]
    assert init.digest == hashlib.sha256(GOOD_PY).digest()
    assert init.size == len(GOOD_PY) and init.algo == "sha256"
    assert "/usr/bin/good-cli" in rec  # ../../../bin/good-cli, resolved against the site dir
    assert rec[f"{SP}/good/broken.py"].digest is None
    assert good.top_level == ["good"]
    assert by["oddcase"].version == "2.0.post1" and by["oddcase"].kind == "dist-info"
    assert by["legacy"].kind == "egg-info-file" and by["legacy"].version == "0.5"
    assert by["eggy"].kind == "egg" and by["eggy"].version == "3.0"
    assert by["devpkg"].editable_target == "/src/devpkg" and by["devpkg"].version == "0.0.1"
    assert by["ed"].editable_target == "/src/ed/ed"
    junk = [d for d in env.distributions if d.metadata_path.endswith("junk-0.1.dist-info")]
    assert junk and junk[0].version is None
    text = "\n".join(inv.warnings)
    for needle in (
        "malformed hash",
        "undecodable digest",
        "malformed size",
        "invalid Requires-Dist",
        "no Name header",
        "not valid UTF-8",
    ):
        assert needle in text, needle
    # the .pth loop and cycles add nothing; the good line of the junk .pth still counts
    paths = [e.path for e in env.sys_path["root"]]
    assert "/opt/ok" in paths and "/loop" not in paths and "/cyc/sub" not in paths
    assert paths.count(SP) == 1
    assert any("__editable___ed_1_2_finder" in line for _, line in env.pth_imports["root"])
    assert f"{SP}/eggy-3.0-py3.11.egg" in paths  # via easy-install.pth
    versions = {d.metadata_path: d.version for d in env.distributions}
    entries = env.sys_path["root"]
    assert metadata_version(fs, ROOT_CRED, entries, "eggy", versions).path == f"{SP}/eggy-3.0-py3.11.egg"
    assert metadata_version(fs, ROOT_CRED, entries, "ODDCASE", versions).version == "2.0.post1"
    # entrypoint: python -sE -m good
    assert inv.entrypoint is not None and inv.entrypoint.interpreter == "/usr/bin/python3"
    assert inv.entrypoint.flags == ["-s", "-E"] and inv.entrypoint.script == "-m good"
    doc = inventory_document(inv, None)
    json.dumps(doc)
    assert doc["warnings"] == inv.warnings


def test_pyinv_cli_inventory_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from sitelens.cli import app

    layout = write_oci_layout(build(_spec()), tmp_path / "oci")
    out = tmp_path / "inv.json"
    res = CliRunner().invoke(
        app, ["inventory", f"oci:{layout}", "--format", "json", "--user", "1234:0", "--output", str(out), "--no-cache"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    (env,) = doc["environments"]
    assert env["interpreter"] == "/usr/bin/python3.11" and env["kind"] == "system"
    assert set(env["sys_path"]) >= {"image-user", "arbitrary-uid", "root", "user:1234:0"}
    assert env["sys_path"]["root"][:3] == [
        "/usr/lib/python311.zip",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11/lib-dynload",
    ]
    # the environments follow the same contract as the audit's JSON (report/schema.json)
    import jsonschema

    from sitelens.report import __file__ as report_init

    schema = json.loads((__import__("pathlib").Path(report_init).parent / "schema.json").read_text())
    sub = {"$defs": schema.get("$defs", {}), **schema["properties"]["environments"]}
    jsonschema.validate(doc["environments"], sub)
    names = {d["name"] for d in env["distributions"]}
    assert "good" in names
    assert any("malformed hash" in w for w in doc["warnings"])
    res = CliRunner().invoke(app, ["inventory", f"oci:{layout}", "--no-cache"])
    assert res.exit_code == 0 and "sys.path for root" in res.output
    res = CliRunner().invoke(app, ["inventory", f"oci:{layout}", "--user", "bob"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["inventory", f"oci:{tmp_path / 'missing'}"])
    assert res.exit_code == 3
