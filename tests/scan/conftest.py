"""A real registry filled for the scan tests, and a helper that runs `sitelens scan` as a user would."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, build, write_oci_layout
from fixtures.registry import Registry, start_registry
from tests.helpers import require_tool

N_APPS = 12

BASE = LayerSpec(
    [
        Dir("/etc"),
        File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:0::/home/app:/bin/sh\n"),
        File("/etc/group", b"root:x:0:\n"),
        Dir("/usr"), Dir("/usr/lib"), Dir("/usr/lib/python3.11"),
        File("/usr/lib/python3.11/os.py", b"# landmark\n"),
        Dir("/usr/lib/python3.11/site-packages"),
        Dir("/usr/bin"), File("/usr/bin/python3.11", b"placeholder interpreter\n", mode=0o755),
        Dir("/opt"), File("/opt/blob.bin", b"x" * 200_000),
    ],
    created_by="base",
)
SHARED = LayerSpec([Dir("/srv"), File("/srv/shared.txt", b"shared layer\n" * 1000)], created_by="shared")


def app_spec(i: int, variant: str = "", overwrite: bool | None = None) -> ImageSpec:
    """App ``i``; ``overwrite`` (default: every fifth app) rewrites the base's 200 kB blob in a
    later layer, which hides bytes and so gives the image waste findings the others lack."""
    overwrite = i % 5 == 0 if overwrite is None else overwrite
    unique = LayerSpec(
        [
            Dir("/app"),
            File(f"/app/app{i}.py", f"print({i!r}){variant}\n".encode()),
            *([File("/opt/blob.bin", b"y" * 200_000)] if overwrite else []),
        ],
        created_by=f"COPY app{i}{variant}",
    )
    return ImageSpec(layers=[BASE, SHARED, unique], cmd=["python3", f"/app/app{i}.py"])


def push(reg: Registry, tmp: Path, spec: ImageSpec, name: str, tag: str = "v1") -> str:
    """Push with skopeo; returns the manifest digest the registry stored."""
    layout = write_oci_layout(build(spec, "gzip"), tmp / f"layout-{name.replace('/', '_')}-{tag}-{time.monotonic_ns()}",
                              tag)
    reg.push(layout, tag, f"{name}:{tag}")
    req = urllib.request.Request(
        f"http://{reg.host}/v2/{name}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback registry
        return str(resp.headers["Docker-Content-Digest"])


def delete_manifest(reg: Registry, name: str, digest: str) -> None:
    req = urllib.request.Request(f"http://{reg.host}/v2/{name}/manifests/{digest}", method="DELETE")
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback registry
        pass


def corrupt_blob(reg: Registry, spec: ImageSpec, layer: int) -> None:
    data_in = build(spec, "gzip").layers[layer][0]
    path = reg.blob_path("sha256:" + hashlib.sha256(data_in).hexdigest())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@dataclass
class Filled:
    reg: Registry
    tmp: Path
    gone_digest: str  # a manifest pushed, then deleted: listed (pinned) but gone at fetch


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    require_tool("docker-registry", "skopeo")
    tmp = tmp_path_factory.mktemp("scanreg")
    with start_registry(tmp / "reg") as reg:
        for i in range(N_APPS):
            push(reg, tmp, app_spec(i), f"team/app{i}")
        # One image whose unique layer is corrupted in the registry's storage after the push.
        push(reg, tmp, app_spec(99), "team/broken")
        corrupt_blob(reg, app_spec(99), 2)
        gone = push(reg, tmp, app_spec(98), "other/gone")
        delete_manifest(reg, "other/gone", gone)
        yield Filled(reg, tmp, gone)


@dataclass
class Run:
    code: int
    doc: dict
    stderr: str


def run_scan(work: Path, *args: str, fmt: str = "json", env: dict[str, str] | None = None) -> Run:
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "sitelens", "scan", *args, "--format", fmt]
    if "--db" not in args:
        argv += ["--db", str(work / "scan.db")]
    if "--cache-dir" not in args:
        argv += ["--cache-dir", str(work / "cache")]
    import os

    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=work,
                         env={**os.environ, **(env or {})})
    assert "Traceback" not in out.stderr, out.stderr
    doc = json.loads(out.stdout) if fmt == "json" and out.stdout.strip().startswith("{") else {"text": out.stdout}
    return Run(out.returncode, doc, out.stderr)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (Debian ``postgresql``: initdb + pg_ctl)."""
    from fixtures.postgres import pg_bindir, pg_server

    if pg_bindir() is None:
        require_tool("initdb (Debian package postgresql)")
    pytest.importorskip("psycopg")
    with pg_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of each kind: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    from fixtures.postgres import new_database

    return new_database(request.getfixturevalue("pg_url"))
