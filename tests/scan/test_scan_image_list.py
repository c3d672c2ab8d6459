"""`scan --images FILE`: every reference form `audit` accepts, and every way a line can fail,
each named with its reason in JSON, console and HTML."""

from __future__ import annotations

from pathlib import Path

from fixtures.imagebuilder import build, write_docker_archive, write_oci_archive, write_oci_layout
from fixtures.registry import closed_port, start_registry
from tests.helpers import require_tool
from tests.scan.conftest import Filled, app_spec, run_scan


def test_every_reference_form_and_every_failure_is_reported(filled: Filled, tmp_path: Path) -> None:
    require_tool("htpasswd")
    reg = filled.reg
    built = build(app_spec(50), "gzip")
    tarball = write_docker_archive(built, tmp_path / "app50.tar", "local/app50:v1")
    layout = write_oci_layout(build(app_spec(51), "gzip"), tmp_path / "layout51", "v1")
    oci_tar = write_oci_archive(build(app_spec(52), "gzip"), tmp_path / "app52-oci.tar", "v1")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    with start_registry(tmp_path / "authreg", auth="htpasswd") as secret:
        secret.push(write_oci_layout(build(app_spec(53), "gzip"), tmp_path / "layout53", "v1"), "v1", "team/secret:v1")
        good = {
            f"registry:{reg.host}/team/app1:v1": "registry:",
            f"{reg.host}/team/app2:v1": "host/name:tag",
            "team/app4:v1": "bare name, given REGISTRY",
            str(tarball): "docker save tarball",
            f"oci:{layout}:v1": "oci layout",
            f"oci-archive:{oci_tar}:v1": "oci archive",
            f"dir:{rootfs}": "unpacked root filesystem (no digest: audited every run)",
        }
        bad = {
            f"{reg.host}/team/nosuch:v1": "not_found",
            f"{reg.host}/other/gone@{filled.gone_digest}": "not_found",  # listed, gone at fetch
            f"registry:127.0.0.1:{closed_port()}/team/app1:v1": "unreachable",
            f"{secret.host}/team/secret:v1": "auth",
            str(tmp_path / "missing.tar"): "not_found",  # a missing path is not found (exit 3), as in audit
        }
        listing = tmp_path / "images.txt"
        listing.write_text("# a nightly list\n\n" + "\n".join([*good, *bad]) + "\n")
        site = tmp_path / "site"
        run = run_scan(tmp_path, reg.host, "--images", str(listing), "--html", str(site))
        console = run_scan(tmp_path, reg.host, "--images", str(listing), fmt="console")

    s = run.doc["summary"]
    assert run.code == 3 and console.code == 3
    assert s["selected"] == len(good) + len(bad)
    assert s["audited"] + s["unchanged"] == len(good), run.doc["failed_targets"]
    reasons = {f["selector"]: f["reason"] for f in run.doc["failed_targets"]}
    assert reasons == bad
    assert all(f["error"] for f in run.doc["failed_targets"])
    index = (site / "index.html").read_text()
    text = console.doc["text"]
    for selector in bad:
        assert selector in index
    # The headline names the failures by reason; the table lists each target (wrapped to width).
    assert f"{len(bad)} failed (1 auth, 3 not_found, 1 unreachable)" in " ".join(text.split())


def test_a_registry_that_keeps_failing_is_unreachable_after_retries(tmp_path: Path) -> None:
    import http.server
    import threading

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        listing = tmp_path / "images.txt"
        ref = f"registry:127.0.0.1:{server.server_address[1]}/team/app:v1"
        listing.write_text(ref + "\n")
        run = run_scan(tmp_path, "--images", str(listing))
    finally:
        server.shutdown()
        server.server_close()
    assert run.code == 3
    [failed] = run.doc["failed_targets"]
    assert failed["reason"] == "unreachable" and "keeps failing" in failed["error"]
