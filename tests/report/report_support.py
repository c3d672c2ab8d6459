"""Shared by the report tests: the demo image, the CLI runner, the official SARIF schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitelens.cli import app
from tests.helpers import official_sarif_schema

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo" / "jinja2-demo.tar"
# The Dockerfile the demo image stands for (fixtures/demo/README.md), for --dockerfile tests.
DEMO_DOCKERFILE = (DEMO.parent / "Dockerfile").read_text()
APT_LINE, PIP_LINE, COPY_LINE = 3, 4, 6


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def sarif_schema() -> dict:
    return official_sarif_schema()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .sitelens.toml / .dive-ci is discovered
    for name in [k for k in os.environ if k.startswith("SITELENS_") and k != "SITELENS_FIXTURE_CACHE"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "100")
    return tmp_path


def demo_without_pip_layer(dest: Path) -> Path:
    """The demo image as its Dockerfile would build without the `RUN pip install` line: an OCI
    layout made of the demo's own layer 0 (apt) and layer 2 (COPY app) blobs, unchanged."""
    import hashlib
    import tarfile

    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    with tarfile.open(DEMO) as tar:
        def read(name: str) -> bytes:
            f = tar.extractfile(name)
            assert f is not None
            return f.read()

        entry = json.loads(read("manifest.json"))[0]
        config = json.loads(read(entry["Config"]))
        keep = [0, 2]
        layers = [put(read(entry["Layers"][i])) for i in keep]
    config["rootfs"]["diff_ids"] = [config["rootfs"]["diff_ids"][i] for i in keep]
    config["history"] = [h for i, h in enumerate(config["history"]) if i in keep]
    cfg_digest, cfg_size = put(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest,
                           "size": cfg_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}
                           for d, n in layers]}
    m_digest, m_size = put(json.dumps(manifest).encode())
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest, "size": m_size,
         "annotations": {"org.opencontainers.image.ref.name": "fixed"}}]}))
    return dest
