"""Benchmark the registry scan at registry scale: TAGS tags over BASES base images in a local
docker-registry, all generated.

Measures, each as a fresh ``sitelens scan`` process:
  first pass      cold layer cache, empty store, local process pool
  no-op rescan    same store: every digest unchanged
  start-up        a scan that selects nothing (--repo 'nomatch*'): the fixed cost of a run
  retag           RETAG % of the tags moved to new images, then a rescan
  dask            first pass again (fresh cache and store) on a Dask LocalCluster, 2 workers
and the single-image audit speed (uncompressed bytes / s of one cold ``sitelens audit``) for the
"first pass within 1.2x of unique layer bytes / single-image speed" target. The coordinator's
peak RSS is its own VmHWM (polled from /proc), not its workers'.

    python benchmarks/bench_scan.py [--tags 1000] [--bases 10] [--base-mb 6] [--workers 2] [--no-dask]

Needs Debian's docker-registry. Writes under benchmarks/out/scan/ (results.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fixtures.imagebuilder import Dir, File, compress, layer_tar  # noqa: E402
from fixtures.registry import Registry, start_registry  # noqa: E402

TARGETS = {"noop_speedup": 20.0, "noop_ms_per_image": 20.0, "first_pass_ratio": 1.2, "coordinator_rss_mib": 300.0}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def base_layers(b: int, mb: int) -> list[tuple[bytes, bytes]]:
    """An OS-like layer and a Python layer, different for each base: many small files, some big."""
    rnd = random.Random(b)
    os_files: list[Any] = [Dir("/etc"), File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
                           File("/etc/group", b"root:x:0:\n"), Dir("/usr"), Dir("/usr/share"), Dir("/usr/bin"),
                           File("/usr/bin/python3.11", b"placeholder\n", mode=0o755)]
    per = max(1, mb * 1_000_000 // 2 // 400)
    os_files += [File(f"/usr/share/base{b}-{i:04d}.txt", rnd.randbytes(per // 2).hex().encode()) for i in range(400)]
    py: list[Any] = [Dir("/usr/lib"), Dir("/usr/lib/python3.11"), File("/usr/lib/python3.11/os.py", b"# landmark\n"),
                     Dir("/usr/lib/python3.11/site-packages")]
    py += [File(f"/usr/lib/python3.11/mod{b}_{i:04d}.py", (f"# base {b} module {i}\n" * (per // 24)).encode())
           for i in range(400)]
    out = []
    for entries in (os_files, py):
        tar = layer_tar(entries)
        blob, _ = compress(tar, "gzip")
        out.append((blob, tar))
    return out


def image(base: list[tuple[bytes, bytes]], app_id: str) -> tuple[bytes, list[bytes], bytes, int]:
    """(config, blobs, manifest, uncompressed bytes of the app layer) for base + one app layer."""
    app_tar = layer_tar([Dir("/app"), File(f"/app/{app_id}.py", f"print({app_id!r})\n".encode() * 200)])
    app_blob, _ = compress(app_tar, "gzip")
    layers = [*base, (app_blob, app_tar)]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3.11", f"/app/{app_id}.py"]},
        "rootfs": {"type": "layers", "diff_ids": [_sha(t) for _, t in layers]},
        "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _sha(b),
                    "size": len(b)} for b, _ in layers],
    }, separators=(",", ":")).encode()
    return config, [b for b, _ in layers], manifest, len(app_tar)


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(argv: list[str]) -> tuple[float, dict[str, Any], float]:
    """Wall seconds, the JSON report, and the coordinator's own peak RSS in MiB."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _hwm_kib(proc.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    watcher.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"scan failed ({proc.returncode}): {err[-2000:]}")
    return wall, json.loads(out), peak[0] / 1024


def push_all(reg: Registry, bases: list[list[tuple[bytes, bytes]]], tags: int) -> dict[str, int]:
    """Tag t of repository bench/b<t % bases> ... spread over 10 tags per repository."""
    app_bytes = 0
    for t in range(tags):
        b = t % len(bases)
        config, blobs, manifest, n = image(bases[b], f"app{t}")
        app_bytes += n
        repo = f"bench/svc{t // 10:03d}"
        reg.put_image(config, blobs, manifest, repo, f"v{t % 10}", mount_from="bench/svc000")
    base_bytes = sum(len(tar) for base in bases for _, tar in base)
    return {"unique_base_bytes": base_bytes, "unique_app_bytes": app_bytes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--bases", type=int, default=10)
    ap.add_argument("--base-mb", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--retag-pct", type=float, default=1.0)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    out = HERE / "out" / "scan"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    res: dict[str, Any] = {"tags": args.tags, "bases": args.bases, "workers": args.workers, "cpus": os.cpu_count()}
    bases = [base_layers(b, args.base_mb) for b in range(args.bases)]
    with start_registry(out / "registry") as reg:
        t0 = time.perf_counter()
        res.update(push_all(reg, bases, args.tags))
        res["push_s"] = round(time.perf_counter() - t0, 1)
        print(f"pushed {args.tags} tags over {args.bases} bases in {res['push_s']}s", flush=True)
        scan = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json", "--workers", str(args.workers)]
        local = scan + ["--cache-dir", str(out / "cache"), "--db", str(out / "a.db")]

        one = f"registry:{reg.host}/bench/svc000:v0"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sitelens", "audit", one, "--format", "json", "--fail-on", "none",
                        "--cache-dir", str(out / "single-cache")], check=True, capture_output=True)
        single_s = time.perf_counter() - t
        single_bytes = sum(len(tar) for _, tar in bases[0]) + image(bases[0], "app0")[3]
        res["single_image_mib_s"] = round(single_bytes / single_s / 2**20, 2)

        res["first_s"], doc, res["first_rss_mib"] = run(local)
        assert doc["summary"]["audited"] == args.tags, doc["summary"]
        res["noop_s"], doc, res["noop_rss_mib"] = run(local)
        assert doc["summary"]["unchanged"] == args.tags, doc["summary"]
        res["startup_s"], _, _ = run(local + ["--repo", "nomatch*"])

        moved = max(1, int(args.tags * args.retag_pct / 100))
        for t in range(moved):
            config, blobs, manifest, _ = image(bases[t % args.bases], f"app{t}-retagged")
            reg.put_image(config, blobs, manifest, f"bench/svc{t // 10:03d}", f"v{t % 10}", mount_from="bench/svc000")
        res["retag_s"], doc, _ = run(local)
        assert doc["summary"]["audited"] == moved and doc["summary"]["moved_tags"] == moved, doc["summary"]
        res["retagged"] = moved

        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                              host="127.0.0.1") as cluster:
                addr = cluster.scheduler_address.replace("tcp://", "dask://")
                res["dask_first_s"], doc, res["dask_rss_mib"] = run(
                    scan + ["--executor", addr, "--cache-dir", str(out / "dask-cache"), "--db", str(out / "d.db")])

    unique = res["unique_base_bytes"] + res["unique_app_bytes"]
    res["first_pass_ideal_s"] = round(unique / (res["single_image_mib_s"] * 2**20), 2)
    res["first_pass_ratio"] = round(res["first_s"] / res["first_pass_ideal_s"], 2)
    res["noop_speedup"] = round(res["first_s"] / res["noop_s"], 1)
    res["noop_ms_per_image"] = round(max(0.0, res["noop_s"] - res["startup_s"]) / args.tags * 1000, 2)
    res["first_ms_per_image"] = round(res["first_s"] / args.tags * 1000, 1)
    (out / "results.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    print("targets:", json.dumps(TARGETS))


if __name__ == "__main__":
    main()
