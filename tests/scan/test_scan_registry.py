"""The registry scanning job against a real registry filled with images that share base layers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, build, write_oci_layout
from fixtures.registry import Registry, start_registry
from tests.helpers import require_tool

N_APPS = 20

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


def app_spec(i: int, variant: str = "") -> ImageSpec:
    unique = LayerSpec(
        [
            Dir("/app"),
            File(f"/app/app{i}.py", f"print({i!r}){variant}\n".encode()),
            # Overwrite the base's blob in a few images so the waste figures differ per image.
            *([File("/opt/blob.bin", b"y" * 200_000)] if i % 5 == 0 else []),
        ],
        created_by=f"COPY app{i}{variant}",
    )
    return ImageSpec(layers=[BASE, SHARED, unique], cmd=["python3", f"/app/app{i}.py"])


def _push(reg: Registry, tmp: Path, spec: ImageSpec, name: str, tag: str = "v1") -> None:
    layout = write_oci_layout(build(spec, "gzip"), tmp / f"layout-{name}-{tag}-{time.monotonic_ns()}", tag)
    reg.push(layout, tag, f"{name}:{tag}")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    require_tool("docker-registry", "skopeo")
    tmp = tmp_path_factory.mktemp("scanreg")
    with start_registry(tmp / "reg") as reg:
        for i in range(N_APPS):
            _push(reg, tmp, app_spec(i), f"team/app{i}")
        # One image whose unique layer is corrupted in the registry's storage after the push.
        broken = build(app_spec(99), "gzip")
        _push(reg, tmp, app_spec(99), "team/broken")
        blob_digest = "sha256:" + __import__("hashlib").sha256(broken.layers[2][0]).hexdigest()
        path = reg.blob_path(blob_digest)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        yield reg, tmp


def scan(reg: Registry, work: Path, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json",
         "--db", str(work / "scan.db"), "--cache-dir", str(work / "cache"), *extra],
        capture_output=True, text=True, timeout=600, cwd=work,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def test_scan_is_incremental_and_survives_a_corrupt_image(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, tmp = filled
    first = scan(reg, tmp_path, "--workers", "2")
    s = first["summary"]
    assert s["images"] == N_APPS + 1
    assert s["audited"] == N_APPS
    assert s["failed"] == 1
    failed = [i for i in first["images"] if i["status"] == "failed"]
    assert [i["reference"].split("@")[0] for i in failed] == [f"registry:{reg.host}/team/broken"]
    # A flipped byte shows as a gzip CRC error or as a digest mismatch, whichever is met first.
    assert "corrupt" in failed[0]["error"] or "mismatch" in failed[0]["error"]
    # 20 audited images x 3 layers. Base and shared layers are indexed at most once per worker
    # process (two processes may both miss before either has written the cache): >= 60-20-4 hits.
    assert s["layers_total"] == 3 * N_APPS
    assert s["layers_reused"] >= 2 * N_APPS - 4
    # A failed image sorts first (worst), then findings.
    assert first["images"][0]["status"] == "failed"

    second = scan(reg, tmp_path, "--workers", "2")
    assert second["summary"]["audited"] == 0
    assert second["summary"]["skipped"] == N_APPS
    assert second["summary"]["failed"] == 1  # retried, still broken

    # Retagging one repository to a new image re-audits exactly that one.
    _push(reg, tmp, app_spec(3, variant="  # v2"), "team/app3")
    third = scan(reg, tmp_path, "--workers", "2")
    assert third["summary"]["audited"] == 1
    assert third["summary"]["moved_tags"] == 1

    conn = sqlite3.connect(tmp_path / "scan.db")
    (dupes,) = conn.execute(
        "select count(*) from (select digest from audits"
        " group by digest, tool_version, config_hash having count(*) > 1)"
    ).fetchone()
    assert dupes == 0


def test_repo_and_tag_globs_and_image_list(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = filled
    only = scan(reg, tmp_path, "--repo", "team/app1*", "--workers", "1")
    refs = sorted(i["reference"] for i in only["images"])
    assert len(refs) == 11  # app1, app10..app19
    listing = tmp_path / "images.txt"
    listing.write_text(f"# two images\n{reg.host}/team/app2:v1\nteam/app4:v1\n")
    out = subprocess.run(
        [sys.executable, "-m", "sitelens", "scan", reg.host, "--images", str(listing), "--format", "json",
         "--db", str(tmp_path / "list.db"), "--cache-dir", str(tmp_path / "cache"), "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["summary"]["audited"] == 2, doc["errors"]


def test_killed_run_resumes_without_duplicates(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, _ = filled
    db = tmp_path / "scan.db"
    argv = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json", "--db", str(db),
            "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                stored = sqlite3.connect(db).execute("select count(*) from audits").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
            if stored >= 3:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = sqlite3.connect(db).execute("select count(*) from audits").fetchone()[0]
    assert 3 <= before < N_APPS + 1
    rest = scan(reg, tmp_path, "--workers", "1")
    assert rest["summary"]["skipped"] >= before - 1  # the failed image is retried, not skipped
    rows = sqlite3.connect(db).execute("select digest, count(*) from audits group by digest").fetchall()
    assert len(rows) == N_APPS + 1
    assert all(n == 1 for _, n in rows)


def test_dask_cluster_gives_the_same_results(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    reg, _ = filled
    (tmp_path / "local").mkdir()
    local = scan(reg, tmp_path / "local", "--workers", "2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        addr = cluster.scheduler_address.replace("tcp://", "dask://")
        work = tmp_path / "dask"
        work.mkdir()
        remote = scan(reg, work, "--executor", addr)

    def key(doc: dict) -> dict:
        return {i["digest"]: (i["status"], i["counts"], i["wasted_bytes"],
                              sorted(f["fingerprint"] for f in i["findings"])) for i in doc["images"]}

    assert key(remote) == key(local)
    assert remote["summary"]["audited"] == N_APPS


def test_html_report_renders_in_a_real_browser(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require_tool("chromium")
    reg, _ = filled
    html = tmp_path / "report.html"
    scan(reg, tmp_path, "--workers", "2", "--html", str(html), "--repo", "team/*")
    profile = tmp_path / "chromium-profile"
    out = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    assert "sitelens scan report" in dom
    assert dom.count("<section class=\"image\"") == N_APPS + 1
    assert "Could not be audited" in dom  # the corrupt image
    assert "<svg" in dom and "bytes per layer" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,900", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
