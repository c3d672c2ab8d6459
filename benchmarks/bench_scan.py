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
peak RSS is its own VmHWM (polled from /proc), not its workers'. CPU seconds are given for each
run (user+sys of the scan and its workers; of the coordinator alone; of the registry server,
which shares the machine), with the load average: on a shared machine wall times move with the
load, CPU seconds much less.

    python benchmarks/bench_scan.py [--tags 1000] [--bases 10] [--base-mb 6] [--workers 2] [--no-dask]
                                    [--reps 3] [--reuse]

``--reps`` repeats the no-op rescan and the start-up run (median reported, every run kept);
``--reuse`` keeps the generated registry of an earlier run with the same sizes (pushing a thousand
images takes about a minute).

Needs Debian's docker-registry. Writes under benchmarks/out/scan/ (results.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
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


def _proc_status(pid: int) -> tuple[int, float]:
    """(VmHWM in KiB, user+sys CPU seconds) of a live process, (0, 0.0) once it is gone."""
    hwm, cpu = 0, 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return hwm, cpu


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(argv: list[str], registry_pid: int | None = None) -> dict[str, Any]:
    """One scan: wall seconds, CPU seconds (scan + workers, coordinator alone, registry server),
    the coordinator's own peak RSS in MiB, and the JSON report (``doc``)."""
    reg_before = _proc_status(registry_pid)[1] if registry_pid else 0.0
    cpu_before = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, own = [0], [0.0]

    def poll() -> None:
        while proc.poll() is None:
            hwm, cpu = _proc_status(proc.pid)
            peak[0], own[0] = max(peak[0], hwm), max(own[0], cpu)
            time.sleep(0.02)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    watcher.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"scan failed ({proc.returncode}): {err[-2000:]}")
    return {"wall_s": round(wall, 3), "cpu_s": round(_children_cpu() - cpu_before, 2),
            "coordinator_cpu_s": round(own[0], 2),
            "registry_cpu_s": round(_proc_status(registry_pid)[1] - reg_before, 2) if registry_pid else None,
            "rss_mib": round(peak[0] / 1024, 1), "load": [round(x, 2) for x in os.getloadavg()],
            "doc": json.loads(out)}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def _keep(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k != "doc"}


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
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    out = HERE / "out" / "scan"
    sizes = {"tags": args.tags, "bases": args.bases, "base_mb": args.base_mb}
    marker = out / "registry" / "generated.json"
    reuse = args.reuse and marker.is_file() and json.loads(marker.read_text())["sizes"] == sizes
    if reuse:
        for name in ("cache", "single-cache", "dask-cache", "a.db", "d.db"):
            path = out / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    res: dict[str, Any] = {"tags": args.tags, "bases": args.bases, "workers": args.workers, "cpus": os.cpu_count(),
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "load_at_start": [round(x, 2) for x in os.getloadavg()]}
    bases = [base_layers(b, args.base_mb) for b in range(args.bases)]
    with start_registry(out / "registry") as reg:
        if reuse:
            res.update(json.loads(marker.read_text())["bytes"])
            print("reusing the generated registry", flush=True)
        else:
            t0 = time.perf_counter()
            res.update(push_all(reg, bases, args.tags))
            res["push_s"] = round(time.perf_counter() - t0, 1)
            marker.write_text(json.dumps({"sizes": sizes, "bytes": {k: res[k] for k in
                                                                   ("unique_base_bytes", "unique_app_bytes")}}))
            print(f"pushed {args.tags} tags over {args.bases} bases in {res['push_s']}s", flush=True)
        rpid = reg.process.pid
        scan = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json", "--workers", str(args.workers)]
        local = scan + ["--cache-dir", str(out / "cache"), "--db", str(out / "a.db")]

        one = f"registry:{reg.host}/bench/svc000:v0"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sitelens", "audit", one, "--format", "json", "--fail-on", "none",
                        "--cache-dir", str(out / "single-cache")], check=True, capture_output=True)
        single_s = time.perf_counter() - t
        single_bytes = sum(len(tar) for _, tar in bases[0]) + image(bases[0], "app0")[3]
        res["single_image_mib_s"] = round(single_bytes / single_s / 2**20, 2)

        first = run(local, rpid)
        assert first["doc"]["summary"]["audited"] == args.tags, first["doc"]["summary"]
        noops = [run(local, rpid) for _ in range(max(1, args.reps))]
        for r in noops:
            assert r["doc"]["summary"]["unchanged"] == args.tags, r["doc"]["summary"]
        starts = [run(local + ["--repo", "nomatch*"], rpid) for _ in range(max(1, args.reps))]
        noop, startup = _median(noops), _median(starts)
        res["first"], res["noop_runs"], res["startup_runs"] = _keep(first), [_keep(r) for r in noops], \
            [_keep(r) for r in starts]
        res["first_s"], res["first_rss_mib"] = first["wall_s"], first["rss_mib"]
        res["noop_s"], res["noop_rss_mib"], res["startup_s"] = noop["wall_s"], noop["rss_mib"], startup["wall_s"]

        moved = max(1, int(args.tags * args.retag_pct / 100))
        nonce = time.strftime("%H%M%S")  # a fresh image each run, also on a reused registry
        for t in range(moved):
            config, blobs, manifest, _ = image(bases[t % args.bases], f"app{t}-retagged-{nonce}")
            reg.put_image(config, blobs, manifest, f"bench/svc{t // 10:03d}", f"v{t % 10}", mount_from="bench/svc000")
        retag = run(local, rpid)
        doc = retag["doc"]
        assert doc["summary"]["audited"] == moved and doc["summary"]["moved_tags"] == moved, doc["summary"]
        res["retag"], res["retag_s"], res["retagged"] = _keep(retag), retag["wall_s"], moved

        if not args.no_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                              host="127.0.0.1") as cluster:
                addr = cluster.scheduler_address.replace("tcp://", "dask://")
                dask = run(scan + ["--executor", addr, "--cache-dir", str(out / "dask-cache"),
                                   "--db", str(out / "d.db")], rpid)
                res["dask"], res["dask_first_s"], res["dask_rss_mib"] = _keep(dask), dask["wall_s"], dask["rss_mib"]

    unique = res["unique_base_bytes"] + res["unique_app_bytes"]
    res["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
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
