"""The import-truth fixture and oracle themselves: each case really behaves as issue 11 says, on
the real interpreter, so a broken fixture cannot make the comparison tests vacuous."""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from fixtures.import_truth import (
    CASES,
    EXT,
    IDENTITIES,
    INTERPRETERS,
    SITE_DEB,
    SITE_LOCAL,
    Built,
    agreement,
    all_modules,
    compare,
    run_as,
)
from sitelens.inventory.model import ModuleImport

SYS = "/usr/bin/python3"
OTHERS = ("image-user", "arbitrary-uid")


def rec(built: Built, module: str, ident: str, exe: str = SYS) -> dict[str, Any]:
    out = built.expected["results"][exe][ident]
    assert out is not None, f"{exe} did not run as {ident}"
    r: dict[str, Any] = out["modules"][module]
    return r


def _file(built: Built, path: str) -> Path:
    return built.tree / path.lstrip("/")


def _record_sha(built: Built, dist_info: str, rel: str) -> str:
    text = _file(built, dist_info + "/RECORD").read_text()
    for row in csv.reader(io.StringIO(text)):
        if row and row[0] == rel:
            return row[1]
    raise AssertionError(f"{rel} not in {dist_info}/RECORD")


def _sha256(path: Path) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()


def _mode(built: Built, path: str) -> int:
    return stat.S_IMODE(os.lstat(_file(built, path)).st_mode)


def _run(built: Built, ident: str, code: str, exe: str = SYS) -> tuple[int, str]:
    who = next(i for i in IDENTITIES if i.name == ident)
    env = built.expected["env"]
    proc = run_as(built.tree, who, [exe, "-c", code], env, built.expected["workdir"])
    return proc.returncode, proc.stdout + proc.stderr


def test_every_case_interpreter_and_identity_was_probed(built: Built) -> None:
    assert set(built.expected["results"]) == set(INTERPRETERS)
    for per in built.expected["results"].values():
        assert set(per) == {i.name for i in IDENTITIES}
    for case in CASES:
        assert case.name in built.expected["cases"]


def test_pip_overwrite_leaves_pips_bytes_under_dpkgs_metadata(built: Built) -> None:
    init = f"{SITE_DEB}/markupsafe/__init__.py"
    md5sums = _file(built, "/var/lib/dpkg/info/python3-markupsafe.md5sums").read_text()
    dpkg_md5 = next(ln.split()[0] for ln in md5sums.splitlines() if ln.endswith(init.lstrip("/")))
    assert hashlib.md5(_file(built, init).read_bytes()).hexdigest() != dpkg_md5
    assert _sha256(_file(built, init)) == _record_sha(built, f"{SITE_DEB}/MarkupSafe-2.1.5.dist-info",
                                                       "markupsafe/__init__.py")
    assert _file(built, f"{SITE_DEB}/MarkupSafe-2.1.2.egg-info").exists()
    # the whole dir is pip's (the expectation says mixed=False): every file is in 2.1.5's RECORD
    record = _file(built, f"{SITE_DEB}/MarkupSafe-2.1.5.dist-info/RECORD").read_text()
    pkg = _file(built, f"{SITE_DEB}/markupsafe")
    files = [p.relative_to(pkg.parent).as_posix() for p in pkg.rglob("*") if p.is_file()]
    assert len(files) > 5 and all(f"{f}," in record for f in files)
    for ident in ("root", *OTHERS):
        r = rec(built, "markupsafe", ident)
        assert (r["file"], r["code_version"]) == (init, "2.1.5")
        # two metadata dirs in one site dir: the answer depends on the listing order
        assert r["metadata_ambiguous"] == ["2.1.2", "2.1.5"]
        assert r["metadata_version"] in ("2.1.2", "2.1.5")


def test_mixed_tree_keeps_the_older_versions_module(built: Built) -> None:
    pkg = f"{SITE_LOCAL}/packaging"
    assert _file(built, f"{pkg}/__about__.py").exists()  # 21.3 only
    old_record = _file(built, f"{SITE_LOCAL}/packaging-21.3.dist-info/RECORD").read_text()
    new_record = _file(built, f"{SITE_LOCAL}/packaging-24.1.dist-info/RECORD").read_text()
    assert "packaging/__about__.py," in old_record and "packaging/__about__.py," not in new_record
    assert _sha256(_file(built, f"{pkg}/__init__.py")) == _record_sha(
        built, f"{SITE_LOCAL}/packaging-24.1.dist-info", "packaging/__init__.py")
    r = rec(built, "packaging", "arbitrary-uid")
    assert (r["file"], r["code_version"], r["metadata_ambiguous"]) == (f"{pkg}/__init__.py", "24.1", ["21.3", "24.1"])


def test_untraversable_package_dir_falls_through_to_the_os_copy(built: Built) -> None:
    assert _mode(built, "/opt/pp/yaml") == 0o700 and _mode(built, "/opt/pp") == 0o755
    root = rec(built, "yaml", "root")
    assert (root["file"], root["code_version"], root["metadata_version"]) == ("/opt/pp/yaml/__init__.py", "6.0.1",
                                                                              "6.0.1")
    for ident in OTHERS:
        r = rec(built, "yaml", ident)
        assert (r["file"], r["error"], r["code_version"]) == (f"{SITE_DEB}/yaml/__init__.py", None, "6.0")
        assert r["metadata_version"] is None  # the first PyYAML metadata dir, 0700, cannot be read


def test_untraversable_package_dir_alone_is_an_empty_namespace(built: Built) -> None:
    assert rec(built, "idna", "root")["file"] == "/opt/pp/idna/__init__.py"
    for ident in OTHERS:
        r = rec(built, "idna", ident)
        assert (r["file"], r["error"], r["namespace"]) == (None, None, ["/opt/pp/idna"])
    rc, out = _run(built, "arbitrary-uid", "from idna import encode")
    assert rc != 0 and "ImportError" in out
    assert _run(built, "root", "from idna import encode")[0] == 0


def test_unreadable_file_raises_permission_error(built: Built) -> None:
    assert _mode(built, "/opt/pp/six.py") == 0o600
    assert rec(built, "six", "root")["file"] == "/opt/pp/six.py"
    for exe in (SYS, "/opt/venv/bin/python"):
        for ident in OTHERS:
            # the venv's own readable six comes later on the path: a PermissionError never falls through
            r = rec(built, "six", ident, exe)
            assert (r["file"], r["error"]) == (None, "PermissionError")


def test_unlistable_pythonpath_dir_is_skipped(built: Built) -> None:
    assert _mode(built, "/opt/private") == 0o700
    root = rec(built, "jinja2", "root")
    assert (root["file"], root["code_version"]) == ("/opt/private/jinja2/__init__.py", "3.1.4")
    for ident in OTHERS:
        r = rec(built, "jinja2", ident)
        assert (r["file"], r["code_version"], r["metadata_version"]) == (f"{SITE_DEB}/jinja2/__init__.py", "3.1.2",
                                                                         "3.1.2")


def test_unreadable_pth_is_skipped(built: Built) -> None:
    pth = f"{SITE_LOCAL}/__editable__.pthedit-0.1.pth"
    assert _mode(built, pth) == 0o600
    assert rec(built, "pthedit", "root")["file"] == "/src/pthedit/src/pthedit/__init__.py"
    assert "/src/pthedit/src" in built.expected["results"][SYS]["root"]["sys_path"]
    for ident in OTHERS:
        assert rec(built, "pthedit", ident)["error"] == "ModuleNotFoundError"
        assert "/src/pthedit/src" not in built.expected["results"][SYS][ident]["sys_path"]


def test_unexecutable_venvs_are_null_for_the_others(built: Built) -> None:
    assert _mode(built, "/root") == 0o700 and _mode(built, "/opt/venv-build") == 0o700
    assert os.lstat(_file(built, "/opt/venv-build")).st_uid == 1001
    for exe in ("/root/venv/bin/python", "/opt/venv-build/bin/python"):
        per = built.expected["results"][exe]
        assert per["root"] is not None and per["image-user"] is None and per["arbitrary-uid"] is None
    assert rec(built, "six", "root", "/root/venv/bin/python")["file"] == "/opt/pp/six.py"
    # jinja2 is found in /opt/private, its own code then misses markupsafe: noted, not an import error
    j = rec(built, "jinja2", "root", "/root/venv/bin/python")
    assert (j["file"], j["error"]) == ("/opt/private/jinja2/__init__.py", None) and "markupsafe" in j["code_error"]


def test_editables_load_from_their_projects(built: Built) -> None:
    assert _file(built, f"{SITE_LOCAL}/eggedit.egg-link").read_text().startswith("/src/eggedit")
    assert _file(built, "/src/eggedit/eggedit.egg-info/PKG-INFO").exists()
    assert _file(built, f"{SITE_LOCAL}/__editable__.pathedit-0.1.pth").read_text().strip() == "/src/pathedit/src"
    venv_site = "/opt/venv/lib/python3.11/site-packages"
    assert _file(built, f"{venv_site}/__editable___finderedit_0_1_finder.py").exists()
    assert "import __editable___finderedit_0_1_finder" in _file(
        built, f"{venv_site}/__editable__.finderedit-0.1.pth").read_text()
    for ident in ("root", *OTHERS):
        assert rec(built, "eggedit", ident)["file"] == "/src/eggedit/eggedit/__init__.py"
        assert rec(built, "eggedit", ident)["metadata_version"] == "0.1"
        assert rec(built, "pathedit", ident)["file"] == "/src/pathedit/src/pathedit/__init__.py"
        fe = rec(built, "finderedit", ident, "/opt/venv/bin/python")
        assert (fe["file"], fe["metadata_version"]) == ("/src/finderedit/lib/finder_src/__init__.py", "0.1")
        assert rec(built, "finderedit", ident)["error"] == "ModuleNotFoundError"  # not in the system env


def test_namespace_split_across_two_site_dirs(built: Built) -> None:
    portions = [f"{SITE_LOCAL}/jaraco", f"{SITE_DEB}/jaraco"]
    for ident in ("root", *OTHERS):
        r = rec(built, "jaraco", ident)
        assert (r["file"], r["error"], r["namespace"]) == (None, None, portions)
    rc, out = _run(built, "arbitrary-uid", "import jaraco.classes, jaraco.functools as f; print(f.__file__)")
    assert rc == 0, out
    # (stderr carries site's complaints about the -nspkg.pth lines that raise, see below)
    assert f"{SITE_LOCAL}/jaraco/functools/__init__.py" in out.splitlines()


def test_extension_module_beats_the_py_of_the_same_name(built: Built) -> None:
    assert _file(built, f"{SITE_LOCAL}/fastmod.py").exists() and _file(built, f"{SITE_LOCAL}/stubext.py").exists()
    for ident in ("root", *OTHERS):
        r = rec(built, "fastmod", ident)
        assert (r["file"], r["code_version"]) == (f"{SITE_LOCAL}/fastmod{EXT}", "0.1")  # .py says "0.1-py"
        # a .so that cannot load (its PyInit has another name) is still chosen first: ImportError,
        # the .py is never tried
        assert rec(built, "stubext", ident)["error"] == "ImportError"
        assert rec(built, "stubext", ident)["metadata_version"] == "0.1"


def test_unreadable_extension_is_chosen_and_fails_to_load(built: Built) -> None:
    assert _mode(built, f"{SITE_LOCAL}/privext{EXT}") == 0o600
    assert _mode(built, f"{SITE_LOCAL}/privext.py") == 0o644
    root = rec(built, "privext", "root")
    assert (root["file"], root["code_version"]) == (f"{SITE_LOCAL}/privext{EXT}", "0.1")
    for ident in OTHERS:
        # dlopen fails with EACCES: ImportError, and the readable privext.py is never tried
        assert rec(built, "privext", ident)["error"] == "ImportError"


def test_cached_bytecode_spares_an_unreadable_source_only_when_valid_without_it(built: Built) -> None:
    flags = {}
    for mod in ("pycok", "pycstale", "pycchecked"):
        assert _mode(built, f"{SITE_LOCAL}/{mod}.py") == 0o600
        pyc = f"{SITE_LOCAL}/__pycache__/{mod}.cpython-311.pyc"
        assert _mode(built, pyc) == 0o644
        head = _file(built, pyc).read_bytes()[:16]
        flags[mod] = int.from_bytes(head[4:8], "little")
        if mod == "pycstale":  # compiled before the layer was written with mtime 0
            assert int.from_bytes(head[8:12], "little") != 0
            assert os.lstat(_file(built, f"{SITE_LOCAL}/{mod}.py")).st_mtime == 0
    assert flags == {"pycok": 0b01, "pycstale": 0, "pycchecked": 0b11}
    for mod in ("pycok", "pycstale", "pycchecked"):
        assert rec(built, mod, "root")["file"] == f"{SITE_LOCAL}/{mod}.py"
    for ident in OTHERS:
        assert (rec(built, "pycok", ident)["file"], rec(built, "pycok", ident)["code_version"]) == (
            f"{SITE_LOCAL}/pycok.py", "0.1")
        assert rec(built, "pycstale", ident)["error"] == "PermissionError"
        assert rec(built, "pycchecked", ident)["error"] == "PermissionError"


def test_sourceless_bytecode_loads(built: Built) -> None:
    assert not _file(built, f"{SITE_LOCAL}/typing_extensions.py").exists()
    assert not _file(built, f"{SITE_LOCAL}/iniconfig/__init__.py").exists()
    for ident in ("root", *OTHERS):
        assert rec(built, "typing_extensions", ident)["file"] == f"{SITE_LOCAL}/typing_extensions.pyc"
        assert rec(built, "iniconfig", ident)["file"] == f"{SITE_LOCAL}/iniconfig/__init__.pyc"


def test_module_in_the_stdlib_zip(built: Built) -> None:
    assert _file(built, "/usr/lib/python311.zip").is_file()
    for exe in INTERPRETERS:
        assert rec(built, "zipmod", "root", exe)["file"] == "/usr/lib/python311.zip/zipmod.py"


# ---- the comparison helper, on an inventory filled from the oracle itself ------------------


def _inventory_from_oracle(truth: Any) -> Any:
    """sitelens's inventory of the image with ``imports`` set to what the oracle says."""
    inv = copy.deepcopy(truth.inventory)
    from fixtures.import_truth import environment_of

    for exe, per in truth.built.expected["results"].items():
        env = environment_of(inv, exe, truth.built.expected["interpreters"][exe]["real_path"])
        assert env is not None, f"sitelens found no environment for {exe}"
        for ident, out in per.items():
            if out is None:
                env.imports[ident] = None
                continue
            env.imports[ident] = {
                m: ModuleImport(m, r["file"], r["error"], version=r["code_version"],
                                metadata_version=r["metadata_version"], namespace=list(r["namespace"] or []),
                                metadata_ambiguous=list(r["metadata_ambiguous"]),
                                distribution=truth.built.expected["modules"][m]["normalized"],
                                mixed=bool(truth.built.expected["modules"][m]["mixed"]))
                for m, r in out["modules"].items()
            }
    return inv


def test_sitelens_finds_every_environment_of_the_image(truth: Any) -> None:
    from fixtures.import_truth import environment_of

    for exe in INTERPRETERS:
        real = truth.built.expected["interpreters"][exe]["real_path"]
        assert environment_of(truth.inventory, exe, real) is not None, exe


def test_compare_is_empty_for_the_oracles_own_answer_and_names_each_difference(truth: Any) -> None:
    inv = _inventory_from_oracle(truth)
    assert compare(inv, truth.built.expected) == []
    agree, total = agreement(inv, truth.built.expected)
    assert agree == total > 300
    from fixtures.import_truth import environment_of

    env = environment_of(inv, SYS, "/usr/bin/python3.11")
    assert env is not None
    arb = env.imports["arbitrary-uid"]
    assert arb is not None
    arb["yaml"].file = "/opt/pp/yaml/__init__.py"  # the mistake issue 11 describes
    arb["markupsafe"].version = "2.1.2"  # metadata order instead of the bytes
    arb["markupsafe"].metadata_ambiguous = []
    env.imports["root"] = None
    # absent is read as "does not import": right for finderedit (not in the system env), wrong for six
    del arb["finderedit"], arb["six"]
    venv = environment_of(inv, "/root/venv/bin/python", "")
    assert venv is not None
    venv.imports["arbitrary-uid"] = {}
    diffs = compare(inv, truth.built.expected)
    assert any("arbitrary-uid: yaml: file" in d for d in diffs)
    assert any("markupsafe: version of the loaded code='2.1.5' sitelens='2.1.2'" in d for d in diffs)
    assert any("markupsafe: metadata_ambiguous" in d for d in diffs)
    assert any(d.startswith("/root/venv/bin/python as arbitrary-uid: cannot exec") for d in diffs)
    root = [d for d in diffs if d.startswith("/usr/bin/python3 as root: ")]
    top_level = [m for m in all_modules() if "." not in m]  # submodules are not compared
    assert len(root) == len(top_level) and all(d.endswith("sitelens says it cannot start") for d in root)
    assert "/usr/bin/python3 as arbitrary-uid: six: error interpreter='PermissionError' " \
        "sitelens='ModuleNotFoundError'" in diffs
    assert len(diffs) == len(root) + 5, diffs
    only = compare(inv, truth.built.expected, interpreters=(SYS,), identities=("arbitrary-uid",), modules=("yaml",))
    assert len(only) == 1


def test_user_site_of_the_image_user_is_its_alone(built: Built) -> None:
    site = "/home/app/.local/lib/python3.11/site-packages"
    assert os.lstat(_file(built, f"{site}/tomli")).st_uid == 1000 and _mode(built, f"{site}/tomli") == 0o700
    app = rec(built, "tomli", "image-user")
    assert (app["file"], app["code_version"], app["metadata_version"]) == (f"{site}/tomli/__init__.py", "2.0.1",
                                                                           "2.0.1")
    for ident in ("root", "arbitrary-uid"):
        assert rec(built, "tomli", ident)["error"] == "ModuleNotFoundError"


@pytest.mark.parametrize("ident", [i.name for i in IDENTITIES])
def test_oracle_answers_differ_between_identities(built: Built, ident: str) -> None:
    """Each identity imports some module differently from each other one (the point of the image)."""
    mine = built.expected["results"][SYS][ident]["modules"]
    for other in IDENTITIES:
        if other.name != ident:
            theirs = built.expected["results"][SYS][other.name]["modules"]
            assert any((mine[m]["file"], mine[m]["error"]) != (theirs[m]["file"], theirs[m]["error"]) for m in mine)


# ---- setuptools' -nspkg.pth shims, in the order site runs them --------------------------------

VENV = "/opt/venv/bin/python"
USER_SITE = "/home/app/.local/lib/python3.11/site-packages"
VENV_SITE = "/opt/venv/lib/python3.11/site-packages"
NSPKG_PTH = "nsshim.part-0.1-nspkg.pth"
NSPAIR_PTH = "nspair-0.1-nspkg.pth"
NSNEST_PTH = "nsnest-0.1-nspkg.pth"
# what the interpreter says about nsshim after start-up: its __file__, whether its __init__ ran,
# its __path__, and site's complaints about the shim lines that raised
SHIM_PROBE = ("import json, sys, nsshim; print('NSSHIM ' + json.dumps([getattr(nsshim, '__file__', None), "
              "hasattr(nsshim, '__version__'), list(nsshim.__path__)]))")


def _shim_run(built: Built, ident: str, exe: str) -> tuple[list[Any], list[str]]:
    rc, out = _run(built, ident, SHIM_PROBE, exe)
    assert rc == 0, out
    import json

    line = next(ln for ln in out.splitlines() if ln.startswith("NSSHIM "))
    failed = [ln.split(" of ", 1)[1].rstrip(":") for ln in out.splitlines() if ln.startswith("Error processing line")]
    return json.loads(line[len("NSSHIM "):]), failed


def test_nspkg_shims_fixture_layout(built: Built) -> None:
    for site in (USER_SITE, VENV_SITE, SITE_LOCAL, SITE_DEB):
        assert "f_locals['sitedir']" in _file(built, f"{site}/{NSPKG_PTH}").read_text()
    # the namespace_packages wheel leaves nsshim/__init__.py out; nsshim-core ships one
    assert not _file(built, f"{SITE_LOCAL}/nsshim/__init__.py").exists()
    assert _file(built, f"{SITE_LOCAL}/nsshim/part/__init__.py").is_file()
    assert _file(built, f"{USER_SITE}/nsshim/__init__.py").read_text() == '__version__ = "core"\n'
    assert _file(built, "/opt/pp/nsshim/__init__.py").is_file()
    for site in (VENV_SITE, SITE_DEB):
        assert not _file(built, f"{site}/nsshim").exists()


def _failed_shims(exe: str) -> list[str]:
    # site runs a system-site venv's own dir twice (site.venv(), then the PREFIXES loop): its
    # line raises twice
    return [f"{VENV_SITE}/{NSPKG_PTH}"] * 2 * (exe == VENV) + [f"{SITE_DEB}/{NSPKG_PTH}", f"{SITE_LOCAL}/{NSPAIR_PTH}",
                                                               f"{SITE_LOCAL}/{NSNEST_PTH}"]


@pytest.mark.parametrize("exe", [SYS, VENV])
def test_first_nspkg_shim_finding_a_regular_package_makes_it_without_running_it(built: Built, exe: str) -> None:
    # the user site's shim is the first that finds nsshim for the image user (in the venv, after
    # the venv's, which raises): nsshim is made from ~/.local's regular package and its __init__
    # never runs, although a plain search would take /opt/pp's (PYTHONPATH, earlier on sys.path)
    (file, ran, path), failed = _shim_run(built, "image-user", exe)
    assert (file, ran) == (f"{USER_SITE}/nsshim/__init__.py", False)
    # __path__ is a plain list of the shim dirs: the lines that found nothing added nothing
    assert path == [f"{USER_SITE}/nsshim", f"{SITE_LOCAL}/nsshim"]
    assert sorted(failed) == sorted(_failed_shims(exe))
    r = rec(built, "nsshim", "image-user", exe)
    assert (r["file"], r["code_version"]) == (f"{USER_SITE}/nsshim/__init__.py", None)
    sys_path = built.expected["results"][exe]["image-user"]["sys_path"]
    if exe == VENV:
        assert sys_path.index(VENV_SITE) < sys_path.index(USER_SITE)


@pytest.mark.parametrize("exe", [SYS, VENV])
@pytest.mark.parametrize("ident", ["root", "arbitrary-uid"])
def test_nspkg_shim_finding_nothing_raises_and_a_later_one_makes_the_module(built: Built, exe: str,
                                                                             ident: str) -> None:
    # the venv's shim runs first and raises; /usr/local's makes a namespace that /opt/pp's regular
    # package, earlier on sys.path, never replaces
    (file, ran, path), failed = _shim_run(built, ident, exe)
    assert (file, ran, path) == (None, False, [f"{SITE_LOCAL}/nsshim"])
    assert sorted(failed) == sorted(_failed_shims(exe))
    assert rec(built, "nsshim", ident, exe)["namespace"] == [f"{SITE_LOCAL}/nsshim"]
    # without shims (a venv without the system site) the plain search runs /opt/pp's __init__
    if ident == "root":
        r = rec(built, "nsshim", "root", "/root/venv/bin/python")
        assert (r["file"], r["code_version"]) == ("/opt/pp/nsshim/__init__.py", "core")


@pytest.mark.parametrize("exe", [SYS, VENV])
def test_sitelens_names_the_nspkg_shim_dirs_of_a_regular_package(truth: Any, exe: str) -> None:
    """sitelens's steps for the shim-made regular package name its __path__ as the interpreter has it."""
    from fixtures.import_truth import environment_of

    (file, _ran, path), _ = _shim_run(truth.built, "image-user", exe)
    env = environment_of(truth.inventory, exe, truth.built.expected["interpreters"][exe]["real_path"])
    assert env is not None
    got = env.imports["image-user"]
    assert got is not None
    mi = got["nsshim"]
    made = [s.path for s in mi.steps if s.outcome == "loaded" and s.entry != "<nspkg>" and "-nspkg.pth" in s.detail]
    added = [s.path for s in mi.steps if s.outcome == "namespace" and "-nspkg.pth" in s.detail]
    assert mi.file == file and made == [file]
    assert [os.path.dirname(file), *added] == path


@pytest.mark.parametrize("exe", [SYS, VENV])
def test_nspkg_line_that_raises_ends_its_pth_file(built: Built, exe: str) -> None:
    lines = _file(built, f"{SITE_LOCAL}/{NSPAIR_PTH}").read_text().splitlines()
    assert ["nsdrop" in lines[0], "nskeep" in lines[1], len(lines)] == [True, True, 2]
    assert not _file(built, f"{SITE_LOCAL}/nsdrop").exists() and _file(built, f"{SITE_LOCAL}/nskeep/b").is_dir()
    for ident in ("root", *OTHERS):
        # nsdrop's line raised, so nskeep's never ran: nskeep is not in sys.modules at start-up,
        # and the plain search finds /opt/pp's regular package before /usr/local's portion
        rc, out = _run(built, ident, "import sys; print('nskeep' in sys.modules, 'nsdrop' in sys.modules)", exe)
        assert rc == 0 and "False False" in out.splitlines(), out
        assert f"Error processing line 1 of {SITE_LOCAL}/{NSPAIR_PTH}:" in out
        r = rec(built, "nskeep", ident, exe)
        assert (r["file"], r["code_version"]) == ("/opt/pp/nskeep/__init__.py", "0.1")
        assert rec(built, "nsdrop", ident, exe)["error"] == "ModuleNotFoundError"


@pytest.mark.parametrize("exe", [SYS, VENV])
def test_nested_nspkg_line_that_raises_ends_its_pth_file(built: Built, exe: str) -> None:
    lines = _file(built, f"{SITE_LOCAL}/{NSNEST_PTH}").read_text().splitlines()
    # setuptools writes a line for each namespace and each of its parents, sorted: nsnest twice
    assert [ln.split("sys.modules.setdefault(")[1].split(",")[0] for ln in lines] == [
        "'nsnest'", "'nsnest'", "'nsnest.inner'", "'nsnext'"]
    assert not _file(built, f"{SITE_LOCAL}/nsnest/inner").exists()
    for ident in ("root", *OTHERS):
        # nsnest's line ran (a namespace), nsnest.inner's raised, nsnext's never ran
        rc, out = _run(built, ident, "import sys; print(sorted(m for m in sys.modules if m.startswith('nsne')))", exe)
        assert rc == 0 and "['nsnest']" in out.splitlines(), out
        assert f"Error processing line 3 of {SITE_LOCAL}/{NSNEST_PTH}:" in out
        assert rec(built, "nsnest", ident, exe)["namespace"] == [f"{SITE_LOCAL}/nsnest"]
        r = rec(built, "nsnext", ident, exe)
        assert (r["file"], r["code_version"]) == ("/opt/pp/nsnext/__init__.py", "0.1")


# ---- setuptools' distutils shim ------------------------------------------------------------

VENV = "/opt/venv/bin/python"
VENV_SITE = "/opt/venv/lib/python3.11/site-packages"


def test_distutils_shim_fixture_layout(built: Built) -> None:
    # pip's setuptools 70.3 under umask 077: its .pth only root reads, its dirs only root searches
    assert _mode(built, f"{SITE_LOCAL}/distutils-precedence.pth") == 0o600
    assert _mode(built, f"{SITE_LOCAL}/setuptools") == _mode(built, f"{SITE_LOCAL}/_distutils_hack") == 0o700
    for site in (SITE_DEB, VENV_SITE):
        assert _file(built, f"{site}/distutils-precedence.pth").exists()
    # the stdlib's distutils is there to fall back on (python3-distutils)
    assert _file(built, "/usr/lib/python3.11/distutils/__init__.py").exists()


@pytest.mark.parametrize(("exe", "ident", "site"), [
    (SYS, "root", SITE_LOCAL), (SYS, "image-user", SITE_DEB), (SYS, "arbitrary-uid", SITE_DEB),
    *((VENV, i.name, VENV_SITE) for i in IDENTITIES),
])
def test_distutils_is_the_setuptools_copy_the_identity_reaches(built: Built, exe: str, ident: str, site: str) -> None:
    dist, core = rec(built, "distutils", ident, exe), rec(built, "distutils.core", ident, exe)
    assert (dist["file"], dist["error"]) == (f"{site}/setuptools/_distutils/__init__.py", None)
    # the submodules come from the same package dir (sitelens answers for the package)
    assert core["file"] == f"{site}/setuptools/_distutils/core.py"


@pytest.mark.parametrize("value", ["stdlib", "", "local"])
def test_setuptools_use_distutils_as_the_interpreter_sees_it(truth: Any, value: str) -> None:
    """The image's Env with SETUPTOOLS_USE_DISTUTILS added: sitelens's answer for `distutils` is
    the interpreter's, per interpreter and identity."""
    import dataclasses

    from fixtures.import_truth import CACHE, environment_of, probe
    from sitelens.inventory.builder import build_inventory
    from sitelens.pipeline import load

    expected = truth.built.expected
    env = {**expected["env"], "SETUPTOOLS_USE_DISTUTILS": value}
    with load(truth.built.ref, cache_dir=CACHE / "index") as loaded:
        config = dataclasses.replace(loaded.image.config, env=env)
        inv = build_inventory(loaded.fs, dataclasses.replace(loaded.image, config=config), list(IDENTITIES))
    for exe in (SYS, VENV):
        mine = environment_of(inv, exe, expected["interpreters"][exe]["real_path"])
        assert mine is not None
        for ident in IDENTITIES:
            out = probe(truth.built.tree, exe, ident, env, expected["workdir"], {"distutils": None})
            assert out is not None
            real = out["modules"]["distutils"]
            got = (mine.imports[ident.name] or {})["distutils"]
            assert (got.file, got.error) == (real["file"], real["error"]), (exe, ident.name)
            if value != "local":
                assert real["file"] == "/usr/lib/python3.11/distutils/__init__.py"
