"""Every on-disk format the fixture builder writes reads back to the same filesystem."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from sources_helpers import fs_signature, sample_spec

from fixtures.imagebuilder import (
    build,
    write_docker_archive,
    write_oci_archive,
    write_oci_layout,
)
from sitelens.errors import ImageNotFound
from sitelens.pipeline import load
from sitelens.sources import SourceOptions
from tests.helpers import require_tool

FORMATS = [
    ("oci-gzip", "gzip"), ("oci-zstd", "zstd"), ("oci-plain", None),
    ("oci-archive-gzip", "gzip"), ("oci-archive-zstd", "zstd"),
    ("docker-legacy", None), ("docker-oci-gzip", "gzip"), ("docker-oci-plain", None),
    ("oci-bare-dir", "gzip"), ("docker-bare-path", None),
]


def write_format(kind: str, compression: str | None, tmp: Path) -> str:
    built = build(sample_spec(), compression)
    if kind.startswith("oci-archive"):
        return "oci-archive:" + str(write_oci_archive(built, tmp / "img-oci.tar", tag="v1"))
    if kind == "oci-bare-dir":
        return str(write_oci_layout(built, tmp / "layout", tag="v1"))
    if kind.startswith("oci"):
        return f"oci:{write_oci_layout(built, tmp / 'layout', tag='v1')}:v1"
    if kind == "docker-legacy":
        return "docker-archive:" + str(write_docker_archive(built, tmp / "legacy.tar", layout="legacy"))
    if kind == "docker-bare-path":
        return str(write_docker_archive(built, tmp / "bare.tar", layout="legacy"))
    return "docker-archive:" + str(write_docker_archive(built, tmp / "d25.tar", layout="oci"))


@pytest.fixture()
def cache_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def reference_signature(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    tmp = tmp_path_factory.mktemp("ref")
    ref = write_format("oci-plain", None, tmp)
    with load(ref, SourceOptions(), cache_dir=tmp / "c", use_cache=False) as loaded:
        return fs_signature(loaded.fs)


@pytest.mark.parametrize(("kind", "compression"), FORMATS, ids=[k for k, _ in FORMATS])
def test_every_format_gives_the_same_filesystem(
    kind: str, compression: str | None, tmp_path: Path, cache_dir: Path, reference_signature: list[tuple]
) -> None:
    ref = write_format(kind, compression, tmp_path)
    with load(ref, SourceOptions(), cache_dir=cache_dir) as loaded:
        sig = fs_signature(loaded.fs)
        image = loaded.image
        assert [layer.created_by for layer in image.layers] == ["RUN base", "RUN pip install pkg", "RUN cleanup"]
        assert image.config.user == "app"
        assert image.config.env["PYTHONPATH"] == "/opt"
        assert image.config.workdir == "/home/app"
        assert image.config.cmd == ["python3"]
        assert image.config_digest and image.config_digest.startswith("sha256:")
        assert all(layer.diff_id.startswith("sha256:") for layer in image.layers)
        assert all(layer.size and layer.size > 0 for layer in image.layers)
        if not kind.startswith("docker-legacy") and kind != "docker-bare-path":
            assert all(layer.digest for layer in image.layers)
            # OCI layouts and Docker 25+ archives know the manifest digest and media types
            assert image.digest and image.digest.startswith("sha256:")
            assert all(layer.media_type.startswith("application/vnd.oci.image.layer") for layer in image.layers)
    assert sig == reference_signature
    paths = {t[0] for t in sig}
    assert "/tmp-file" not in paths
    assert "/opt/cache/a.bin" not in paths and "/opt/cache/b.bin" in paths
    assert "/usr/lib/python3.11/site-packages/old.py" not in paths
    # a second run is served from the cache and still agrees
    with load(ref, SourceOptions(), cache_dir=cache_dir) as again:
        assert again.cache.hits == 3
        assert fs_signature(again.fs) == reference_signature


def test_oci_layout_picks_the_tag(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_oci_layout(build(sample_spec(" one"), "gzip"), layout, tag="one")
    write_oci_layout(build(sample_spec(" two"), "gzip"), layout, tag="two")
    for tag in ("one", "two"):
        with load(f"oci:{layout}:{tag}", SourceOptions(), use_cache=False) as loaded:
            assert loaded.image.layers[0].created_by == f"RUN base {tag}"
            assert loaded.image.digest and loaded.image.digest.startswith("sha256:")
    with pytest.raises(ImageNotFound, match="holds 2 images"):
        _consume(f"oci:{layout}")
    with pytest.raises(ImageNotFound, match="no image tagged 'three'"):
        _consume(f"oci:{layout}:three")


def test_archive_is_never_extracted(tmp_path: Path) -> None:
    """The docker-archive reader opens windows into the tarball: nothing appears on disk."""
    archive = write_docker_archive(build(sample_spec(), None), tmp_path / "a.tar", layout="legacy")
    before = set(os.listdir(tmp_path))
    with load(f"docker-archive:{archive}", SourceOptions(), cache_dir=tmp_path / "c", use_cache=False) as loaded:
        assert len(loaded.indexes) == 3
    assert set(os.listdir(tmp_path)) == before


def test_docker_archive_with_repeated_layer_symlink(tmp_path: Path) -> None:
    """docker save writes a repeated layer as a symlink to its first copy."""
    archive = write_docker_archive(build(sample_spec(), None), tmp_path / "a.tar", layout="legacy")
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    import io
    import json

    manifest = json.loads(next(d for m, d in members if m.name == "manifest.json"))
    first = manifest[0]["Layers"][0]
    manifest[0]["Layers"].append("dup/layer.tar")
    cfg_name = manifest[0]["Config"]
    cfg = json.loads(next(d for m, d in members if m.name == cfg_name))
    cfg["rootfs"]["diff_ids"].append(cfg["rootfs"]["diff_ids"][0])
    cfg["history"].append({"created_by": "RUN again"})
    import hashlib

    cfg_raw = json.dumps(cfg).encode()
    new_cfg = hashlib.sha256(cfg_raw).hexdigest() + ".json"
    manifest[0]["Config"] = new_cfg
    out = tmp_path / "dup.tar"
    with tarfile.open(out, "w") as tar:
        for m, data in members:
            if m.name in ("manifest.json", cfg_name):
                continue
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
        for name, data in (("manifest.json", json.dumps(manifest).encode()), (new_cfg, cfg_raw)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("dup")
        ti.type = tarfile.DIRTYPE
        tar.addfile(ti)
        ti = tarfile.TarInfo("dup/layer.tar")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "../" + first
        tar.addfile(ti)
    with load(f"docker-archive:{out}", SourceOptions(), use_cache=False) as loaded:
        assert len(loaded.image.layers) == 4
        assert loaded.indexes[3].diff_id == loaded.indexes[0].diff_id
        assert loaded.image.layers[3].created_by == "RUN again"


def test_docker_archive_with_two_images_needs_a_name(tmp_path: Path) -> None:
    built_a = build(sample_spec(" a"), None)
    a = write_docker_archive(built_a, tmp_path / "a.tar", repo_tag="demo/a:1")
    import json

    # combine two manifest.json entries into one archive, like `docker save a b`
    with tarfile.open(a) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    second = dict(manifest[0], RepoTags=["demo/b:2"])
    import io

    out = tmp_path / "two.tar"
    with tarfile.open(a) as src, tarfile.open(out, "w") as dst:
        for m in src:
            if m.name == "manifest.json":
                continue
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        data = json.dumps([manifest[0], second]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        dst.addfile(ti, io.BytesIO(data))
    with pytest.raises(ImageNotFound, match="holds 2 images"):
        _consume(f"docker-archive:{out}")
    with load(f"docker-archive:{out}:demo/b:2", SourceOptions(), use_cache=False) as loaded:
        assert len(loaded.image.layers) == 3


def _consume(ref: str) -> None:
    with load(ref, SourceOptions(), use_cache=False):
        pass


@pytest.mark.slow
@pytest.mark.parametrize("dest", ["docker-archive", "oci-archive", "oci"])
def test_archives_written_by_skopeo(dest: str, tmp_path: Path, reference_signature: list[tuple]) -> None:
    """Formats written by a real tool, not by our own fixture writer."""
    require_tool("skopeo")
    layout = write_oci_layout(build(sample_spec(), "gzip"), tmp_path / "layout", tag="v1")
    out = tmp_path / ("out" if dest == "oci" else "out.tar")
    target = f"{dest}:{out}:" + ("skopeo/test:1" if dest == "docker-archive" else "t1")
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{layout}:v1", target],
                   check=True, capture_output=True, timeout=120)
    ref = f"{dest}:{out}" + (":t1" if dest == "oci" else "")
    with load(ref, SourceOptions(), use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == reference_signature
