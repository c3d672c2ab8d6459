"""Registry credentials the way CI passes them, through `sitelens audit` against a real
htpasswd-protected docker-registry on 127.0.0.1: --username/--password-stdin, SITELENS_*
variables, podman's auth.json and REGISTRY_AUTH_FILE, and a missing credsStore helper named."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.imagebuilder import File, ImageSpec, LayerSpec, build, write_oci_layout
from fixtures.registry import Registry, auth_registry  # noqa: F401 - pytest fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_ref(auth_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    spec = ImageSpec([LayerSpec([File("/etc/hostname", b"private\n")], created_by="COPY hostname /etc/")])
    layout = write_oci_layout(build(spec, "gzip"), tmp_path_factory.mktemp("private") / "img", tag="v1")
    return "registry:" + auth_registry.push(layout, "v1", "private/cli:1")


@pytest.fixture
def clean_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    # a HOME and runtime dir of our own: no real ~/.docker or podman auth file is read
    home = tmp_path / "home"
    home.mkdir()
    yield {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": ":".join(sys.path), "DOCKER_CONFIG": str(tmp_path / "docker")}


def _audit(ref: str, env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sitelens", "audit", ref, "--no-cache", "-f", "json",
                           "--fail-on", "none", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


def _auths(path: Path, host: str, user: str, password: str, **extra: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": token}}, **extra}))


def test_no_credentials_is_exit_3(private_ref: str, clean_env: dict[str, str]) -> None:
    res = _audit(private_ref, clean_env)
    assert res.returncode == 3 and "requires a username and password (none configured)" in res.stderr


def test_username_and_password_stdin(private_ref: str, clean_env: dict[str, str]) -> None:
    res = _audit(private_ref, clean_env, "--username", "alice", "--password-stdin", stdin="wonderland\n")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["image"]["reference"] == private_ref
    res = _audit(private_ref, clean_env, "--username", "alice", "--password-stdin", stdin="wrong\n")
    assert res.returncode == 3 and "authentication failed" in res.stderr


def test_environment_variables(private_ref: str, clean_env: dict[str, str]) -> None:
    env = dict(clean_env, SITELENS_USERNAME="alice", SITELENS_PASSWORD="wonderland")
    assert _audit(private_ref, env).returncode == 0


def test_podman_auth_files(private_ref: str, clean_env: dict[str, str], auth_registry: Registry,  # noqa: F811
                           tmp_path: Path) -> None:
    host = auth_registry.host
    runtime = Path(clean_env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    _auths(runtime, host, "alice", "wonderland")
    assert _audit(private_ref, clean_env).returncode == 0
    runtime.unlink()
    _auths(Path(clean_env["HOME"]) / ".config" / "containers" / "auth.json", host, "alice", "wonderland")
    assert _audit(private_ref, clean_env).returncode == 0
    # REGISTRY_AUTH_FILE is set on purpose: it wins over the (wrong) default files
    _auths(Path(clean_env["HOME"]) / ".config" / "containers" / "auth.json", host, "alice", "wrong")
    _auths(tmp_path / "ci-auth.json", host, "alice", "wonderland")
    assert _audit(private_ref, dict(clean_env, REGISTRY_AUTH_FILE=str(tmp_path / "ci-auth.json"))).returncode == 0


def test_missing_creds_store_helper_is_named(private_ref: str, clean_env: dict[str, str]) -> None:
    cfg = Path(clean_env["DOCKER_CONFIG"]) / "config.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(json.dumps({"credsStore": "desktop"}))
    res = _audit(private_ref, clean_env)
    assert res.returncode == 3
    assert res.stderr.strip().endswith("the configured credential helper docker-credential-desktop is not installed")
    assert len(res.stderr.strip().splitlines()) == 1
