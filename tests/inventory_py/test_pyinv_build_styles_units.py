"""Issue 16's parsers on bytes and small images: lock/pyproject records, Poetry constraints,
.pth import lines, pyenv's version choice, and which lock hashes an installed copy can be held to.
The real tools' output is checked in tests/imports/test_imports_build_styles.py."""

from __future__ import annotations

import pytest

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.checks.requirements import artefact_mismatch
from sitelens.image import ImageConfig
from sitelens.inventory.entrypoint import resolve_entrypoint
from sitelens.inventory.model import Distribution
from sitelens.inventory.pth_lines import interpret
from sitelens.inventory.pyenv import read_version_file
from sitelens.inventory.requirement_files import parse_lock, poetry_constraint
from sitelens.inventory.requirement_files import parse_requirement_file as parse_declared
from tests.helpers import fs_from_spec


@pytest.mark.parametrize(("poetry", "pep440"), [
    ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"), ("^0.0", ">=0.0,<0.1"),
    ("^0", ">=0,<1"), ("~1.2.3", ">=1.2.3,<1.3"), ("~1", ">=1,<2"), ("1.2.*", "==1.2.*"), ("2.0.1", "==2.0.1"),
    (">=1.2 <2", ">=1.2,<2"), ("*", ""), ("^1 || ^2", None), ("not a version", None),
])
def test_poetry_constraints_as_pep440(poetry: str, pep440: str | None) -> None:
    assert poetry_constraint(poetry) == pep440


POETRY_LOCK = '''
[[package]]
name = "tomli"
version = "2.0.1"
optional = false
python-versions = ">=3.7"
groups = ["main"]
markers = "python_version < \\"3.11\\""
files = [
    {file = "tomli-2.0.1-py3-none-any.whl", hash = "sha256:939de3e7a6161af0c887ef91b7d41a53"},
]

[[package]]
name = "markupsafe"
version = "2.1.5"
files = [
    {file = "MarkupSafe-2.1.5-cp311-cp311-musllinux_1_1_x86_64.whl", hash = "sha256:aa"},
]

[metadata]
lock-version = "2.1"
'''


def test_lock_records_keep_markers_and_file_hashes() -> None:
    got = {w.name: w for w in parse_lock(POETRY_LOCK, "/app/poetry.lock")}
    assert str(got["tomli"].marker) == 'python_version < "3.11"'
    assert [(f.filename, f.algo) for f in got["tomli"].files] == [("tomli-2.0.1-py3-none-any.whl", "sha256")]
    pdm = ('[[package]]\nname = "six"\nversion = "1.16.0"\nmarker = "sys_platform == \\"linux\\""\n'
           'files = [{url = "https://x/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:AB"}]\n')
    (six,) = parse_lock(pdm, "/app/pdm.lock")
    assert six.files[0].filename == "six-1.16.0-py2.py3-none-any.whl" and six.files[0].digest == "ab"
    req = parse_declared("/app/requirements.txt", "six==1.16.0 --hash=sha256:Cd\n", {})
    assert [(f.algo, f.digest) for f in req[0].files] == [("sha256", "cd")]


def test_pyproject_records_poetry_groups_and_pep621() -> None:
    text = '''
[project]
dependencies = ["idna>=3.6"]
[project.optional-dependencies]
extra = ["rich"]
[tool.poetry.dependencies]
python = "^3.10"
six = "^1.16"
tomli = { version = "2.0.1", python = "<3.11" }
local = { path = "../local" }
alt = { version = "1", python = "^3.8 || ^2.7" }
maybe = { version = "1", optional = true }
[tool.poetry.group.dev.dependencies]
pytest = "^8"
'''
    got = {r.name: r for r in parse_declared("/app/pyproject.toml", text, {})}
    # python, a path dependency and one whose Pythons are not one range are left out
    assert set(got) == {"idna", "rich", "six", "tomli", "maybe", "pytest"}
    assert str(got["six"].spec) == "<2,>=1.16" and got["six"].must_exist
    assert str(got["tomli"].marker) == 'python_full_version < "3.11"'
    assert not got["pytest"].must_exist and not got["maybe"].must_exist and not got["rich"].must_exist
    assert got["idna"].must_exist and got["idna"].kind == "pyproject"


def _dist(tags: list[str], hashes: dict[str, str] | None = None) -> Distribution:
    return Distribution("markupsafe", "MarkupSafe", "2.1.5", "/s/MarkupSafe-2.1.5.dist-info", "dist-info", "/s",
                        wheel_tags=tags, archive_hashes=hashes or {}, archive_url="file:///tmp/m.whl")


def test_lock_hashes_compare_with_archive_hash_or_wheel_tags_only() -> None:
    (w,) = [x for x in parse_lock(POETRY_LOCK, "/app/poetry.lock") if x.name == "markupsafe"]
    manylinux = ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"]
    why = artefact_mismatch(w, _dist(manylinux))
    assert why is not None and "no sdist" in why
    assert artefact_mismatch(w, _dist(["cp311-cp311-musllinux_1_1_x86_64"])) is None
    assert artefact_mismatch(w, _dist(manylinux, {"sha256": "aa"})) is None  # the archive hash decides
    why = artefact_mismatch(w, _dist(manylinux, {"sha256": "bb"}))
    assert why is not None and "sha256:bb" in why
    assert artefact_mismatch(w, _dist(manylinux, {"md5": "bb"})) is None  # nothing comparable
    # with an sdist in the lock, a local build of it is legitimate: the tags say nothing
    with_sdist = POETRY_LOCK.replace('hash = "sha256:aa"},', 'hash = "sha256:aa"},\n{file = "MarkupSafe-2.1.5.tar.gz", '
                                     'hash = "sha256:cc"},')
    (w2,) = [x for x in parse_lock(with_sdist, "/app/poetry.lock") if x.name == "markupsafe"]
    assert artefact_mismatch(w2, _dist(manylinux)) is None


@pytest.mark.parametrize(("line", "effect", "changes"), [
    ("import _virtualenv", "none", []),
    ("import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
     "enabled and __import__('_distutils_hack').add_shim(); ", "distutils-shim", []),
    ("import __editable___demo_0_1_finder; __editable___demo_0_1_finder.install()", "editable-finder", []),
    ("import sys; sys.path.insert(0, '/opt/early')", "path", [("insert", 0, "/opt/early")]),
    ("import sys, os; sys.path.append('/x')", "path", [("append", None, "/x")]),
    ("import sys", "none", []),
    ("import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals["
     "'sitedir'], *('zope',));importlib = has_mfs and __import__('importlib.util');has_mfs and "
     "__import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('zope', importlib.util."
     "module_from_spec(importlib.machinery.PathFinder.find_spec('zope', [os.path.dirname(p)])));m = m or "
     "sys.modules.setdefault('zope', types.ModuleType('zope'));mp = (m or []) and m.__dict__.setdefault("
     "'__path__',[]);(p not in mp) and mp.append(p)", "namespace-shim", []),
    ("import pathhook", "unknown", []),
    ("import sys; sys.path.insert(0, os.environ['X'])", "unknown", []),
    ("import sys; )", "unknown", []),
])
def test_pth_import_lines(line: str, effect: str, changes: list[tuple[str, int | None, str]]) -> None:
    got, path_changes = interpret("/s/x.pth", line, {})
    assert got.effect == effect and path_changes == changes


def test_distutils_shim_off_when_stdlib_is_asked_for() -> None:
    line = "import os; enabled = os.environ.get('SETUPTOOLS_USE_DISTUTILS', 'local') == 'local'; " \
           "enabled and __import__('_distutils_hack').add_shim(); "
    assert interpret("/s/d.pth", line, {"SETUPTOOLS_USE_DISTUTILS": "stdlib"})[0].effect == "none"


@pytest.mark.parametrize(("default", "env", "effect"), [
    ("local", {}, "distutils-shim"),
    ("local", {"SETUPTOOLS_USE_DISTUTILS": ""}, "none"),
    ("stdlib", {}, "none"),  # setuptools 49–59: off unless asked for
    ("stdlib", {"SETUPTOOLS_USE_DISTUTILS": "local"}, "distutils-shim"),
])
def test_distutils_shim_default_is_the_lines_own(default: str, env: dict[str, str], effect: str) -> None:
    line = (f"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, '{default}') == 'local'; "
            "enabled and __import__('_distutils_hack').add_shim(); ")
    got = interpret("/s/distutils-precedence.pth", line, env)[0]
    assert got.effect == effect
    if effect == "none":
        assert "SETUPTOOLS_USE_DISTUTILS" in got.detail


@pytest.mark.parametrize("line", [
    "x=" + "a+" * 4000 + "a",  # ast.parse: RecursionError
    "x=" + "-" * 8000 + "1",  # MemoryError ("too complex")
    "x=[" + "1," * 1_000_000 + "]",  # unparsed: a 2 MB statement took 6 s to show
    "import os;" + "f(" * 150 + ")" * 150,
])
def test_hostile_pth_lines_are_unknown_quickly_and_shown_short(line: str) -> None:
    got, changes = interpret("/s/evil.pth", line, {})
    assert got.effect == "unknown" and changes == [] and len(got.detail) < 300


SHIM = (b'#!/usr/bin/env bash\nset -e\n[ -n "$PYENV_DEBUG" ] && set -x\n\nprogram="${0##*/}"\n\n'
        b'export PYENV_ROOT="/root/.pyenv"\nexec "/root/.pyenv/libexec/pyenv" exec "$program" "$@"\n')


def _pyenv_fs(files: list[File]):  # type: ignore[no-untyped-def]
    entries: list[Dir | File | Symlink] = [Dir("/usr/bin"), File("/usr/bin/python3", b"\x7fELF", 0o755),
                                           Dir("/root/.pyenv/shims"), File("/root/.pyenv/shims/python", SHIM, 0o755),
                                           Dir("/app"), Dir("/app/sub")]
    for v in ("3.11.7", "3.11.9rc1", "3.12.1"):
        entries += [Dir(f"/root/.pyenv/versions/{v}/bin"), File(f"/root/.pyenv/versions/{v}/bin/python3.x", b"\x7fELF",
                                                                0o755),
                    Symlink(f"/root/.pyenv/versions/{v}/bin/python", "python3.x")]
    return fs_from_spec(ImageSpec([LayerSpec([*entries, *files])]))


@pytest.mark.parametrize(("files", "env", "workdir", "want"), [
    ([File("/root/.pyenv/version", b"3.12.1\n")], {}, "/app", "3.12.1"),
    ([File("/root/.pyenv/version", b"3.12.1\n"), File("/app/.python-version", b"# pinned\n3.11\n")], {},
     "/app/sub", "3.11.7"),  # found upward; "3.11" is the newest final 3.11.x
    ([File("/app/.python-version", b"3.12.1\n")], {"PYENV_VERSION": "3.11.7"}, "/app", "3.11.7"),
    ([File("/app/.python-version", b"python-3.12.1\n")], {}, "/app", "3.12.1"),
    ([], {}, "/app", "system"),
    ([File("/app/.python-version", b"3.10.0\n")], {}, "/app", None),
])
def test_pyenv_shim_follows_pyenvs_choice(files: list[File], env: dict[str, str], workdir: str,
                                          want: str | None) -> None:
    fs = _pyenv_fs(files)
    path = "/root/.pyenv/shims:/usr/bin"
    ep = resolve_entrypoint(fs, ImageConfig(env={"PATH": path, **env}, workdir=workdir, cmd=["python", "app.py"]))
    assert ep is not None and ep.selected_by is not None
    if want is None:
        assert ep.interpreter is None and "not installed" in ep.selected_by
    elif want == "system":
        assert ep.interpreter is None  # no `python` on PATH besides the shim (only python3)
    else:
        assert ep.interpreter == f"/root/.pyenv/versions/{want}/bin/python" and ep.script == "app.py"


def test_pyenv_version_file_reading() -> None:
    assert read_version_file("3.11.7 ignored\n\n# c\r\n../../etc\n3.12.1\n") == ["3.11.7", "3.12.1"]


def _project_fs(files: list[File]):  # type: ignore[no-untyped-def]
    tool = b"#!/opt/tools/bin/python\nimport tool\n"
    entries: list[Dir | File | Symlink] = [
        Dir("/usr/bin"), File("/usr/bin/python3.11", b"\x7fELF", 0o755), Symlink("/usr/bin/python3", "python3.11"),
        Dir("/opt/tools/bin"), File("/opt/tools/bin/python", b"\x7fELF", 0o755),
        File("/opt/tools/bin/poetry", tool, 0o755), File("/opt/tools/bin/pdm", tool, 0o755),
        Dir("/app"), Dir("/app/.venv/bin"), File("/app/.venv/pyvenv.cfg", b"home = /usr/bin\n"),
        Symlink("/app/.venv/bin/python", "/usr/bin/python3"), Dir("/srv"), Dir("/srv/venv/bin"),
        File("/srv/venv/pyvenv.cfg", b"home = /usr/bin\n"), Symlink("/srv/venv/bin/python", "/usr/bin/python3"),
    ]
    return fs_from_spec(ImageSpec([LayerSpec([*entries, *files])]))


@pytest.mark.parametrize(("files", "cmd", "workdir", "want", "why"), [
    ([], ["poetry", "run", "python", "app.py"], "/app", "/app/.venv/bin/python", "in-project venv /app/.venv"),
    ([], ["pdm", "run", "python", "app.py"], "/app", "/app/.venv/bin/python", "in-project venv /app/.venv"),
    ([File("/app/.pdm-python", b"/srv/venv/bin/python\n")], ["pdm", "run", "python", "app.py"], "/app",
     "/srv/venv/bin/python", "/app/.pdm-python"),
    ([], ["pdm", "run", "python3", "app.py"], "/srv", None, "no in-project environment"),
    ([], ["poetry", "run", "python3", "app.py"], "/srv", None, "not followed"),
    ([], ["poetry", "run", "-v", "python"], "/app", None, "options before the command"),
])
def test_poetry_and_pdm_run_follow_the_project_environment(files: list[File], cmd: list[str], workdir: str,
                                                           want: str | None, why: str) -> None:
    fs = _project_fs(files)
    ep = resolve_entrypoint(fs, ImageConfig(env={"PATH": "/opt/tools/bin:/usr/bin"}, workdir=workdir, cmd=cmd))
    assert ep is not None and ep.interpreter == want and ep.selected_by is not None and why in ep.selected_by
    if want:
        assert ep.script == "app.py"


def test_poetry_env_name_is_poetrys() -> None:
    from sitelens.inventory.project_runner import poetry_env_name

    # the values Poetry 2.1.4's EnvManager.generate_env_name gives (run in the poetry-venv image)
    assert poetry_env_name("demo", "/app") == "demo-9TtSrW0h"
    assert poetry_env_name("My App", "/srv/app") == "my_app-2uZo5AhP"


@pytest.mark.parametrize(("env", "venvs", "want"), [
    ({}, ["my_app-2uZo5AhP-py3.11"], "/home/app/.cache/pypoetry/virtualenvs/my_app-2uZo5AhP-py3.11/bin/python"),
    ({"POETRY_VIRTUALENVS_CREATE": "false"}, ["my_app-2uZo5AhP-py3.11"], "/opt/tools/bin/python"),  # poetry's own
    ({}, ["my_app-2uZo5AhP-py3.11", "my_app-2uZo5AhP-py3.12"], None),
    ({}, ["other-abcdefgh-py3.11"], None),
])
def test_poetry_run_finds_the_cache_dir_venv(env: dict[str, str], venvs: list[str], want: str | None) -> None:
    base = "/home/app/.cache/pypoetry/virtualenvs"
    spec: list[Dir | File | Symlink] = [
        File("/etc/passwd", b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        Dir("/srv/app"), File("/srv/app/pyproject.toml", b'[project]\nname = "My App"\n')]
    for v in venvs:
        spec += [Dir(f"{base}/{v}/bin"), File(f"{base}/{v}/pyvenv.cfg", b"home = /usr/bin\n"),
                 Symlink(f"{base}/{v}/bin/python", "/usr/bin/python3")]
    fs = _project_fs(spec)  # type: ignore[arg-type]
    cfg = ImageConfig(env={"PATH": "/opt/tools/bin:/usr/bin", **env}, workdir="/srv/app", user="app",
                      cmd=["poetry", "run", "python", "app.py"])
    ep = resolve_entrypoint(fs, cfg)
    assert ep is not None and ep.interpreter == want


def test_pyenv_hostile_version_file_gives_a_short_reason() -> None:
    fs = _pyenv_fs([File("/app/.python-version", b"\x00\xff..\n/etc\n3.9\n4.0\n5.0\n" * 1000)])
    ep = resolve_entrypoint(fs, ImageConfig(env={"PATH": "/root/.pyenv/shims:/usr/bin"}, workdir="/app",
                                            cmd=["python"]))
    assert ep is not None and ep.interpreter is None and ep.selected_by is not None
    assert len(ep.selected_by) < 200 and "and 1 more is not installed" in ep.selected_by
