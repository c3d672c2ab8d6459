"""Reference parsing (DESIGN §2): transports, image-name grammar, docker.io normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitelens.errors import ImageNotFound, UsageError
from sitelens.sources.manifest import Descriptor, select_platform
from sitelens.sources.reference import ImageName, parse_image_name, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", ImageName("docker.io", "library/python", "latest")),
        ("python:3.11-slim", ImageName("docker.io", "library/python", "3.11-slim")),
        ("bitnami/python:3", ImageName("docker.io", "bitnami/python", "3")),
        ("docker.io/python", ImageName("docker.io", "library/python", "latest")),
        ("index.docker.io/library/python:3", ImageName("docker.io", "library/python", "3")),
        ("ghcr.io/org/team/app:1.0", ImageName("ghcr.io", "org/team/app", "1.0")),
        ("localhost/app", ImageName("localhost", "app", "latest")),
        ("localhost:5000/app:dev", ImageName("localhost:5000", "app", "dev")),
        ("127.0.0.1:5000/a/b", ImageName("127.0.0.1:5000", "a/b", "latest")),
        (f"python@{DIGEST}", ImageName("docker.io", "library/python", None, DIGEST)),
        (f"quay.io/a/b:1@{DIGEST}", ImageName("quay.io", "a/b", "1", DIGEST)),
    ],
)
def test_image_names(text: str, expected: ImageName) -> None:
    assert parse_image_name(text) == expected


def test_name_helpers() -> None:
    hub = parse_image_name("python:3")
    assert hub.api_host == "registry-1.docker.io" and hub.reference == "3"
    assert str(hub) == "docker.io/library/python:3"
    pinned = parse_image_name(f"ghcr.io/a/b:1@{DIGEST}")
    assert pinned.reference == DIGEST and pinned.api_host == "ghcr.io"


@pytest.mark.parametrize("bad", ["", "UPPER", "a//b", "a:b:c", "-x", "ghcr.io/a/b@sha256:zz", "a:" + "t" * 200])
def test_bad_names(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_image_name(bad)


def test_transports(tmp_path: Path) -> None:
    layout = tmp_path / "lay"
    layout.mkdir()
    (layout / "oci-layout").write_text("{}")
    archive = tmp_path / "img.tar"
    archive.write_bytes(b"x")
    assert parse_reference(f"oci:{layout}:v1").transport == "oci"
    assert parse_reference(f"oci:{layout}:v1").tag == "v1"
    assert parse_reference(f"oci:{layout}").tag is None
    assert (parse_reference(str(layout)).transport, parse_reference(str(layout)).path) == ("oci", str(layout))
    assert parse_reference(f"{layout}:v2").tag == "v2"
    assert parse_reference(str(archive)).transport == "archive"
    r = parse_reference(f"docker-archive:{archive}:app:1")
    assert (r.transport, r.path, r.tag) == ("docker-archive", f"{archive}:app", "1")
    assert parse_reference(f"oci-archive:{archive}").path == str(archive)
    assert parse_reference("dir:/srv/root").path == "/srv/root"
    reg = parse_reference("registry:python:3")
    assert reg.transport == "registry" and reg.name == ImageName("docker.io", "library/python", "3")
    assert parse_reference("docker://ghcr.io/a/b:1").transport == "registry"
    eng = parse_reference("podman:localhost/app:1")
    assert eng.transport == "podman" and eng.engine_name == "localhost/app:1"
    bare = parse_reference("python:3.12")
    assert bare.transport == "bare" and bare.name is not None and bare.name.tag == "3.12"
    with pytest.raises(UsageError):
        parse_reference("oci:")
    with pytest.raises(ImageNotFound, match="no such file"):  # not found is exit 3 (README)
        parse_reference("./missing.tar")


def _d(os_: str, arch: str, variant: str | None = None) -> Descriptor:
    plat = {"os": os_, "architecture": arch}
    if variant:
        plat["variant"] = variant
    return Descriptor("application/vnd.oci.image.manifest.v1+json", f"sha256:{arch}{variant or ''}", 1, plat)


def test_platform_selection() -> None:
    entries = [_d("linux", "arm", "v7"), _d("linux", "arm64", "v8"), _d("linux", "amd64"), _d("unknown", "unknown")]
    assert select_platform(entries, "linux/arm64", "x").digest == "sha256:arm64v8"
    assert select_platform(entries, "linux/arm64/v8", "x").digest == "sha256:arm64v8"
    assert select_platform(entries, "linux/arm/v7", "x").digest == "sha256:armv7"
    assert select_platform(entries, None, "x").platform_string in ("linux/amd64", "linux/arm64/v8")
    # only one real image (plus an attestation): taken whatever this machine is
    only = [_d("linux", "riscv64"), _d("unknown", "unknown")]
    assert select_platform(only, None, "x").digest == "sha256:riscv64"
    with pytest.raises(UsageError):
        select_platform(entries, "linux", "x")


def test_prefixes_come_from_the_opener_table(tmp_path: Path) -> None:
    # Adding a source is a row in dispatch.OPENERS: its key becomes a TRANSPORT: prefix that
    # parses to it, and only the two unprefixed forms (an existing file, a bare name) are not.
    from sitelens.sources.dispatch import OPENERS, UNPREFIXED
    from sitelens.sources.reference import TRANSPORTS

    assert set(TRANSPORTS) == set(OPENERS) - UNPREFIXED
    for transport in TRANSPORTS:
        assert parse_reference(f"{transport}:python").transport == transport
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"")
    assert {parse_reference(str(archive)).transport, parse_reference("python").transport} == UNPREFIXED
    # not a prefix: the name "archive" with the tag "python"
    assert parse_reference("archive:python").name == ImageName("docker.io", "library/archive", "python")
