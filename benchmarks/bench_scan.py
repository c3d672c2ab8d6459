"""Benchmark the registry scanning job: N images sharing a base, pushed to a local registry.

Reports total scan time (cold cache, then a no-op rescan, then a warm-cache rescan with a fresh
results database) against the sum of *unique* layer bytes, so the effect of the shared layer
cache is visible: a cold scan should cost about one read of the unique bytes, not N reads of
the base.

    python benchmarks/bench_scan.py [--images 40] [--base-mb 120] [--workers 2]

Needs Debian's docker-registry and skopeo (see .ci/run). Writes under benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, build, write_oci_layout  # noqa: E402
from fixtures.registry import start_registry  # noqa: E402


def base_layer(total_mb: int, files: int) -> LayerSpec:
    rnd = random.Random(42)
    per = max(1, total_mb * 1_000_000 // files)
    entries: list = [Dir("/usr"), Dir("/usr/lib"), Dir("/usr/lib/python3.11"),
                     File("/usr/lib/python3.11/os.py", b"# landmark\n"),
                     Dir("/usr/lib/python3.11/site-packages"), Dir("/usr/bin"),
                     File("/usr/bin/python3.11", b"placeholder\n", mode=0o755), Dir("/data")]
    for i in range(files):
        # Incompressible content so gzip sizes stay realistic.
        entries.append(File(f"/data/f{i:05d}.bin", rnd.randbytes(per)))
    return LayerSpec(entries, created_by="base")


def run(argv: list[str]) -> tuple[float, dict]:
    t = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--base-mb", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    out = HERE / "out" / "scan"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    base = base_layer(args.base_mb, 2000)
    unique_bytes = 0
    with start_registry(out / "registry") as reg:
        t0 = time.perf_counter()
        seen: set[str] = set()
        for i in range(args.images):
            app = LayerSpec([Dir("/app"), File(f"/app/{i}.bin", random.Random(i).randbytes(500_000))],
                            created_by=f"COPY app {i}")
            built = build(ImageSpec(layers=[base, app], cmd=["python3", "/app/main.py"]), "gzip")
            for blob, tar, _ in built.layers:
                key = str(hash(blob))
                if key not in seen:
                    seen.add(key)
                    unique_bytes += len(tar)
            layout = write_oci_layout(built, out / f"layout{i}", "v1")
            reg.push(layout, "v1", f"bench/app{i}:v1")
            shutil.rmtree(layout)
        print(f"pushed {args.images} images in {time.perf_counter() - t0:.1f}s; "
              f"unique uncompressed layer bytes {unique_bytes / 1e6:.1f} MB")
        common = [sys.executable, "-m", "sitelens", "scan", reg.host, "--format", "json",
                  "--workers", str(args.workers), "--cache-dir", str(out / "cache")]
        cold, doc = run(common + ["--db", str(out / "a.db")])
        noop, doc2 = run(common + ["--db", str(out / "a.db")])
        warm, doc3 = run(common + ["--db", str(out / "b.db")])
        s = doc["summary"]
        print(f"cold scan:  {cold:6.2f}s  audited {s['audited']}  layers {s['layers_total']} "
              f"reused {s['layers_reused']}  -> {unique_bytes / 1e6 / cold:.0f} MB/s of unique bytes")
        print(f"no-op scan: {noop:6.2f}s  skipped {doc2['summary']['skipped']}")
        print(f"warm cache, new db: {warm:6.2f}s  reused {doc3['summary']['layers_reused']}")
        print(f"per image: cold {cold / args.images * 1000:.0f} ms, warm {warm / args.images * 1000:.0f} ms "
              f"(cpus: {os.cpu_count()})")


if __name__ == "__main__":
    main()
