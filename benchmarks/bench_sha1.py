"""Benchmark: what the apk sha1 costs the layer index.

Run: ``python benchmarks/bench_sha1.py [--reps 5] [--src DIR]``

The layer index hashes ``/usr/lib/python3.X/site-packages/*`` with sha1 besides sha256 (and md5,
which that tree already gets), so apk's ``Z:Q1`` checksums can be compared. The tree only exists
on Alpine (apk's py3-* packages) and Fedora/RHEL (the noarch purelib); Debian puts nothing there.
This builds one uncompressed layer tar in memory from a real site-packages tree (default: the
running interpreter's), placed once under ``/usr/lib/python3.11/site-packages`` (hashed) and once
under ``/usr/lib/python3/dist-packages`` (not hashed), and times ``build_index`` on each with the
sha1 rule on and off. Best of ``--reps`` CPU seconds (``time.process_time``).
"""

from __future__ import annotations

import argparse
import io
import os
import site
import tarfile
import time
from pathlib import Path

from sitelens.layers import index as index_mod


def layer(src: Path, dest: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, _dirs, files in os.walk(src):
            for name in files:
                full = Path(dirpath) / name
                if full.is_symlink() or not full.is_file():
                    continue
                ti = tar.gettarinfo(str(full), arcname=dest.lstrip("/") + "/" + str(full.relative_to(src)))
                with open(full, "rb") as fh:
                    tar.addfile(ti, fh)
    return buf.getvalue()


def best(data: bytes, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.process_time()
        index_mod.build_index(io.BytesIO(data), "sha256:" + "0" * 64, "bench")
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--src", type=Path, default=Path(site.getsitepackages()[0]))
    args = ap.parse_args()
    real_rule = index_mod.wants_sha1
    for dest in ("/usr/lib/python3.11/site-packages", "/usr/lib/python3/dist-packages"):
        data = layer(args.src, dest)
        on = best(data, args.reps)
        index_mod.wants_sha1 = lambda _p: False  # type: ignore[assignment]
        off = best(data, args.reps)
        index_mod.wants_sha1 = real_rule
        mib = len(data) / 2**20
        print(f"{dest}: {mib:.0f} MiB tar; build_index CPU {off:.3f} s without sha1, {on:.3f} s with "
              f"(+{(on - off) / off * 100:.0f}%)")


if __name__ == "__main__":
    main()
