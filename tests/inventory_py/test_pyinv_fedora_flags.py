"""``-E`` and ``-I`` on the Fedora layout, confirmed by the root's own libpython with Fedora's
PLATLIBDIR (``fixtures/fedora_flags.py``), in a chroot as each identity with privileges dropped
before exec: which dirs ``sys.path`` holds and which copy ``import`` takes, against sitelens's
``compute_sys_path`` with the same flags."""

from __future__ import annotations

import json
import os

import pytest

from fixtures.debian_root import RootUnavailable, run_in_root
from sitelens.inventory.model import Identity
from sitelens.inventory.syspath import runtime_env
from tests.helpers import require_tool
from tests.inventory_py.test_pyinv_fedora import EXES, IDENTS, LOCAL
from tests.inventory_py.test_pyinv_oracle import APP, ARB, PROBE, ROOT, Case, _predict

CASES = [
    Case("plain"),
    Case("nousersite", {"PYTHONNOUSERSITE": "1"}),
    # the rpm's noarch site first on PYTHONPATH: its idna 3.7 and six win while the env counts
    Case("pythonpath", {"PYTHONPATH": "/usr/lib/python3.11/site-packages"}),
    Case("rpmbuild", {"RPM_BUILD_ROOT": "/builddir/build/BUILDROOT"}),
]
FLAGS = [(), ("-s",), ("-E",), ("-I",), ("-E", "-s")]
RPM_SITE = "/usr/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def flagged():  # type: ignore[no-untyped-def]
    require_tool("mmdebstrap", "chroot", "rpmbuild", "rpm", "gcc")
    from fixtures.fedora_flags import flags_root
    from fixtures.fedora_root import FedoraRootUnavailable
    from fixtures.python_roots import root_filesystem

    try:
        root = flags_root()
    except (RootUnavailable, FedoraRootUnavailable) as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return root, root_filesystem(root, "fedora")


def _launch(root, case: Case, exe: str, ident: Identity, flags: tuple[str, ...], *args: str) -> dict:  # type: ignore[no-untyped-def]
    from fixtures.fedora_flags import launcher_argv

    proc = run_in_root(root, [*launcher_argv(exe, *flags), *args], userspec=f"{ident.uid}:{ident.gid}",
                       env=runtime_env(case.config(), ident))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: "".join(f) or "noflags")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_flags_prediction_equals_interpreter(flagged, case: Case, flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    root, fs = flagged
    for exe in EXES:
        for ident in IDENTS:
            real = _launch(root, case, exe, ident, flags, "-c", PROBE)
            assert _predict(fs, case, exe, ident, flags) == real, f"{exe} {flags} as {ident.name} ({case.name})"


@pytest.mark.parametrize("flags", [(), ("-s",)], ids=["noflags", "-s"])
def test_launcher_is_the_plain_oracle_where_both_run(flagged, flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Where PYTHONPLATLIBDIR still counts, the launcher and the binary agree: the launcher
    changes nothing but the compile-time platlibdir."""
    from fixtures.fedora_root import ORACLE_ENV, oracle_argv

    root, _ = flagged
    for case in CASES:
        for ident in IDENTS:
            env = {**runtime_env(case.config(), ident), **ORACLE_ENV}
            proc = run_in_root(root, [*oracle_argv("/usr/bin/python3", *flags), "-c", PROBE],
                               userspec=f"{ident.uid}:{ident.gid}", env=env)
            assert proc.returncode == 0, proc.stderr
            assert json.loads(proc.stdout) == _launch(root, case, "/usr/bin/python3", ident, flags, "-c", PROBE)


def test_what_E_and_I_do(flagged) -> None:  # type: ignore[no-untyped-def]
    """The facts the comparisons rest on, from the interpreter itself."""
    from fixtures.fedora_flags import SCRIPT, SCRIPT_DIR, USER_SITE

    root, _ = flagged
    exe = "/usr/bin/python3"
    pp, nouser = CASES[2], CASES[1]
    # PYTHONPATH counts without flags and is ignored under -E and -I
    assert _launch(root, pp, exe, ROOT, (), "-c", PROBE)["files"]["idna"] == f"{RPM_SITE}/idna/__init__.py"
    assert _launch(root, pp, exe, ROOT, ("-E",), "-c", PROBE)["files"]["idna"] == f"{LOCAL}/idna/__init__.py"
    assert _launch(root, pp, exe, ROOT, ("-I",), "-c", PROBE)["files"]["idna"] == f"{RPM_SITE}/idna/__init__.py"
    # -E ignores PYTHONNOUSERSITE: the user site and Fedora's /usr/local come back
    gone = _launch(root, nouser, exe, APP, (), "-c", PROBE)
    back = _launch(root, nouser, exe, APP, ("-E",), "-c", PROBE)
    assert USER_SITE not in gone["path"] and LOCAL not in gone["path"]
    assert back["path"].index(USER_SITE) < back["path"].index(LOCAL)
    assert back["files"]["six"] == f"{USER_SITE}/six.py"
    # -I: no user site, so no /usr/local either
    iso = _launch(root, CASES[0], exe, APP, ("-I",), "-c", PROBE)
    assert USER_SITE not in iso["path"] and LOCAL not in iso["path"]
    assert iso["files"]["six"] == f"{RPM_SITE}/six.py" and iso["files"]["idna"] == f"{RPM_SITE}/idna/__init__.py"
    # sys.path[0]: -c adds '' (the cwd) unless -I; a script adds its dir unless -I (safe path),
    # and a module beside the script shadows every site dir
    path0_code = "import sys, json; print(json.dumps(sys.path[0]))"
    assert _launch(root, CASES[0], exe, ARB, ("-I",), "-c", path0_code) == "/usr/lib64/python311.zip"
    assert _launch(root, CASES[0], exe, ARB, ("-E",), "-c", path0_code) == ""
    beside = f"{SCRIPT_DIR}/idna.py"
    for flags, path0, idna in (((), SCRIPT_DIR, beside), (("-E",), SCRIPT_DIR, beside),
                               (("-I",), "/usr/lib64/python311.zip", f"{RPM_SITE}/idna/__init__.py")):
        for ident in IDENTS:
            assert _launch(root, CASES[0], exe, ident, flags, SCRIPT) == {"path0": path0, "idna": idna}, (flags, ident)


@pytest.mark.parametrize("flags", [("-E",), ("-I",), ("-s",), ("-E", "-s")], ids=lambda f: "".join(f))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_entrypoint_flag_variants_equal_interpreter(flagged, case: Case, flags: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """What the checks use for ``<identity> with -E`` (SL102's comparison): the entrypoint's
    flags applied to the image's own config, per identity, as the interpreter has it."""
    from dataclasses import replace

    import sitelens.checks  # noqa: F401
    from sitelens.checks.base import Context
    from sitelens.checks.helpers import flag_variants
    from sitelens.image import Image
    from sitelens.inventory.builder import build_inventory, environment_for

    root, fs = flagged
    config = replace(case.config(), cmd=["python3", *flags, "app.py"])
    image = Image("fedora", None, config, [])
    inv = build_inventory(fs, image)
    env = environment_for(inv, "/usr/bin/python3", fs)
    assert env is not None
    variants = flag_variants(Context(fs, inv, image, []), env)
    tag = " ".join(sorted(flags))
    for ident in inv.identities:
        real = _launch(root, case, "/usr/bin/python3", ident, flags, "-c", PROBE)
        assert [e.path for e in variants[f"{ident.name} with {tag}"]] == real["path"], ident.name
