"""Oracle: the import path sitelens predicts equals what the root's own interpreter prints.

Each case runs a real interpreter of the fixture root in a chroot, as the identity (dropped before
exec), with the image config's environment and working directory, and compares ``sys.path[1:]``,
``importlib.metadata.version`` and ``module.__file__`` with sitelens's prediction from files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pytest
from packaging.utils import canonicalize_name

from fixtures.debian_root import RootUnavailable, run_in_root
from sitelens.image import Image, ImageConfig
from sitelens.inventory.builder import build_inventory, environment_for
from sitelens.inventory.distributions import DirScanner
from sitelens.inventory.imports import ImportResolver, metadata_version
from sitelens.inventory.model import Identity
from sitelens.inventory.syspath import compute_sys_path, runtime_env
from sitelens.permissions import Cred
from tests.helpers import require_tool

PATH = "/usr/local/bin:/usr/bin:/bin"
NAMES = ["jinja2", "six", "idna", "iniconfig", "markupsafe", "pip", "xonly-pkg"]
MODULES = [
    "jinja2",
    "six",
    "idna",
    "iniconfig",
    "markupsafe",
    "extramod",
    "relmod",
    "nestedmod",
    "tildemod",
    "ppmod",
    "xonlymod",
]
PROBE = f"""
import importlib, importlib.metadata, json, sys
out = {{"path": sys.path[1:] if sys.path[:1] == [""] else sys.path, "versions": {{}}, "files": {{}}}}
for n in {NAMES!r}:
    try:
        out["versions"][n] = importlib.metadata.version(n)
    except importlib.metadata.PackageNotFoundError:
        out["versions"][n] = None
for m in {MODULES!r}:
    try:
        out["files"][m] = importlib.import_module(m).__file__
    except ImportError:
        out["files"][m] = None
print(json.dumps(out))
"""

ROOT = Identity("root", 0, 0, [0], "root", "/root", True)
APP = Identity("image-user", 1000, 1000, [], "app", "/home/app", True)
APP_NOHOME = Identity("app-nohome", 1000, 1000, [], "app", None, True)
ARB = Identity("arbitrary-uid", 1000620000, 0, [0], None, "/", False)
ARB_NOHOME = Identity("arbitrary-nohome", 1000620000, 0, [0], None, None, False)


@dataclass(frozen=True)
class Case:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None

    def config(self) -> ImageConfig:
        return ImageConfig(env={"PATH": PATH, **self.env}, workdir=self.workdir)


CASES = [
    Case("plain"),
    Case("userbase", {"PYTHONUSERBASE": "/opt/userbase"}),
    Case("pythonpath-cwd", {"PYTHONPATH": "/opt/pp:/usr/lib/python3.11:"}, workdir="/opt/extra"),
    Case("home-unset-srv", workdir="/srv"),
    Case("home-empty", {"HOME": ""}),
    Case("nousersite", {"PYTHONNOUSERSITE": "1"}),
    Case("home-root", {"HOME": "/root"}),
    Case("pythonhome", {"PYTHONHOME": "/usr"}),
]
EXES = [
    "/usr/bin/python3",
    "/usr/local/bin/python3",
    "/opt/venv/bin/python",
    "/opt/venv-sys/bin/python",
    "/opt/venv-gone/bin/python",
    "/opt/venv-locked/bin/python",
    "/opt/pthpy/bin/python3.11",
]
IDENTS = [ROOT, APP, APP_NOHOME, ARB, ARB_NOHOME]


@pytest.fixture(scope="module")
def pyroot():  # type: ignore[no-untyped-def]
    require_tool("mmdebstrap", "chroot", "tar")
    from fixtures.python_roots import PythonRootUnavailable, python_root, root_filesystem

    try:
        root = python_root()
    except (RootUnavailable, PythonRootUnavailable) as exc:
        # CI installs everything this needs: there a missing root is a broken set-up, not a skip.
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return root, root_filesystem(root)


def _predict(fs, case: Case, exe: str, ident: Identity, flags: tuple[str, ...] = ()) -> dict:  # type: ignore[no-untyped-def]
    config = case.config()
    inv = build_inventory(fs, Image("fixture", None, config, []), identities=[ident])
    env = environment_for(inv, exe, fs)
    assert env is not None, f"no environment found for {exe}"
    sp = None
    if flags:
        sp = compute_sys_path(fs, env.interpreter, exe, ident, config, list(flags))
        env.sys_path[ident.name] = sp.entries
        if sp.startup_error:
            env.startup_errors[ident.name] = sp.startup_error
        # the inventory scanned the dirs of the flag-less path; scan the ones the flags add
        scanned = {d.site_dir for d in env.distributions}
        scanner = DirScanner(fs)
        for e in sp.entries:
            if e.exists and e.path not in scanned:
                env.distributions.extend(scanner.scan(e.path))
    if ident.name in env.startup_errors:
        return {"startup_error": True}
    entries = env.sys_path[ident.name]
    cred = Cred.of(ident)
    declared = {d.metadata_path: d.version for d in env.distributions}
    versions = {n: metadata_version(fs, cred, entries, n, declared).version for n in NAMES}
    pth = sp.pth_imports if sp is not None else env.pth_imports.get(ident.name, [])
    resolver = ImportResolver(fs, cred, env.version, entries, pth, stdlib=env.interpreter.stdlib)
    files = {m: resolver.find(m).file for m in MODULES}
    return {"path": [e.path for e in entries], "versions": versions, "files": files}


def _real(root, case: Case, exe: str, ident: Identity, flags: tuple[str, ...] = ()) -> dict:  # type: ignore[no-untyped-def]
    env = runtime_env(case.config(), ident)
    proc = run_in_root(
        root, [exe, *flags, "-c", PROBE], userspec=f"{ident.uid}:{ident.gid}", env=env, cwd=case.workdir or "/"
    )
    if proc.returncode != 0 and "init_import_site" in proc.stderr:
        return {"startup_error": True}
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("exe", EXES)
def test_pyinv_prediction_equals_interpreter(pyroot, case: Case, exe: str) -> None:  # type: ignore[no-untyped-def]
    root, fs = pyroot
    if case.name == "pythonhome" and exe == "/usr/local/bin/python3":
        pytest.skip("Debian's stdlib cannot load under the upstream binary (no _csv): nothing to compare")
    for ident in IDENTS:
        real = _real(root, case, exe, ident)
        predicted = _predict(fs, case, exe, ident)
        assert predicted == real, f"{exe} as {ident.name} ({case.name})"


def test_pyinv_oracle_covers_the_interesting_paths(pyroot) -> None:  # type: ignore[no-untyped-def]
    """The fixture really exercises each rule (a broken fixture would make the oracle vacuous)."""
    root, fs = pyroot
    plain = CASES[0]
    sysroot = _real(root, plain, "/usr/bin/python3", ROOT)
    assert "/root/.local/lib/python3.11/site-packages" in sysroot["path"]
    assert sysroot["versions"]["jinja2"] == "3.1.4"  # /usr/local shadows Debian's 3.1.2
    assert sysroot["files"]["extramod"] == "/opt/extra/extramod.py"  # a .pth path line
    assert sysroot["files"]["nestedmod"] is None  # a .pth in a .pth-added dir is ignored
    tilde = _real(root, CASES[3], "/usr/bin/python3", ARB_NOHOME)
    assert "/srv/~/.local/lib/python3.11/site-packages" in tilde["path"]
    ub = _real(root, CASES[1], "/usr/bin/python3", ARB)
    assert ub["versions"]["iniconfig"] == "2.0.0"
    venv = _real(root, plain, "/opt/venv/bin/python", ROOT)
    assert "/usr/lib/python3/dist-packages" not in venv["path"]
    upstream = _real(root, plain, "/usr/local/bin/python3", ROOT)
    assert upstream["files"]["markupsafe"].endswith(".so") or "markupsafe/__init__" in upstream["files"]["markupsafe"]
    assert "/usr/local/lib/python3.11/site-packages" in upstream["path"]


FLAG_CASE = Case(
    "flags",
    {
        "PYTHONPATH": "/opt/extra-rel:/usr/lib/python3.11:/opt/extra-rel",
        "PYTHONUSERBASE": "/opt/userbase",
        "PYTHONNOUSERSITE": "1",
    },
    workdir="/srv",
)


@pytest.mark.parametrize("flags", [("-s",), ("-E",), ("-I",), ("-sE",), ("-S",)], ids="".join)
@pytest.mark.parametrize(
    "exe", ["/usr/bin/python3", "/opt/venv-sys/bin/python", "/usr/local/bin/python3", "/opt/pthpy/bin/python3.11"]
)
def test_pyinv_flags_match_interpreter(pyroot, exe: str, flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    root, fs = pyroot
    for ident in (ROOT, ARB_NOHOME):
        real = _real(root, FLAG_CASE, exe, ident, flags)
        predicted = _predict(fs, FLAG_CASE, exe, ident, flags)
        assert predicted.get("path") == real.get("path"), f"{exe} {flags} as {ident.name}"
        assert predicted.get("versions") == real.get("versions")


# ---- distributions: pip's own view and dpkg's ownership ------------------------------------


def _pip_inspect(root, exe: str) -> list[dict]:  # type: ignore[no-untyped-def]
    proc = run_in_root(root, [exe, "-m", "pip", "inspect"], env={"PATH": PATH, "HOME": "/root"})
    assert proc.returncode == 0, proc.stderr
    out = []
    for d in json.loads(proc.stdout)["installed"]:
        out.append(
            {
                "name": canonicalize_name(d["metadata"]["name"]),
                "version": d["metadata"]["version"],
                "location": d["metadata_location"],
                "installer": d.get("installer") or None,
                "requested": d.get("requested"),
            }
        )
    return sorted(out, key=lambda x: x["name"])


def _predicted_first(env, ident: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """pip keeps the first distribution per canonical name in sys.path order."""
    seen: dict[str, dict] = {}
    for entry in env.sys_path[ident]:
        for d in env.distributions:
            if d.site_dir != entry.path or d.name in seen or d.kind == "egg-link":
                continue
            seen[d.name] = {
                "name": d.name,
                "version": d.version,
                "location": d.metadata_path,
                "installer": None if d.owner_package or d.installer == "unknown" else d.installer,
                # pip reports REQUESTED only for a lower-case ".dist-info" suffix
                "requested": d.requested if d.metadata_path.endswith(".dist-info") else None,
            }
    return sorted(seen.values(), key=lambda x: x["name"])


@pytest.mark.parametrize(
    "exe", ["/usr/bin/python3", "/usr/local/bin/python3", "/opt/venv/bin/python", "/opt/venv-sys/bin/python"]
)
def test_pyinv_distributions_equal_pip_inspect(pyroot, exe: str) -> None:  # type: ignore[no-untyped-def]
    root, fs = pyroot
    config = ImageConfig(env={"PATH": PATH, "HOME": "/root"})
    inv = build_inventory(fs, Image("fixture", None, config, []), identities=[ROOT])
    env = environment_for(inv, exe, fs)
    assert env is not None
    real = _pip_inspect(root, exe)
    assert len(real) >= 4
    assert _predicted_first(env, "root") == real


def test_pyinv_owner_package_equals_dpkg_query(pyroot) -> None:  # type: ignore[no-untyped-def]
    root, fs = pyroot
    inv = build_inventory(fs, Image("fixture", None, CASES[0].config(), []), identities=[ROOT])
    if not inv.package_dbs:
        pytest.skip("the OS package database reader (inventory.ospkg) is not available")
    dists = {d.metadata_path: d for e in inv.environments for d in e.distributions}
    assert len(dists) > 10
    owned = 0
    for path, d in sorted(dists.items()):
        proc = run_in_root(root, ["dpkg-query", "-S", path], env={"PATH": PATH})
        if proc.returncode == 0:
            owned += 1
            pkg = proc.stdout.split(":", 1)[0].strip()
            assert d.owner_package == f"dpkg:{pkg}" and d.installer == "dpkg", path
        else:
            assert d.owner_package is None, path
            # everything else in the fixture came from pip, except the hand-made /opt/xonly one
            assert d.installer == ("unknown" if path.startswith("/opt/xonly/") else "pip"), path
    assert owned >= 5


def test_pyinv_locked_venv_cannot_start_for_others(pyroot) -> None:  # type: ignore[no-untyped-def]
    """The rule book says an unreadable pyvenv.cfg makes the venv silently not apply; the real
    3.11 interpreter dies in site.venv() instead. Both the oracle and sitelens must say so."""
    root, fs = pyroot
    exe = "/opt/venv-locked/bin/python"
    assert _real(root, CASES[0], exe, ARB) == {"startup_error": True}
    assert "path" in _real(root, CASES[0], exe, ROOT)
    inv = build_inventory(fs, Image("fixture", None, CASES[0].config(), []), identities=[ROOT, ARB])
    env = environment_for(inv, exe, fs)
    assert env is not None and set(env.startup_errors) == {"arbitrary-uid"}
    assert "pyvenv.cfg" in env.startup_errors["arbitrary-uid"]


def test_pyinv_root_inventory_json_follows_the_contract(pyroot) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    import jsonschema

    import sitelens.report
    from sitelens.report.inventory import inventory_document

    _root, fs = pyroot
    inv = build_inventory(fs, Image("fixture", None, CASES[0].config(), []))
    doc = json.loads(json.dumps(inventory_document(inv, None)))
    schema = json.loads((Path(sitelens.report.__file__).parent / "schema.json").read_text())
    jsonschema.validate(doc["environments"], {"$defs": schema.get("$defs", {}), **schema["properties"]["environments"]})
    kinds = sorted({e["kind"] for e in doc["environments"]})
    assert kinds == ["system", "venv"]
    assert {e["interpreter"] for e in doc["environments"]} >= {"/usr/bin/python3.11", "/opt/venv/bin/python"}
    gone = next(e for e in doc["environments"] if e["interpreter"] == "/opt/venv-gone/bin/python")
    assert any("does not exist" in p for p in gone["venv"]["problems"])
