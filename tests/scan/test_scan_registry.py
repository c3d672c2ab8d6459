"""The registry scan against a real registry: every target accounted for, exit codes, run-scoped
reports, moved tags with new and fixed findings, and resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.scan.conftest import N_APPS, Filled, app_spec, push, run_scan

ALL_TARGETS = N_APPS + 1  # the apps and team/broken; other/gone has no tags left to list


def _volatile(doc: dict) -> dict:
    """The report minus what legitimately differs between two runs (run id, timing, outcome)."""
    out = dict(doc)
    out["summary"] = {k: v for k, v in doc["summary"].items() if k not in ("run_id", "seconds", "audited",
                                                                            "unchanged", "layers_total",
                                                                            "layers_reused")}
    out["images"] = [{k: v for k, v in i.items() if k != "outcome"} for i in doc["images"]]
    return out


def test_every_target_is_audited_unchanged_or_failed(filled: Filled, tmp_path: Path) -> None:
    reg = filled.reg
    first = run_scan(tmp_path, reg.host, "--workers", "2")
    s = first.doc["summary"]
    assert first.code == 3, first.stderr  # team/broken cannot be read
    assert (s["selected"], s["audited"], s["unchanged"], s["failed"]) == (ALL_TARGETS, N_APPS, 0, 1)
    assert s["failed_by_reason"] == {"corrupt": 1}
    [failed] = first.doc["failed_targets"]
    assert failed["selector"] == f"{reg.host}/team/broken:v1" and failed["digest"].startswith("sha256:")
    assert first.doc["images"][0]["status"] == "failed"  # worst first
    # Tags, not bare digests, name every image; each has exactly its one tag.
    assert all(len(i["tags"]) == 1 and i["tags"][0].startswith(f"{reg.host}/team/") for i in first.doc["images"])
    # Base and shared layers are indexed once across both workers (the per-layer lock): the
    # other N_APPS-1 images read them from the cache.
    assert s["layers_total"] == 3 * N_APPS
    assert s["layers_reused"] == 2 * (N_APPS - 1)

    second = run_scan(tmp_path, reg.host, "--workers", "2")
    s2 = second.doc["summary"]
    assert second.code == 3
    assert (s2["audited"], s2["unchanged"], s2["failed"]) == (0, N_APPS, 1)  # broken is retried, still broken
    assert {i["outcome"] for i in second.doc["images"] if i["status"] == "ok"} == {"unchanged"}
    assert _volatile(second.doc) == _volatile(first.doc)  # same content, same order

    # Move team/app3:v1 to an image that runs as a non-root user: SL206 is fixed by the move.
    push(reg, filled.tmp, _non_root(3), "team/app3")
    third = run_scan(tmp_path, reg.host, "--workers", "2", "--repo", "team/app*")
    s3 = third.doc["summary"]
    assert third.code == 0  # --fail-on defaults to none for scans, and nothing failed
    assert (s3["audited"], s3["unchanged"], s3["moved_tags"]) == (1, N_APPS - 1, 1)
    [moved] = third.doc["moved_tags"]
    assert moved["selector"] == f"{reg.host}/team/app3:v1" and moved["from"] != moved["to"]
    assert "SL206" in {f["rule"] for f in moved["fixed_findings"]}
    assert s3["fixed_findings"] == len(moved["fixed_findings"]) and s3["new_findings"] == len(moved["new_findings"])

    strict = run_scan(tmp_path, reg.host, "--repo", "team/app*", "--fail-on", "medium")
    assert strict.code == 1  # SL203 (medium) in every app image

    conn = sqlite3.connect(tmp_path / "scan.db")
    (dupes,) = conn.execute("select count(*) from (select digest from audits"
                            " group by digest, tool_version, config_hash having count(*) > 1)").fetchone()
    assert dupes == 0


def _non_root(i: int):  # type: ignore[no-untyped-def]
    spec = app_spec(i, variant="  # v2")
    spec.user = "app"
    return spec


def test_report_is_scoped_to_the_run_unless_all(filled: Filled, tmp_path: Path) -> None:
    reg = filled.reg
    run_scan(tmp_path, reg.host, "--repo", "team/app1*")
    nothing = run_scan(tmp_path, reg.host, "--repo", "nomatch*")
    assert nothing.code == 0
    assert nothing.doc["summary"]["selected"] == 0 and nothing.doc["images"] == []
    store = run_scan(tmp_path, reg.host, "--repo", "nomatch*", "--all")
    tags = sorted(t for i in store.doc["images"] for t in i["tags"])
    assert tags == sorted(f"{reg.host}/team/app{n}:v1" for n in range(N_APPS) if str(n).startswith("1"))
    # the console follows COLUMNS (issue 13); wide enough here for a tag and digest on one line
    text = run_scan(tmp_path, reg.host, "--repo", "team/app1*", fmt="console", env={"COLUMNS": "160"}).doc["text"]
    assert "KiB" in text and " KB" not in text
    assert f"{reg.host}/team/app10:v1 @" in text  # tag with its short digest


def test_progress_is_one_line_summaries_without_a_tty(filled: Filled, tmp_path: Path) -> None:
    run = run_scan(tmp_path, filled.reg.host, "--repo", "team/app2*", "--workers", "1",
                   env={"SITELENS_PROGRESS_INTERVAL": "0"})
    lines = [line for line in run.stderr.splitlines() if line.startswith("sitelens scan: ")]
    assert lines and lines[-1].startswith("sitelens scan: 1/1 done (1 audited, 0 unchanged, 0 failed)")


def test_killed_run_resumes_with_one_row_per_digest(filled: Filled, tmp_path: Path) -> None:
    reg = filled.reg
    db = tmp_path / "scan.db"
    argv = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json", "--db", str(db),
            "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if sqlite3.connect(db).execute("select count(*) from audits").fetchone()[0] >= 3:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = sqlite3.connect(db).execute("select count(*) from audits").fetchone()[0]
    assert 3 <= before < ALL_TARGETS
    # The killed run's claims are taken over at once: its process is gone.
    rest = run_scan(tmp_path, reg.host, "--workers", "1")
    s = rest.doc["summary"]
    assert s["audited"] + s["unchanged"] + s["failed"] == ALL_TARGETS
    assert s["unchanged"] >= before - 1  # the failed image is retried, not skipped
    rows = sqlite3.connect(db).execute("select digest, count(*) from audits group by digest").fetchall()
    assert len(rows) == ALL_TARGETS
    assert all(n == 1 for _, n in rows)


def test_a_tag_that_vanishes_between_listing_and_fetch_is_a_failed_target(tmp_path: Path) -> None:
    from fixtures.registry import start_registry
    from sitelens.scan.executor import LocalExecutor
    from sitelens.scan.job import run_scan as run_job
    from sitelens.scan.store import ResultStore
    from sitelens.scan.summary import scan_exit_code, summarise
    from sitelens.scan.targets import registry_targets
    from sitelens.scan.task import audit_task
    from sitelens.sources.base import SourceOptions
    from tests.scan.conftest import delete_manifest

    with start_registry(tmp_path / "reg") as reg:
        kept = push(reg, tmp_path, app_spec(1), "team/kept")
        doomed = push(reg, tmp_path, app_spec(2), "team/doomed")
        targets = registry_targets(reg.host, "*", "*", SourceOptions())
        assert [t.digest for t in targets] == [doomed, kept]  # both listed and resolved
        delete_manifest(reg, "team/doomed", doomed)  # ... and one is gone before it is fetched
        store = ResultStore(str(tmp_path / "scan.db"))
        options = {"cache_dir": str(tmp_path / "cache"), "use_cache": True}
        run = run_job(targets, store, LocalExecutor(1), audit_task, options, "cfg")
        report = summarise(store, "cfg", run)
    assert (run.stats.audited, run.stats.failed) == (1, 1)
    [failed] = report["failed_targets"]
    assert failed["selector"] == f"{reg.host}/team/doomed:v1" and failed["reason"] == "not_found"
    assert scan_exit_code(report, "none") == 3


def test_a_registry_behind_auth_is_one_failed_target_not_an_empty_run(tmp_path: Path) -> None:
    from fixtures.registry import start_registry
    from tests.helpers import require_tool

    require_tool("htpasswd")
    with start_registry(tmp_path / "reg", auth="htpasswd") as reg:
        run = run_scan(tmp_path, reg.host)
    assert run.code == 3
    [failed] = run.doc["failed_targets"]
    assert (failed["selector"], failed["reason"]) == (reg.host, "auth")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_a_killed_worker_fails_its_images_and_the_run_goes_on(filled: Filled, tmp_path: Path) -> None:
    reg = filled.reg
    db = tmp_path / "scan.db"
    argv = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json", "--db", str(db),
            "--cache-dir", str(tmp_path / "cache"), "--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    killed = None
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            stored = sqlite3.connect(db).execute("select count(*) from audits").fetchone()[0]
        except sqlite3.OperationalError:
            stored = 0
        workers = _children(proc.pid)
        if stored >= 1 and workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    out, err = proc.communicate(timeout=600)
    assert killed is not None, "the scan finished before a worker could be killed"
    assert "Traceback" not in err
    s = json.loads(out)["summary"]
    assert s["audited"] + s["unchanged"] + s["failed"] == ALL_TARGETS  # nothing lost
    assert s["failed_by_reason"].get("internal", 0) >= 1
    rest = run_scan(tmp_path, reg.host, "--workers", "2")
    assert rest.doc["summary"]["failed_by_reason"] == {"corrupt": 1}  # the victims are retried and pass


def test_a_store_that_cannot_be_opened_ends_the_scan_while_the_registry_is_silent(tmp_path: Path) -> None:
    """The targets are resolved in the background from the start; a usage error found meanwhile
    (here: the store's directory does not exist) ends the command without waiting for a registry
    that accepts connections and never answers (it would take the client minutes to give up)."""
    import socket
    import threading

    held: list[socket.socket] = []
    server = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.getsockname()[1]}"
        argv = [sys.executable, "-m", "sitelens", "scan", host, "--format", "json",
                "--db", str(tmp_path / "missing" / "scan.db"), "--cache-dir", str(tmp_path / "cache")]
        # The client would give up on the silent registry after 30 s per attempt, five attempts:
        # a scan that waited for it would not end within this bound.
        out = subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert out.returncode == 2
    assert "cannot open results database" in out.stderr
    assert "Traceback" not in out.stderr
