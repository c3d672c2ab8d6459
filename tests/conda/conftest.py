"""Session fixtures of the conda tests: the image py-rattler linked (fixtures/conda_env.py) with
its chroot oracle, audited through the normal pipeline (docker-archive → layers → fs → checks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixtures.conda_env import Built
from sitelens.audit import AuditOptions, AuditResult, run_audit
from tests.helpers import require_tool


@pytest.fixture(scope="session")
def conda_built() -> Built:
    require_tool("mmdebstrap", "chroot", "patchelf")
    if os.geteuid() != 0:
        pytest.skip("the chroot oracle needs root")
    pytest.importorskip("rattler")
    pytest.importorskip("conda_package_handling")
    from fixtures.conda_env import conda_image
    from fixtures.debian_root import RootUnavailable
    from fixtures.sl1_images import FixtureError

    try:
        return conda_image()
    except (RootUnavailable, FixtureError) as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def conda_audit(conda_built: Built, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    cache: Path = tmp_path_factory.mktemp("conda-index")
    return run_audit(conda_built.ref, AuditOptions(cache_dir=cache))
