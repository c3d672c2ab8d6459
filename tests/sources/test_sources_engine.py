"""docker:/podman: against a real Engine API (podman system service on a private socket)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from sources_helpers import fs_signature, sample_spec

from fixtures.imagebuilder import build, write_docker_archive, write_oci_layout
from fixtures.podman_service import PodmanService, podman  # noqa: F401 - pytest fixture
from sitelens.errors import ImageError, ImageNotFound
from sitelens.pipeline import load
from sitelens.sources import SourceOptions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loaded_images(podman: PodmanService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("engine")
    built = build(sample_spec(), "gzip")
    layout = write_oci_layout(built, tmp / "layout")
    with load(f"oci:{layout}", SourceOptions(), use_cache=False) as ref:
        expected = fs_signature(ref.fs)
    legacy = write_docker_archive(built, tmp / "legacy.tar", repo_tag="sitelens/legacy:1", layout="legacy")
    d25 = write_docker_archive(built, tmp / "d25.tar", repo_tag="sitelens/d25:1", layout="oci")
    tags = podman.load(legacy) + podman.load(d25)
    return {"expected": expected, "tags": tags}


@pytest.mark.parametrize("name", ["sitelens/legacy:1", "sitelens/d25:1"])
def test_engine_export_reads_back(name: str, podman: PodmanService, loaded_images: dict,  # noqa: F811
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman.url)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    cache = tmp_path / "cache"
    with load(f"docker:{name}", SourceOptions(), cache_dir=cache, use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == loaded_images["expected"]
        assert loaded.image.config.user == "app"
        assert [layer.created_by for layer in loaded.image.layers][-1] == "RUN cleanup"
    # the export was staged under the cache dir (never in $TMPDIR) and is gone once indexed
    assert (cache / "spool").is_dir() and list((cache / "spool").iterdir()) == []
    assert list(tmp.iterdir()) == []


def test_podman_prefix_and_bare_name(podman: PodmanService, loaded_images: dict,  # noqa: F811
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("CONTAINER_HOST", podman.url)
    with load("podman:sitelens/legacy:1", SourceOptions(), use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == loaded_images["expected"]
    # a bare name: the engine has it, so no registry is contacted (docker.io is unreachable here)
    monkeypatch.setenv("DOCKER_HOST", podman.url)
    with load("sitelens/d25:1", SourceOptions(retries=0, timeout=2), use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == loaded_images["expected"]


def test_engine_missing_image(podman: PodmanService, loaded_images: dict,  # noqa: F811
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman.url)
    with pytest.raises(ImageNotFound, match="no such image in the engine"):
        _consume("docker:sitelens/absent:9")


def test_engine_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(ImageError, match="cannot reach the container engine"):
        _consume("docker:sitelens/legacy:1")


def _consume(ref: str) -> None:
    with load(ref, SourceOptions(), use_cache=False):
        pass
