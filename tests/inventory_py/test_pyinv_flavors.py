"""Interpreter layouts no oracle root covers here (Fedora, Alpine, conda, SCL, pyenv), as real
image layers built from specs; expectations come from the rule book (§1, §3)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.image import Image, ImageConfig
from sitelens.inventory.builder import build_inventory
from sitelens.inventory.model import Identity
from sitelens.inventory.syspath import compute_sys_path
from tests.helpers import fs_from_spec

ROOT = Identity("root", 0, 0, [0], "root", "/root", True)
ELF = b"\x7fELF" + b"\0" * 60


def _stdlib(prefix: str, libdir: str, ver: str, platlib: str = "lib") -> list:  # type: ignore[type-arg]
    base = f"{prefix}/{libdir}/python{ver}"
    return [
        File(f"{base}/os.py", b"#\n"),
        Dir(f"{base}/lib-dynload"),
        File(
            f"{base}/_sysconfigdata__linux_x86_64-linux-gnu.py",
            f"build_time_vars = {{'prefix': '{prefix}', 'exec_prefix': '{prefix}', "
            f"'PLATLIBDIR': '{platlib}', 'ABIFLAGS': ''}}\n".encode(),
        ),
    ]


def _inv(entries: list, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def,type-arg]
    fs = fs_from_spec(ImageSpec([LayerSpec(entries)]))
    config = ImageConfig(env=env or {"PATH": "/usr/bin"})
    return fs, config, build_inventory(fs, Image("t", None, config, []), identities=[ROOT])


def test_pyinv_fedora_layout_and_usr_local_rule() -> None:
    sites = [
        "/usr/local/lib64/python3.12/site-packages",
        "/usr/local/lib/python3.12/site-packages",
        "/usr/lib64/python3.12/site-packages",
        "/usr/lib/python3.12/site-packages",
        "/root/.local/lib/python3.12/site-packages",
    ]
    entries = [
        File("/etc/os-release", b'ID=fedora\nVERSION_ID="39"\n'),
        File("/usr/bin/python3.12", ELF, 0o755),
        Symlink("/usr/bin/python3", "python3.12"),
        *_stdlib("/usr", "lib64", "3.12", "lib64"),
        *[Dir(s) for s in sites],
    ]
    fs, config, inv = _inv(entries)
    (env,) = inv.environments
    i = env.interpreter
    assert (i.flavor, i.platlibdir, i.prefix, i.version) == ("fedora", "lib64", "/usr", "3.12")
    assert [e.path for e in env.sys_path["root"]] == [
        "/usr/lib64/python312.zip",
        "/usr/lib64/python3.12",
        "/usr/lib64/python3.12/lib-dynload",
        sites[4],
        sites[0],
        sites[1],
        sites[2],
        sites[3],
    ]
    no_user = compute_sys_path(fs, i, env.executable, ROOT, config, ["-s"])
    assert [e.path for e in no_user.entries][3:] == [sites[2], sites[3]]  # /usr/local vanishes
    rpm_build = ImageConfig(env={"PATH": "/usr/bin", "RPM_BUILD_ROOT": "/x"})
    sp = compute_sys_path(fs, i, env.executable, ROOT, rpm_build)
    assert "/usr/local/lib/python3.12/site-packages" not in sp.paths


def test_pyinv_alpine_conda_scl_pyenv() -> None:
    entries = [
        File("/etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
        File("/usr/bin/python3.11", ELF, 0o755),
        *_stdlib("/usr", "lib", "3.11"),
        File("/usr/lib/python3.11/EXTERNALLY-MANAGED", b"[externally-managed]\n"),
        Dir("/usr/lib/python3.11/site-packages"),
        # conda base + an env
        File("/opt/conda/bin/python3.11", ELF, 0o755),
        Symlink("/opt/conda/bin/python", "python3.11"),
        *_stdlib("/opt/conda", "lib", "3.11"),
        Dir("/opt/conda/lib/python3.11/site-packages"),
        Dir("/opt/conda/conda-meta"),
        File("/opt/conda/envs/app/bin/python", ELF, 0o755),
        *_stdlib("/opt/conda/envs/app", "lib", "3.10"),
        Dir("/opt/conda/envs/app/conda-meta"),
        # SCL
        File("/opt/rh/rh-python38/root/usr/bin/python3.8", ELF, 0o755),
        *_stdlib("/opt/rh/rh-python38/root/usr", "lib64", "3.8", "lib64"),
        Dir("/opt/rh/rh-python38/root/usr/lib/python3.8/site-packages"),
        # pyenv: a real build and a shim script (not an interpreter)
        File("/root/.pyenv/versions/3.9.18/bin/python3.9", ELF, 0o755),
        *_stdlib("/root/.pyenv/versions/3.9.18", "lib", "3.9"),
        File("/root/.pyenv/shims/python", b"#!/usr/bin/env bash\nexec pyenv exec python\n", 0o755),
        File("/usr/bin/python3-config", b"#!/bin/sh\n", 0o755),
    ]
    _fs, _config, inv = _inv(entries)
    by = {i.real_path: i for i in inv.interpreters}
    assert set(by) == {
        "/usr/bin/python3.11",
        "/opt/conda/bin/python3.11",
        "/opt/conda/envs/app/bin/python",
        "/opt/rh/rh-python38/root/usr/bin/python3.8",
        "/root/.pyenv/versions/3.9.18/bin/python3.9",
    }
    alp = by["/usr/bin/python3.11"]
    assert alp.flavor == "alpine" and alp.externally_managed
    assert by["/opt/conda/bin/python3.11"].flavor == "conda"
    app = by["/opt/conda/envs/app/bin/python"]
    assert (app.version, app.prefix, app.flavor) == ("3.10", "/opt/conda/envs/app", "conda")
    scl = by["/opt/rh/rh-python38/root/usr/bin/python3.8"]
    assert (scl.flavor, scl.platlibdir, scl.prefix) == ("scl", "lib64", "/opt/rh/rh-python38/root/usr")
    assert by["/root/.pyenv/versions/3.9.18/bin/python3.9"].flavor == "upstream"
    kinds = {e.executable: e.kind for e in inv.environments}
    assert kinds["/opt/conda/bin/python3.11"] == "conda" and kinds["/usr/bin/python3.11"] == "system"
    envs = {e.executable: e for e in inv.environments}
    scl_env = envs["/opt/rh/rh-python38/root/usr/bin/python3.8"]
    assert [e.path for e in scl_env.sys_path["root"]][-1] == "/opt/rh/rh-python38/root/usr/lib/python3.8/site-packages"
    assert [e.path for e in envs["/usr/bin/python3.11"].sys_path["root"]][-1] == "/usr/lib/python3.11/site-packages"
