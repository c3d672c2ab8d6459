"""dive parity on the commonest Debian image: a debootstrap tarball base and an
``apt-get install … && rm -rf /var/lib/apt/lists/*`` layer (fixtures/apt_image.py: real .deb,
the root's own apt in a chroot, umoci's diff). The base tar opens with a ``./`` member for the
root directory; dive skips it, and the dive block must too, or the apt layer's whiteouts are not
found below and the rest of that layer (dpkg's status, status-old, lock files, triggers) drops
out of the figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from waste_support import run_dive_json

from fixtures.apt_image import AptImageError, apt_layer_image
from fixtures.debian_root import RootUnavailable
from sitelens.pipeline import load
from sitelens.waste import compute_waste

# what the apt layer re-ships or removes, and dive counts twice
APT_PATHS = ("/var/lib/dpkg/status", "/var/lib/dpkg/status-old", "/var/lib/dpkg/lock",
             "/var/lib/dpkg/triggers/Lock", "/var/lib/apt/lists/partial", "/var/lib/apt/lists/lock")


@pytest.fixture(scope="module", params=[True, False], ids=["root-member", "no-root-member"])
def apt_archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return apt_layer_image(tmp_path_factory.mktemp("apt-image"), root_member=request.param)
    except (AptImageError, RootUnavailable) as exc:
        pytest.skip(str(exc))


def test_dive_block_equals_dive_on_apt_layer(apt_archive: Path, tmp_path: Path) -> None:
    dive = run_dive_json(apt_archive, tmp_path)
    with load(f"docker-archive:{apt_archive}", use_cache=False) as loaded:
        ours = compute_waste(loaded.fs, loaded.indexes, loaded.image).dive
    refs = sorted((r.path, r.count, r.size_bytes) for r in ours.file_references)
    assert refs == dive.file_references
    assert ours.layer_sizes == dive.layer_sizes
    assert ours.inefficient_bytes == dive.inefficient_bytes
    assert ours.efficiency == dive.efficiency
    assert ours.user_wasted_percent == dive.user_wasted_percent
    assert ours.notes == []  # every whiteout of the apt layer names a path of the base
    counted = {path for path, count, _ in dive.file_references if count == 2}
    assert set(APT_PATHS) <= counted
    # the removed apt lists weigh tens of MB in both (a whiteout occurrence of size 0 + the file)
    assert dive.inefficient_bytes > 10_000_000
