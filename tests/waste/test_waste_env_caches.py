"""SL303 finds the caches environment managers leave (virtualenv's app-data, a conda package
cache) and SL304 compares installed environments only, on an image made with real content
(fixtures/cache_images.py: virtualenv from PyPI run in the chroot, six installed twice by pip,
a conda root laid out from conda's documented layout with the real Jinja2 wheel's files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.cache_images import CONDA, CONDA_SITE, env_manager_caches
from fixtures.debian_root import RootUnavailable
from fixtures.sl1_images import FixtureError, Scenario
from tests.checks.sl1_harness import Audited, audit
from tests.helpers import require_tool

APP_DATA = "/root/.cache/virtualenv"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, Audited]:
    require_tool("mmdebstrap", "chroot")
    try:
        sc = env_manager_caches(tmp_path_factory.mktemp("env-caches"))
    except (FixtureError, RootUnavailable) as exc:
        pytest.skip(str(exc))
    return sc, audit(sc.built, ("SL303", "SL304"))


def _tree_bytes(top: Path) -> int:
    return sum(p.stat().st_size for p in top.rglob("*") if p.is_file() and not p.is_symlink())


def test_virtualenv_app_data_is_a_cache(built: tuple[Scenario, Audited]) -> None:
    sc, a = built
    assert sc.root is not None
    on_disk = sc.root / APP_DATA.lstrip("/")
    # what virtualenv really left: seed wheels and their unpacked images with dist-info RECORDs
    assert list(on_disk.glob("wheel/house/pip-*.whl"))
    seeded = list(on_disk.glob("wheel/3.11/image/1/*/pip-*/pip-*.dist-info/RECORD"))
    assert seeded
    (f,) = [f for f in a.rule("SL303") if f.evidence["paths"] == [APP_DATA]]
    assert f.evidence["bytes"] == _tree_bytes(on_disk) > 5_000_000
    assert "virtualenv" in f.message and "VIRTUALENV_OVERRIDE_APP_DATA" in f.remediation


def test_conda_package_cache_is_one_cache_with_its_extracted_packages(built: tuple[Scenario, Audited]) -> None:
    sc, a = built
    assert sc.root is not None
    (f,) = [f for f in a.rule("SL303") if f.evidence["paths"] == [f"{CONDA}/pkgs"]]
    assert f.evidence["bytes"] == _tree_bytes(sc.root / CONDA.lstrip("/") / "pkgs")
    # the installed env beside it is not a cache
    assert not [g for g in a.rule("SL303") if g.evidence["paths"][0].startswith(CONDA_SITE)]


def test_sl304_only_for_installed_environments(built: tuple[Scenario, Audited]) -> None:
    sc, a = built
    assert sc.root is not None
    # near-miss: six installed by pip into the venv and into the system Python is a real duplicate
    got = {(f.evidence["distribution"], tuple(f.evidence["paths"])) for f in a.rule("SL304")}
    assert got == {("six", ("/opt/venv/lib/python3.11/site-packages",
                            "/usr/local/lib/python3.11/dist-packages"))}
    # ... while the venv's seeded pip has an identical copy (same RECORD) in the app-data
    seeded = next((sc.root / APP_DATA.lstrip("/")).glob("wheel/3.11/image/1/*/pip-*/pip-*.dist-info/RECORD"))
    venv_pip = next((sc.root / "opt/venv/lib/python3.11/site-packages").glob("pip-*.dist-info/RECORD"))
    assert seeded.read_bytes() == venv_pip.read_bytes()
