"""Session fixtures of the permission tests (helpers live in perm_support.py)."""

from __future__ import annotations

import os
import shutil

import pytest
from perm_support import (  # type: ignore[import-not-found]
    ARB_CONFIG,
    CONFIG,
    OS_CONFIG,
    Planted,
    fs_from_root,
    plant,
    plant_arbitrary_uid_venv,
    plant_openshift,
)

from sitelens.inventory.identities import resolve_identities
from tests.helpers import require_tool


def _make(tmp_path_factory: pytest.TempPathFactory, name: str, planter, config):  # type: ignore[no-untyped-def]
    require_tool("mmdebstrap", "chroot")
    if os.geteuid() != 0:
        pytest.skip("chroot oracles need root")
    from fixtures.debian_root import copy_root, debian_root

    work = tmp_path_factory.mktemp(name)
    root = copy_root(debian_root(), work / "root")
    try:
        planter(root)
        fs = fs_from_root(root, work)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    idents = resolve_identities(fs, config)
    yield Planted(root, fs, idents, config)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    yield from _make(tmp_path_factory, "perm-planted", plant, CONFIG)


@pytest.fixture(scope="session")
def openshift(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    yield from _make(tmp_path_factory, "perm-openshift", plant_openshift, OS_CONFIG)


@pytest.fixture(scope="session")
def arbitrary_uid_venv(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    yield from _make(tmp_path_factory, "perm-arbuid", plant_arbitrary_uid_venv, ARB_CONFIG)
