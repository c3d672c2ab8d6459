"""registry: against real Debian docker-registry servers on 127.0.0.1, images pushed by skopeo."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sources_helpers import fs_signature, sample_spec

from fixtures.imagebuilder import File, ImageSpec, LayerSpec, build, write_oci_layout
from fixtures.registry import (  # noqa: F401 - pytest fixtures
    Registry,
    auth_registry,
    closed_port,
    registry,
    token_registry,
)
from sitelens.errors import AuthError, CorruptImage, ImageNotFound, RegistryUnreachable
from sitelens.pipeline import load
from sitelens.sources import SourceOptions
from sitelens.sources.reference import parse_image_name
from sitelens.sources.registry import RegistryClient, is_loopback

pytestmark = pytest.mark.slow


def _sig(ref: str, opts: SourceOptions | None = None) -> list[tuple]:
    with load(ref, opts or SourceOptions(), use_cache=False) as loaded:
        return fs_signature(loaded.fs)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("layouts")
    sample = write_oci_layout(build(sample_spec(), "gzip"), tmp / "sample", tag="v1")
    expected = _sig(f"oci:{sample}:v1")
    # A multi-platform index: one amd64 and one arm64 image, named "multi" in the layout.
    multi = tmp / "multi"
    arch_files = {}
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        spec = ImageSpec([LayerSpec([File("/arch", arch.encode())], created_by=f"RUN {arch}")],
                         architecture=arch, variant=variant)
        write_oci_layout(build(spec, "gzip"), multi, tag=arch)
        arch_files[arch] = arch
    index = json.loads((multi / "index.json").read_text())
    entries = []
    for m in index["manifests"]:
        arch = m["annotations"]["org.opencontainers.image.ref.name"]
        plat = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            plat["variant"] = "v8"
        entries.append({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"], "platform": plat})
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": entries}).encode()
    import hashlib

    nd = "sha256:" + hashlib.sha256(nested).hexdigest()
    (multi / "blobs/sha256" / nd[7:]).write_bytes(nested)
    index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": nd,
                               "size": len(nested),
                               "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    (multi / "index.json").write_text(json.dumps(index))
    # Unique plain layers, so flipping a byte of one in storage harms no other test's image.
    victim_spec = ImageSpec([LayerSpec([File("/victim.txt", b"unique victim content " * 200)])])
    victim = write_oci_layout(build(victim_spec, None), tmp / "victim", tag="v1")
    return {"sample": sample, "expected": expected, "multi": multi, "victim": victim}


@pytest.fixture(scope="module")
def pushed(registry: Registry, layouts: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    return {
        "sample": registry.push(layouts["sample"], "v1", "demo/app:1"),
        "multi": registry.push(layouts["multi"], "multi", "demo/multi:1", all_platforms=True),
        "victim": registry.push(layouts["victim"], "v1", "demo/victim:1"),
    }


def test_pull_gives_the_same_filesystem(pushed: dict[str, str], layouts: dict[str, Any]) -> None:
    with load(f"registry:{pushed['sample']}", SourceOptions(), use_cache=False) as loaded:
        assert fs_signature(loaded.fs) == layouts["expected"]
        image = loaded.image
        assert image.digest and image.digest.startswith("sha256:")
        assert [layer.created_by for layer in image.layers][0] == "RUN base"
        assert all(layer.digest and layer.size for layer in image.layers)
        assert image.config.user == "app"
    # by digest, and in skopeo's docker:// spelling
    assert _sig(f"registry:{pushed['sample'].rsplit(':', 1)[0]}@{image.digest}") == layouts["expected"]
    assert _sig(f"docker://{pushed['sample']}") == layouts["expected"]


def test_bare_name_falls_back_to_the_registry(pushed: dict[str, str], layouts: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DOCKER_HOST", "CONTAINER_HOST", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert _sig(pushed["sample"]) == layouts["expected"]


def test_missing_tag_and_repo(registry: Registry, pushed: dict[str, str]) -> None:  # noqa: F811
    with pytest.raises(ImageNotFound, match="demo/app:nope"):
        _sig(f"registry:{registry.host}/demo/app:nope")
    with pytest.raises(ImageNotFound):
        _sig(f"registry:{registry.host}/no/such-repo:1")


def test_unreachable_registry() -> None:
    ref = f"registry:127.0.0.1:{closed_port()}/demo/app:1"
    with pytest.raises(RegistryUnreachable, match="unreachable"):
        _sig(ref, SourceOptions(retries=1))
    res = subprocess.run([sys.executable, "-c", "from sitelens.cli import main; main()", "ls", ref, "--no-cache"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "unreachable" in res.stderr


def test_corrupt_blob_in_storage(registry: Registry, pushed: dict[str, str]) -> None:  # noqa: F811
    with load(f"registry:{pushed['victim']}", SourceOptions(), use_cache=False) as loaded:
        layer = loaded.image.layers[0]
    assert layer.digest
    path = registry.blob_path(layer.digest)
    data = bytearray(path.read_bytes())
    # skopeo gzips plain layers on push: flip a bit of the gzip header's mtime, which decoders
    # ignore, so only the digest check can notice; a plain blob gets a bit of file content.
    data[4 if data[:2] == b"\x1f\x8b" else 1024] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImage, match="digest mismatch"):
        _sig(f"registry:{pushed['victim']}")


def test_multi_platform_index(pushed: dict[str, str]) -> None:
    ref = f"registry:{pushed['multi']}"
    with load(ref, SourceOptions(), use_cache=False) as loaded:  # this machine: linux/amd64
        assert loaded.image.platform == "linux/amd64"
        assert loaded.fs.get("/arch") is not None and loaded.fs.get("/arch").size == 5  # type: ignore[union-attr]
    with load(ref, SourceOptions(platform="linux/arm64"), use_cache=False) as loaded:
        assert loaded.image.platform == "linux/arm64/v8"
        assert loaded.image.layers[0].created_by == "RUN arm64"
    with pytest.raises(ImageNotFound, match=r"linux/s390x.*available: linux/amd64, linux/arm64/v8"):
        _sig(ref, SourceOptions(platform="linux/s390x"))


def test_multi_platform_oci_layout(layouts: dict[str, Any]) -> None:
    with load(f"oci:{layouts['multi']}:multi", SourceOptions(platform="linux/arm64/v8"), use_cache=False) as loaded:
        assert loaded.image.layers[0].created_by == "RUN arm64"
    with load(f"oci:{layouts['multi']}:multi", SourceOptions(), use_cache=False) as loaded:
        assert loaded.image.layers[0].created_by == "RUN amd64"


# ---- authentication -------------------------------------------------------------------------


def _docker_config(tmp: Path, host: str, user: str, pw: str, **extra: Any) -> Path:
    doc: dict[str, Any] = {"auths": {host: {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}}}
    doc.update(extra)
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(doc))
    return tmp


@pytest.fixture(scope="module")
def auth_pushed(auth_registry: Registry, layouts: dict[str, Any]) -> str:  # noqa: F811
    return auth_registry.push(layouts["sample"], "v1", "private/app:1")


def test_basic_auth_with_docker_config(auth_pushed: str, auth_registry: Registry,  # noqa: F811
                                       layouts: dict[str, Any], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _docker_config(tmp_path / "good", auth_registry.host, "alice", "wonderland")
    assert _sig(f"registry:{auth_pushed}", SourceOptions(docker_config=cfg / "config.json")) == layouts["expected"]
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    assert _sig(f"registry:{auth_pushed}") == layouts["expected"]


def test_basic_auth_refused(auth_pushed: str, auth_registry: Registry, tmp_path: Path) -> None:  # noqa: F811
    bad = _docker_config(tmp_path / "bad", auth_registry.host, "alice", "wrong")
    with pytest.raises(AuthError, match="authentication failed with the configured credentials"):
        _sig(f"registry:{auth_pushed}", SourceOptions(docker_config=bad))
    with pytest.raises(AuthError, match="requires a username and password"):
        _sig(f"registry:{auth_pushed}", SourceOptions(docker_config=tmp_path / "none.json"))
    env = dict(os.environ, DOCKER_CONFIG=str(bad))
    res = subprocess.run([sys.executable, "-c", "from sitelens.cli import main; main()", "ls",
                          f"registry:{auth_pushed}", "--no-cache"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 3
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "authentication failed" in res.stderr


def _helper(tmp: Path, name: str, store: dict[str, tuple[str, str]]) -> Path:
    """A real docker-credential-NAME program implementing the helper protocol's ``get``."""
    bindir = tmp / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / f"docker-credential-{name}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"store = {json.dumps({k: list(v) for k, v in store.items()})}\n"
        "assert sys.argv[1] == 'get'\n"
        "server = sys.stdin.read().strip()\n"
        "if server not in store:\n"
        "    print('credentials not found in native keychain'); sys.exit(1)\n"
        "u, s = store[server]\n"
        "print(json.dumps({'ServerURL': server, 'Username': u, 'Secret': s}))\n"
    )
    script.chmod(0o755)
    return bindir


@pytest.mark.parametrize("how", ["credHelpers", "credsStore"])
def test_credential_helpers(how: str, auth_pushed: str, auth_registry: Registry,  # noqa: F811
                            layouts: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = _helper(tmp_path, "sltest", {auth_registry.host: ("alice", "wonderland")})
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    extra: dict[str, Any] = {"credHelpers": {auth_registry.host: "sltest"}} if how == "credHelpers" \
        else {"credsStore": "sltest"}
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    # no inline auths: the helper is the only source of the password
    (cfg / "config.json").write_text(json.dumps(extra))
    assert _sig(f"registry:{auth_pushed}", SourceOptions(docker_config=cfg)) == layouts["expected"]


def test_token_flow(token_registry: Registry, layouts: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    ref = token_registry.push(layouts["sample"], "v1", "tok/app:1")
    assert token_registry.token_server is not None
    good = _docker_config(tmp_path / "good", token_registry.host, "alice", "wonderland")
    before = len(token_registry.token_server.requests)
    assert _sig(f"registry:{ref}", SourceOptions(docker_config=good)) == layouts["expected"]
    asked = token_registry.token_server.requests[before:]
    assert asked and all(r["user"] == "alice" and r["ok"] for r in asked)
    assert any("repository:tok/app:pull" in (r.get("scope") or "") for r in asked)
    bad = _docker_config(tmp_path / "bad", token_registry.host, "alice", "nope")
    with pytest.raises(AuthError, match="token server refused"):
        _sig(f"registry:{ref}", SourceOptions(docker_config=bad))
    # anonymous: the token server grants nothing, the registry refuses the token
    with pytest.raises(AuthError):
        _sig(f"registry:{ref}", SourceOptions(docker_config=tmp_path / "none.json"))


# ---- retries ----------------------------------------------------------------------------------


class FlakyProxy:
    """A loopback HTTP proxy to a registry that fails on purpose: ``plan`` maps a request
    number to a status (429/503 with Retry-After: 0) or "drop" (half a body, then close)."""

    def __init__(self, upstream: str, plan: dict[int, Any]) -> None:
        self.upstream = upstream
        self.plan = plan
        self.log: list[tuple[str, Any]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                n = len(owner.log)
                action = owner.plan.get(n)
                owner.log.append((self.path, action))
                if action in (429, 503):
                    self.send_response(action)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection(owner.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range", "authorization")}
                conn.request("GET", self.path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                if action == "drop":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.end_headers()
                self.wfile.write(body)
                conn.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def flaky(registry: Registry) -> Iterator[Any]:  # noqa: F811
    proxies: list[FlakyProxy] = []

    def make(plan: dict[int, Any]) -> FlakyProxy:
        p = FlakyProxy(registry.host, plan)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def test_retries_on_429_and_5xx(flaky: Any, pushed: dict[str, str], layouts: dict[str, Any]) -> None:
    # request 0 is the https probe's plain-HTTP retry... the plan counts HTTP requests seen
    proxy = flaky({0: 429, 1: 503, 3: 503})
    name = pushed["sample"].split("/", 1)[1]
    assert _sig(f"registry:{proxy.host}/{name}", SourceOptions(retries=3)) == layouts["expected"]
    statuses = [a for _, a in proxy.log]
    assert statuses[:2] == [429, 503] and 503 in statuses[2:]


def test_gives_up_after_retries(flaky: Any, pushed: dict[str, str]) -> None:
    proxy = flaky({i: 503 for i in range(10)})
    name = pushed["sample"].split("/", 1)[1]
    with pytest.raises(RegistryUnreachable, match="HTTP 503"):
        _sig(f"registry:{proxy.host}/{name}", SourceOptions(retries=2))
    assert len(proxy.log) == 3


def test_blob_stream_resumes_after_a_dropped_connection(flaky: Any, pushed: dict[str, str],
                                                       layouts: dict[str, Any]) -> None:
    # requests: 0 manifest, 1 config blob, 2.. layer blobs (threads): drop the first blob GET
    proxy = flaky({2: "drop"})
    name = pushed["sample"].split("/", 1)[1]
    assert _sig(f"registry:{proxy.host}/{name}", SourceOptions(retries=3)) == layouts["expected"]
    assert any(a == "drop" for _, a in proxy.log)
    assert len(proxy.log) == 2 + 3 + 1  # one extra GET (a Range request) for the resumed blob


def test_plain_http_only_for_loopback_or_insecure() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example.com:5000")
    name = parse_image_name("registry.example.com:5000/a/b:1")
    assert not RegistryClient(name, SourceOptions()).http_allowed
    assert RegistryClient(name, SourceOptions(insecure_registries=("registry.example.com:5000",))).http_allowed


def test_tls_registry_needs_insecure_flag_for_a_self_signed_cert(layouts: dict[str, Any], tmp_path: Path) -> None:
    """A TLS registry with an untrusted certificate is never silently downgraded to HTTP."""
    from fixtures.registry import start_registry

    with start_registry(tmp_path / "tls", tls=True) as reg:
        ref = f"registry:{reg.push(layouts['sample'], 'v1', 'secure/app:1')}"
        with pytest.raises(RegistryUnreachable, match="not trusted; pass --insecure-registry"):
            _sig(ref)
        assert _sig(ref, SourceOptions(insecure_registries=(reg.host,))) == layouts["expected"]


def test_the_scheme_of_a_plain_http_registry_is_settled_once(pushed: dict[str, str]) -> None:
    from sitelens.sources import registry as reg_mod

    name = parse_image_name(pushed["sample"])
    reg_mod._SETTLED_SCHEMES.pop(name.api_host, None)
    first = RegistryClient(name, SourceOptions())
    assert first.scheme == "https" and not first._scheme_decided  # probes TLS first
    first.request("tags/list").close()
    assert first.scheme == "http" and reg_mod._SETTLED_SCHEMES[name.api_host] == "http"
    # the next client of this process starts on the scheme the registry answered on
    second = RegistryClient(name, SourceOptions())
    assert second.scheme == "http" and second._scheme_decided
    # a remembered scheme that no longer answers (another server on the port) is probed again
    reg_mod._SETTLED_SCHEMES[name.api_host] = "https"
    third = RegistryClient(name, SourceOptions())
    assert third.scheme == "https" and third._scheme_decided
    resp = third.request("tags/list")
    assert resp.status_code == 200 and third.scheme == "http"
    resp.close()
