"""Issue 16's build styles on images the real tools built (fixtures/pyproj_images.py): Poetry's
in-project venv and its system install, PDM's venv, pyenv's shims, pip's --prefix/--root/--target
trees and .pth import lines. For each: sitelens's sys.path, module.__file__ and
importlib.metadata.version() per identity equal what the image's own interpreter says in a chroot,
the planted problem is found and the near-miss stays silent."""

from __future__ import annotations

import os
from typing import Any

import pytest

from fixtures.import_truth import compare, environment_of
from sitelens.audit import AuditOptions, AuditResult, run_audit
from sitelens.findings import Finding
from tests.helpers import require_tool

NAMES = ("poetry-venv", "poetry-cache", "poetry-system", "pdm-venv", "pyenv-local", "pyenv-system", "pip-trees")
_AUDITS: dict[str, tuple[Any, AuditResult]] = {}
# what hook.pth's unknown `import pathhook` appends (sitelens reports the line instead of guessing)
UNKNOWN_EFFECT = {"pip-trees": ["/opt/hooked"]}


def _audit(name: str) -> tuple[Any, AuditResult]:
    if name in _AUDITS:
        return _AUDITS[name]
    require_tool("mmdebstrap", "chroot")
    if os.geteuid() != 0:
        pytest.skip("the chroot oracle needs root")
    from fixtures.debian_root import RootUnavailable
    from fixtures.pyproj_images import CACHE, build_image
    from fixtures.python_roots import PythonRootUnavailable
    from fixtures.sl1_images import FixtureError

    try:
        built = build_image(name)
    except (RootUnavailable, PythonRootUnavailable, FixtureError) as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    _AUDITS[name] = (built, run_audit(built.ref, AuditOptions(cache_dir=CACHE / "index")))
    return _AUDITS[name]


def _sl116(a: AuditResult, dist: str) -> list[Finding]:
    return [f for f in a.findings if f.rule == "SL116" and f.evidence.get("distribution") == dist]


@pytest.mark.parametrize("name", NAMES)
def test_build_style_agrees_with_the_interpreter(name: str) -> None:
    built, a = _audit(name)
    assert compare(a.inventory, built.expected) == []
    (exe, per_ident), = built.expected["results"].items()
    real = built.expected["interpreters"][exe]["real_path"]
    env = environment_of(a.inventory, exe, real)
    assert env is not None
    for ident, got in per_ident.items():
        assert got is not None, f"{exe} does not run for {ident}"
        unknown = UNKNOWN_EFFECT.get(name, [])
        assert all(p in got["sys_path"] for p in unknown)  # the unknown line really changed the path
        truth = [p for p in got["sys_path"] if p not in unknown]
        assert [e.path for e in env.sys_path[ident]] == truth, ident


def test_poetry_venv_planted_and_near_misses() -> None:
    _, a = _audit("poetry-venv")
    jinja = _sl116(a, "jinja2")
    assert sorted(f.evidence["source"] for f in jinja) == ["/app/poetry.lock", "/app/pyproject.toml"]
    assert all(f.evidence["versions"] == ["3.1.2"] for f in jinja)
    (six,) = _sl116(a, "six")  # rebuilt from the sdist: its wheel hash is not in the lock
    assert six.severity == "medium" and six.evidence["archive_hashes"]["sha256"] not in str(
        six.evidence["locked_files"])
    assert "file:///tmp/built/six-1.16.0-py2.py3-none-any.whl" in six.message
    # the genuine PyPI file of idna (its hash is in the lock), tomli's marker, the dev group
    for quiet in ("idna", "tomli", "iniconfig", "markupsafe"):
        assert _sl116(a, quiet) == [], quiet
    idna = next(d for d in a.inventory.all_distributions() if d.name == "idna")
    assert idna.archive_hashes and idna.installer == "pip"


def test_poetry_system_install() -> None:
    _, a = _audit("poetry-system")
    idna = _sl116(a, "idna")
    assert sorted(f.evidence["source"] for f in idna) == ["/app/poetry.lock", "/app/pyproject.toml"]
    assert all("3.6" in f.title for f in idna)
    for quiet in ("six", "tomli", "iniconfig"):
        assert _sl116(a, quiet) == [], quiet
    six = next(d for d in a.inventory.all_distributions() if d.name == "six")
    assert six.site_dir == "/usr/local/lib/python3.11/dist-packages" and six.installer_name == "poetry"


def test_pdm_venv_stale_after_relock() -> None:
    _, a = _audit("pdm-venv")
    idna = _sl116(a, "idna")
    assert sorted(f.evidence["source"] for f in idna) == ["/app/pdm.lock", "/app/pyproject.toml"]
    for quiet in ("six", "tomli"):
        assert _sl116(a, quiet) == [], quiet
    assert any(d.name == "six" and d.installer == "pdm" for d in a.inventory.all_distributions())


def test_pyenv_local_version_file_chooses_the_interpreter() -> None:
    from fixtures.pyproj_images import PYENV_NAME, PYENV_ROOT

    _, a = _audit("pyenv-local")
    ep = a.inventory.entrypoint
    assert ep is not None and ep.interpreter == f"{PYENV_ROOT}/versions/{PYENV_NAME}/bin/python3"
    assert ep.selected_by == f"pyenv {PYENV_NAME} (/app/.python-version)"
    assert [f for f in a.findings if f.rule == "SL116"] == []


def test_pyenv_without_a_version_runs_the_system_python() -> None:
    _, a = _audit("pyenv-system")
    ep = a.inventory.entrypoint
    assert ep is not None and ep.interpreter == "/usr/bin/python3"
    assert ep.selected_by is not None and ep.selected_by.startswith("pyenv system")
    sl116 = [f for f in a.findings if f.rule == "SL116"]
    assert {f.evidence["distribution"] for f in sl116} == {"six", "jinja2", "markupsafe"}
    assert {f.evidence["interpreter"] for f in sl116} == {"/usr/bin/python3.11"}


def test_pip_trees_and_pth_lines() -> None:
    built, a = _audit("pip-trees")
    (jinja,) = _sl116(a, "jinja2")  # early.pth's sys.path.insert(0, '/opt/early') puts 3.1.2 first
    assert jinja.evidence["versions"] == ["3.1.2"] and "/opt/early/jinja2/__init__.py" in jinja.message
    (six,) = _sl116(a, "six")  # Debian's pip put --prefix under local/: PYTHONPATH misses it
    assert "not installed" in six.message
    assert _sl116(a, "markupsafe") == []  # --target via PYTHONPATH
    env = next(e for e in a.inventory.environments if e.executable == "/usr/bin/python3.11" or e.kind == "system")
    effects = {os.path.basename(e.pth): e.effect for e in env.pth_effects["root"]}
    assert effects == {"distutils-precedence.pth": "distutils-shim", "early.pth": "path", "hook.pth": "unknown"}
    assert any("hook.pth" in w and "import pathhook" in w for w in a.inventory.warnings)
    assert not any("distutils-precedence.pth" in w for w in a.inventory.warnings)
    # the effect sitelens records for distutils-precedence.pth is what the interpreter does
    from fixtures.debian_root import run_in_root

    probe = "import distutils; print(distutils.__file__)"
    proc = run_in_root(built.tree, ["/usr/bin/python3", "-W", "ignore", "-c", probe])
    assert proc.stdout.strip() == "/usr/local/lib/python3.11/dist-packages/setuptools/_distutils/__init__.py", \
        proc.stderr


@pytest.mark.parametrize(("name", "tool"), [("poetry-venv", "/opt/poetry/bin/poetry"),
                                            ("poetry-cache", "/opt/poetry/bin/poetry"),
                                            ("pdm-venv", "/opt/pdm/bin/pdm")])
def test_poetry_and_pdm_run_choose_what_the_tool_chooses(name: str, tool: str) -> None:
    """An entrypoint ``<tool> run python app.py``: sitelens's answer and the real tool's, in the chroot."""
    import dataclasses
    import shutil

    from fixtures.debian_root import chroot_mounts, run_in_root
    from sitelens.inventory.entrypoint import resolve_entrypoint

    built, a = _audit(name)
    path = f"{os.path.dirname(tool)}:/usr/bin:/bin"
    config = dataclasses.replace(a.image.config, env={**a.image.config.env, "PATH": path},
                                 entrypoint=[os.path.basename(tool), "run", "python", "/app/main.py"], cmd=None)
    ep = resolve_entrypoint(a.fs, config)
    # Poetry's cache-dir venv is found through the HOME of the user who runs it: the image user
    home, user = ("/home/app", "1000:1000") if name == "poetry-cache" else ("/tmp/tool-home", None)
    try:
        with chroot_mounts(built.tree):  # the tools check the interpreter with a /dev/null redirect
            proc = run_in_root(built.tree, [tool, "run", "python", "-c", "import sys; print(sys.executable)"],
                               userspec=user, env={"PATH": path, "HOME": home, "PYTHONDONTWRITEBYTECODE": "1"},
                               cwd="/app")
    finally:
        shutil.rmtree(built.tree / "tmp" / "tool-home", ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    want = built.expected["interpreters"] if name == "poetry-cache" else {"/app/.venv/bin/python": None}
    assert ep is not None and ep.interpreter == proc.stdout.strip().splitlines()[-1] and ep.interpreter in want


def test_poetry_cache_venv_near_miss() -> None:
    """``poetry run`` into the image user's cache-dir venv: everything locked is there, nothing said."""
    _, a = _audit("poetry-cache")
    ep = a.inventory.entrypoint
    assert ep is not None and ep.interpreter is not None
    assert ep.interpreter.startswith("/home/app/.cache/pypoetry/virtualenvs/demo-9TtSrW0h-py3.11/")
    assert [f for f in a.findings if f.rule in ("SL116", "SL108")] == []
