"""Fedora / RHEL layout (``fixtures/fedora_root.py``): lib64 platlib beside lib purelib, Fedora's
``/usr/local`` site dirs, RPMs built by rpmbuild and installed by ``rpm --root``.

Two oracles: the root's own (re-laid, Fedora-patched) interpreter in a chroot, as each identity
with privileges dropped before exec, for ``sys.path``, ``module.__file__`` and
``importlib.metadata.version()``; and the host's ``rpm`` on the root's database for ``rpm -qa``,
``rpm -ql`` and ``rpm -V``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace

import pytest

import sitelens.checks  # noqa: F401  (registers every check)
from fixtures.debian_root import RootUnavailable, run_in_root
from sitelens.checks.base import REGISTRY, Context
from sitelens.findings import Finding
from sitelens.image import Image
from sitelens.inventory.builder import build_inventory
from sitelens.inventory.model import Identity
from sitelens.inventory.syspath import runtime_env
from tests.helpers import require_tool
from tests.inventory_py.test_pyinv_oracle import APP, ARB, PROBE, ROOT, Case, _predict

CASES = [
    Case("plain"),
    Case("nousersite", {"PYTHONNOUSERSITE": "1"}),
    Case("rpmbuild", {"RPM_BUILD_ROOT": "/builddir/build/BUILDROOT"}),
]
EXES = ["/usr/bin/python3", "/usr/bin/python3.11", "/opt/venv-sys/bin/python", "/usr/libexec/platform-python"]
IDENTS = [ROOT, APP, ARB]
LOCAL = "/usr/local/lib/python3.11/site-packages"
LOCAL64 = "/usr/local/lib64/python3.11/site-packages"


@pytest.fixture(scope="module")
def fedora():  # type: ignore[no-untyped-def]
    require_tool("mmdebstrap", "chroot", "rpmbuild", "rpm")
    from fixtures.fedora_root import FedoraRootUnavailable, fedora_root
    from fixtures.python_roots import root_filesystem

    try:
        root = fedora_root()
    except (RootUnavailable, FedoraRootUnavailable) as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return root, root_filesystem(root, "fedora")


def _real(root, case: Case, exe: str, ident: Identity, flags: tuple[str, ...] = ()) -> dict:  # type: ignore[no-untyped-def]
    from fixtures.fedora_root import ORACLE_ENV, oracle_argv

    env = {**runtime_env(case.config(), ident), **ORACLE_ENV}
    proc = run_in_root(root, [*oracle_argv(exe, *flags), "-c", PROBE], userspec=f"{ident.uid}:{ident.gid}", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("flags", [(), ("-s",)], ids=["noflags", "-s"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("exe", EXES)
def test_fedora_prediction_equals_interpreter(fedora, case: Case, exe: str, flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    root, fs = fedora
    for ident in IDENTS:
        real = _real(root, case, exe, ident, flags)
        predicted = _predict(fs, case, exe, ident, flags)
        assert predicted == real, f"{exe} {flags} as {ident.name} ({case.name})"


def test_fedora_oracle_exercises_the_layout(fedora) -> None:  # type: ignore[no-untyped-def]
    """The facts the comparisons rest on, from the interpreter itself (a broken fixture would
    make the oracle vacuous)."""
    root, fs = fedora
    plain = _real(root, CASES[0], "/usr/bin/python3", ARB)
    stdlib = ["/usr/lib64/python311.zip", "/usr/lib64/python3.11", "/usr/lib64/python3.11/lib-dynload"]
    assert plain["path"][:3] == stdlib
    rpm_sites = ["/usr/lib64/python3.11/site-packages", "/usr/lib/python3.11/site-packages"]
    assert plain["path"][3:] == [LOCAL64, LOCAL, *rpm_sites]
    assert plain["versions"]["idna"] == "3.6"  # pip's /usr/local copy shadows the rpm's 3.7
    assert plain["files"]["markupsafe"] == f"{LOCAL64}/markupsafe/__init__.py"  # platlib first
    assert plain["files"]["six"] == "/usr/lib/python3.11/site-packages/six.py"
    for flags, case in ((("-s",), CASES[0]), ((), CASES[1]), ((), CASES[2])):
        gone = _real(root, case, "/usr/bin/python3", ROOT, flags)
        assert LOCAL not in gone["path"] and gone["versions"]["idna"] == "3.7", (flags, case.name)
        assert gone["files"]["markupsafe"] == "/usr/lib64/python3.11/site-packages/markupsafe/__init__.py"
    # sys.prefix is the venv, yet Fedora's site still adds /usr/local (after the venv's own dirs)
    venv = _real(root, CASES[0], "/opt/venv-sys/bin/python", ROOT)
    assert venv["path"][3:] == [
        "/opt/venv-sys/lib64/python3.11/site-packages",
        "/opt/venv-sys/lib/python3.11/site-packages",
        LOCAL64,
        LOCAL,
        "/usr/lib64/python3.11/site-packages",
        "/usr/lib/python3.11/site-packages",
    ]
    inv = build_inventory(fs, Image("fedora", None, CASES[0].config(), []), identities=[ROOT])
    interp = next(i for i in inv.interpreters if i.real_path == "/usr/bin/python3.11")
    assert (interp.flavor, interp.platlibdir, interp.prefix, interp.stdlib) == (
        "fedora", "lib64", "/usr", "/usr/lib64/python3.11")


# ---- rpm: the installer's own records -----------------------------------------------------------

def _audit(fs) -> tuple:  # type: ignore[no-untyped-def]
    image = Image("fedora", None, CASES[0].config(), [])
    inv = build_inventory(fs, image)
    ctx = Context(fs, inv, image, [])
    findings: list[Finding] = []
    for reg in REGISTRY:
        if set(reg.rules) & {"SL101", "SL103", "SL104", "SL106"}:
            findings.extend(reg.fn(ctx))
    return inv, findings


def test_rpm_inventory_equals_rpm_qa_and_ql(fedora) -> None:  # type: ignore[no-untyped-def]
    from fixtures.fedora_root import RPMDB, rpm_cmd

    root, fs = fedora
    inv, _ = _audit(fs)
    (db,) = inv.package_dbs
    assert db.manager == "rpm" and db.path == f"{RPMDB}/rpmdb.sqlite"
    qa = rpm_cmd(root, "-qa", "--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\\n").stdout.split("\n")
    assert sorted(filter(None, qa)) == sorted(f"{p.name} {p.version} {p.arch}" for p in db.packages)
    for pkg in db.packages:
        ql = rpm_cmd(root, "-ql", pkg.name).stdout.split()
        assert sorted(ql) == sorted(f.path for f in pkg.files), pkg.name
    algos = {p.name: {f.algo for f in p.files if not f.is_dir and f.digest} for p in db.packages}
    assert algos["python3-six"] == {"sha256"} and algos["python3-markupsafe"] == {"md5"}


def test_rpm_verify_agrees_with_sl103(fedora) -> None:  # type: ignore[no-untyped-def]
    """``rpm -Va`` digest failures (``5``) are exactly SL103's changed files: the planted edits in
    a sha256 and an md5 package. The mtime-only change (``.......T.``) stays silent."""
    from fixtures.fedora_root import rpm_cmd

    root, fs = fedora
    _, findings = _audit(fs)
    verify = rpm_cmd(root, "-Va").stdout
    rows = [re.match(r"^(\S{9})\s+(?:[cdglr] )?\s*(/\S+)$", line) for line in verify.splitlines()]
    digest_failed = sorted(m.group(2) for m in rows if m and "5" in m.group(1))
    mtime_only = sorted(m.group(2) for m in rows if m and m.group(1) == ".......T.")
    assert digest_failed == [
        "/usr/lib/python3.11/site-packages/six.py",
        "/usr/lib64/python3.11/site-packages/markupsafe/_native.py",
    ]
    assert mtime_only == ["/usr/lib64/python3.11/site-packages/markupsafe/__init__.py"]
    sl103 = [f for f in findings if f.rule == "SL103"]
    assert sorted(p for f in sl103 for p in f.evidence["changed"]) == digest_failed
    assert {f.evidence["owners"][0] for f in sl103} == {"rpm:python3-six", "rpm:python3-markupsafe"}
    assert not any(f.evidence["deleted"] for f in sl103)


def test_local_pip_copy_shadows_rpm_copy(fedora) -> None:  # type: ignore[no-untyped-def]
    root, fs = fedora
    _, findings = _audit(fs)
    (sl101,) = [f for f in findings if f.rule == "SL101" and f.evidence["distribution"] == "idna"
                and f.evidence.get("interpreter") in (None, "/usr/bin/python3.11", "/usr/bin/python3")]
    assert sl101.evidence["versions"] == ["3.6", "3.7"]
    assert sl101.evidence["owners"][1] == "rpm:python3-idna"
    # pip's MarkupSafe in /usr/local/lib64 is the rpm's version: reported, at low severity
    ms = [f for f in findings if f.rule == "SL101" and f.evidence["distribution"] == "markupsafe"
          and f.evidence.get("interpreter") in (None, "/usr/bin/python3.11", "/usr/bin/python3")]
    assert [(f.severity, f.evidence["versions"]) for f in ms] == [("low", ["2.1.5", "2.1.5"])]
    assert ms[0].evidence["owners"][1] == "rpm:python3-markupsafe"
    # six exists once for this interpreter: no shadowing reported
    assert not [f for f in findings if f.rule == "SL101" and f.evidence["distribution"] == "six"]


# ---- Software Collections: the enable script's environment -------------------------------------

SCL_PY = "/opt/rh/rh-python311/root/usr/bin/python3"
RUN = 'exec python3 -X frozen_modules=off -c "$1"'
SCL_PATH = "/opt/rh/rh-python311/root/usr/local/bin:/opt/rh/rh-python311/root/usr/bin"
SCL_LIBS = "/opt/rh/rh-python311/root/usr/lib64"
SCL_ENTRYPOINTS = {
    "bash-source": ({}, ["bash", "-c", f"source /opt/rh/rh-python311/enable && {RUN}"]),
    "sh-dot": ({}, ["sh", "-c", f"cd /tmp; . /opt/rh/rh-python311/enable; {RUN}"]),
    "bash-env": ({"BASH_ENV": "/opt/app-root/etc/scl_enable"}, ["bash", "-c", RUN]),
    "image-env": ({"PATH": f"{SCL_PATH}:/usr/bin:/bin", "LD_LIBRARY_PATH": SCL_LIBS},
                  ["python3", "-X", "frozen_modules=off", "-c", "$1"]),
}


@pytest.mark.parametrize("name", list(SCL_ENTRYPOINTS))
def test_scl_entrypoint_runs_the_collection_python(fedora, name: str) -> None:  # type: ignore[no-untyped-def]
    """The entrypoint's shell sources the collection's enable script (or the image's ENV was set
    from it): sitelens names the collection's interpreter and its import path, and the real shell
    in the chroot runs exactly that one."""
    from fixtures.fedora_root import ORACLE_ENV

    root, fs = fedora
    env, cmd = SCL_ENTRYPOINTS[name]
    case = Case(name, env)
    config = case.config()
    inv = build_inventory(fs, Image("fedora", None, replace(config, cmd=cmd), []), identities=[ROOT])
    ep = inv.entrypoint
    assert ep is not None and ep.interpreter is not None
    assert fs.resolve(ep.interpreter) == "/opt/rh/rh-python311/root/usr/bin/python3.11"
    assert ep.flags == [] and ep.script == "-c"
    for ident in IDENTS:
        argv = cmd if cmd[0] != "python3" else ["python3", *cmd[1:4], PROBE]
        extra = ["bash", PROBE] if cmd[0] != "python3" else []
        proc = run_in_root(root, [*argv, *extra], userspec=f"{ident.uid}:{ident.gid}",
                           env={**runtime_env(config, ident), **ORACLE_ENV})
        assert proc.returncode == 0, proc.stderr
        real = json.loads(proc.stdout)
        assert real["files"]["six"] == "/opt/rh/rh-python311/root/usr/lib/python3.11/site-packages/six.py"
        assert _predict(fs, case, ep.interpreter, ident) == real, f"{name} as {ident.name}"


@pytest.mark.parametrize("name", ["bash-source", "sh-dot", "bash-env"])
def test_scl_enable_environment_equals_the_shell(fedora, name: str) -> None:  # type: ignore[no-untyped-def]
    root, fs = fedora
    env, cmd = SCL_ENTRYPOINTS[name]
    config = replace(Case(name, env).config(), cmd=[*cmd[:2], cmd[2].replace(RUN, "exec env")])
    ep = build_inventory(fs, Image("fedora", None, config, []), identities=[ROOT]).entrypoint
    assert ep is not None and ep.interpreter is None
    base = runtime_env(config, ROOT)
    proc = run_in_root(root, config.cmd or [], env=base)
    real = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert ep.env["PATH"].startswith(SCL_PATH + ":") and ep.env["LD_LIBRARY_PATH"] == SCL_LIBS
    assert {k: real.get(k) for k in ep.env} == ep.env
    changed = {k for k, v in real.items() if k not in ("PWD", "OLDPWD", "SHLVL", "_") and base.get(k) != v}
    assert changed == set(ep.env)


def test_scl_enable_and_scl_source_from_spec(fedora) -> None:  # type: ignore[no-untyped-def]
    """scl-utils (``scl``, ``scl_source``) cannot be installed here: these forms are checked
    against what their documentation says they do, not against the tools."""
    _, fs = fedora
    for cmd in (
        ["scl", "enable", "rh-python311", "--", "python3", "-s", "app.py"],
        ["scl", "enable", "rh-python311", "python3 -s app.py"],
        ["bash", "-c", "source scl_source enable rh-python311 && exec python3 -s app.py"],
    ):
        config = replace(Case("spec").config(), cmd=cmd)
        ep = build_inventory(fs, Image("fedora", None, config, []), identities=[ROOT]).entrypoint
        assert ep is not None and ep.interpreter == SCL_PY, cmd
        assert ep.flags == ["-s"] and ep.script == "app.py"
        assert ep.env["LD_LIBRARY_PATH"] == SCL_LIBS
    # near-miss: without the enable script PATH finds the system python
    config = replace(Case("spec").config(), cmd=["bash", "-c", "exec python3 app.py"])
    ep = build_inventory(fs, Image("fedora", None, config, []), identities=[ROOT]).entrypoint
    assert ep is not None and ep.interpreter == "/usr/bin/python3" and ep.env == {}


@pytest.mark.parametrize("cmd, fires", [
    (["python3", "-s", "app.py"], True),  # planted: /usr/local's idna 3.6 is gone under -s
    (["python3", "app.py"], False),  # near-miss: every identity imports 3.6
    (["/opt/venv-sys/bin/python", "-s", "app.py"], False),  # near-miss: the venv's 3.7 wins either way
], ids=["python3 -s", "python3", "venv -s"])
def test_sl102_fedora_local_site_vanishes_under_s(fedora, cmd: list[str], fires: bool) -> None:  # type: ignore[no-untyped-def]
    """The entrypoint runs ``python3`` (a symlink to the python3.11 the inventory knows) with
    ``-s``: Fedora's /usr/local site dirs are off, so idna is the rpm's 3.7, not pip's 3.6 — as
    the real interpreter showed in ``test_fedora_oracle_exercises_the_layout``."""
    root, fs = fedora
    image = Image("fedora", None, replace(CASES[0].config(), cmd=cmd), [])
    ctx = Context(fs, build_inventory(fs, image), image, [])
    found = [f for reg in REGISTRY if "SL102" in reg.rules for f in reg.fn(ctx)]
    idna = [f for f in found if f.evidence["distribution"] == "idna"]
    if not fires:
        assert idna == []
        return
    (f,) = idna
    assert f.evidence["identity"]["root"] == f"{LOCAL}/idna/__init__.py"
    assert f.evidence["identity"]["root with -s"] == "/usr/lib/python3.11/site-packages/idna/__init__.py"
    assert "rpm:python3-idna" in f.message
    real = _real(root, CASES[0], "/usr/bin/python3", ROOT, ("-s",))
    assert real["files"]["idna"] == "/usr/lib/python3.11/site-packages/idna/__init__.py"
