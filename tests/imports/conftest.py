"""Session fixtures of the import-truth tests: the built image with its oracle, and sitelens's
inventory of that image read through the normal pipeline (docker-archive → layers → fs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from fixtures.import_truth import CACHE, IDENTITIES, Built
from sitelens.fs import Filesystem
from sitelens.inventory.model import Inventory
from tests.helpers import require_tool


@dataclass
class Truth:
    built: Built
    fs: Filesystem
    inventory: Inventory


@pytest.fixture(scope="session")
def built() -> Built:
    require_tool("mmdebstrap", "chroot", "gcc")
    if os.geteuid() != 0:
        pytest.skip("the chroot oracle needs root")
    from fixtures.debian_root import RootUnavailable
    from fixtures.import_truth import build_image
    from fixtures.sl1_images import FixtureError

    try:
        return build_image()
    except (RootUnavailable, FixtureError) as exc:
        # CI installs everything this needs: there a failed build is a broken set-up, not a skip
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def truth(built: Built) -> Truth:
    from sitelens.inventory.builder import build_inventory
    from sitelens.pipeline import load

    with load(built.ref, cache_dir=CACHE / "index") as loaded:
        inv = build_inventory(loaded.fs, loaded.image, identities=list(IDENTITIES))
        return Truth(built, loaded.fs, inv)
