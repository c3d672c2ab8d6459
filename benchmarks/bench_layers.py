"""Benchmark: reading a big image's layers — the floor, sitelens cold/warm, and the peers.

Run: ``python benchmarks/bench_layers.py [--reps 3] [--no-peers] [--no-codecs]``

Generates (once) the image described in ``bigimage.py`` under ``benchmarks/out/`` as a
docker-archive with plain layers and an OCI layout with gzip layers, then measures on the same
files, in one run:

- the floor: ``tar -t`` of every layer (headers only: GNU tar seeks over member data),
  ``sha256sum`` of every layer (every byte read and digested once), and
  ``gzip -dc | tar -t`` of every gzip blob;
- sitelens: ``sitelens.pipeline.load`` in a fresh process, cold (empty cache), warm (same
  cache) and ``--no-cache``; and the CLI ``sitelens ls REF /`` cold and warm;
- the peers: ``dive`` (docker-archive; it has no OCI-layout source), ``trivy`` (both forms,
  ``--scanners license --list-all-pkgs``, fresh ``--cache-dir`` for cold) and ``syft`` (both);
- the gzip/zstd decompressors sitelens could use, on the OCI gzip blobs (single thread).

Each command runs ``--reps`` times; the table shows the best wall time (least disturbed by other
load on a shared machine), the CPU time (user+sys) of that run and the peak RSS of the process
tree (``wait4`` rusage). Results also go to ``benchmarks/out/results.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bigimage import generate  # noqa: E402

LOAD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from sitelens.pipeline import load\n"
    "cache = Path(sys.argv[2]) if sys.argv[2] != '-' else None\n"
    "with load(sys.argv[1], cache_dir=cache, use_cache=cache is not None) as l:\n"
    "    n = sum(1 for _ in l.fs.paths())\n"
    "print(n)\n"
)


@dataclass
class Result:
    name: str
    form: str
    wall: float
    cpu: float
    rss_mb: float
    runs: list[float]


def measure(argv: list[str], env: dict[str, str] | None = None, shell: bool = False,
            before: list[str] | None = None) -> tuple[float, float, float]:
    """(wall s, user+sys s, peak RSS MiB) of one run of a command and its children."""
    if before:
        subprocess.run(before, check=False)
    start = time.perf_counter()
    proc = subprocess.Popen(argv if not shell else ["sh", "-c", argv[0]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0] if shell else ' '.join(argv)} failed: {err[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def bench(results: list[Result], name: str, form: str, reps: int, argv: list[str], **kw) -> Result:  # type: ignore[no-untyped-def]
    runs = [measure(argv, **kw) for _ in range(reps)]
    best = min(runs, key=lambda r: r[0])
    r = Result(name, form, best[0], best[1], max(x[2] for x in runs), [round(x[0], 3) for x in runs])
    results.append(r)
    print(f"  {form:8} {name:34} {r.wall:7.2f} s  cpu {r.cpu:6.2f} s  rss {r.rss_mb:6.0f} MiB  {r.runs}",
          flush=True)
    return r


def floors(results: list[Result], reps: int) -> None:
    layers = sorted((OUT / "layers").glob("[0-9].tar"))
    gz = sorted((OUT / "layers").glob("[0-9].tar.gz"))
    tars = " ".join(str(p) for p in layers)
    bench(results, "floor: tar -t (headers)", "archive", reps,
          [f"for f in {tars}; do tar -tf $f >/dev/null; done"], shell=True)
    bench(results, "floor: sha256sum (every byte)", "archive", reps, ["sha256sum", *map(str, layers)])
    bench(results, "floor: gzip -dc | tar -t", "oci-gzip", reps,
          [f"for f in {' '.join(map(str, gz))}; do gzip -dc $f | tar -t >/dev/null; done"], shell=True)


def sitelens(results: list[Result], reps: int, refs: dict[str, str]) -> None:
    sl = shutil.which("sitelens") or "sitelens"
    for form, ref in refs.items():
        cache = Path(tempfile.mkdtemp(prefix="sl-bench-cache-"))
        try:
            bench(results, "sitelens load, cold", form, reps, [sys.executable, "-c", LOAD, ref, str(cache)],
                  before=["rm", "-rf", str(cache)])
            bench(results, "sitelens load, warm", form, reps, [sys.executable, "-c", LOAD, ref, str(cache)])
            bench(results, "sitelens load, --no-cache", form, reps, [sys.executable, "-c", LOAD, ref, "-"])
            bench(results, "sitelens ls REF /, cold", form, reps, [sl, "ls", "--cache-dir", str(cache), ref, "/"],
                  before=["rm", "-rf", str(cache)])
            bench(results, "sitelens ls REF /, warm", form, reps, [sl, "ls", "--cache-dir", str(cache), ref, "/"])
        finally:
            shutil.rmtree(cache, ignore_errors=True)


def peers(results: list[Result], reps: int, archive: Path, oci: Path, which: set[str]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sl-bench-peers-"))
    try:
        if "dive" in which and shutil.which("dive"):
            bench(results, "dive --json", "archive", reps,
                  ["dive", "--source", "docker-archive", str(archive), "--json", str(tmp / "dive.json")])
        if "trivy" in which and shutil.which("trivy"):
            for form, target in (("archive", archive), ("oci-gzip", oci)):
                tc = tmp / f"trivy-cache-{form}"
                argv = ["trivy", "image", "--input", str(target), "--format", "json", "--list-all-pkgs",
                        "--scanners", "license", "--skip-db-update", "--offline-scan", "--quiet",
                        "--cache-dir", str(tc), "-o", str(tmp / "trivy.json")]
                bench(results, "trivy (license, all pkgs), cold", form, reps, argv, before=["rm", "-rf", str(tc)])
                bench(results, "trivy (license, all pkgs), warm", form, reps, argv)
        if "syft" in which and shutil.which("syft"):
            for form, src in (("archive", f"docker-archive:{archive}"), ("oci-gzip", f"oci-dir:{oci}")):
                bench(results, "syft -o json", form, max(1, reps - 1),
                      ["syft", src, "-q", "-o", f"json={tmp / 'syft.json'}"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def codecs(reps: int) -> list[dict[str, float | str]]:
    """Single-thread decompression throughput (MB/s of output) on the OCI gzip blobs."""
    import zlib

    import zstandard
    from isal import igzip, isal_zlib

    blobs = [p.read_bytes() for p in sorted((OUT / "layers").glob("[0-9].tar.gz"))]
    plain_total = sum(p.stat().st_size for p in sorted((OUT / "layers").glob("[0-9].tar")))
    zst = OUT / "layers" / "zstd3.bin"
    if not zst.exists():
        cctx = zstandard.ZstdCompressor(level=3)
        zst.write_bytes(b"".join(cctx.compress(p.read_bytes()) for p in sorted((OUT / "layers").glob("[0-9].tar"))))
    zdata = zst.read_bytes()

    def zlib_like(mod):  # type: ignore[no-untyped-def]
        def run() -> int:
            n = 0
            for b in blobs:
                d = mod.decompressobj(31)
                for i in range(0, len(b), 1 << 20):
                    n += len(d.decompress(b[i : i + (1 << 20)]))
            return n
        return run

    def gzipfile(cls):  # type: ignore[no-untyped-def]
        def run() -> int:
            n = 0
            for b in blobs:
                g = cls(fileobj=io.BytesIO(b), mode="rb")
                while c := g.read(1 << 20):
                    n += len(c)
            return n
        return run

    def zstd_reader() -> int:
        n = 0
        r = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(zdata), read_across_frames=True)
        while c := r.read(1 << 20):
            n += len(c)
        return n

    cands = [("zlib (stdlib) decompressobj", zlib_like(zlib)),
             ("isal isal_zlib decompressobj", zlib_like(isal_zlib)),
             ("isal igzip.IGzipFile (used)", gzipfile(igzip.IGzipFile))]
    try:
        from zlib_ng import gzip_ng, zlib_ng

        cands += [("zlib-ng decompressobj", zlib_like(zlib_ng)),
                  ("zlib-ng gzip_ng.GzipNGFile", gzipfile(gzip_ng.GzipNGFile))]
    except ImportError:
        pass
    cands.append(("zstandard stream_reader (zstd -3)", zstd_reader))
    out = []
    gz_total = sum(len(b) for b in blobs)
    for name, fn in cands:
        best = min(_cpu(fn) for _ in range(reps))
        out.append({"codec": name, "seconds": round(best, 3), "mb_per_s": round(plain_total / best / 1e6)})
        print(f"  {name:36} {best:6.2f} s  {plain_total / best / 1e6:6.0f} MB/s", flush=True)
    print(f"  (gzip blobs {gz_total / 1e6:.0f} MB, zstd -3 {len(zdata) / 1e6:.0f} MB, tar {plain_total / 1e6:.0f} MB)")
    return out


def _cpu(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-codecs", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--peers", default="dive,trivy,syft", help="comma-separated subset of peers")
    args = ap.parse_args()
    stats = generate(OUT)
    print(f"image: {stats['layers']} layers, {stats['uncompressed_bytes'] / 1e6:.0f} MB uncompressed, "
          f"{stats['gzip_bytes'] / 1e6:.0f} MB gzip, {stats['files']} files; load {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cpus")
    archive, oci = OUT / "big-docker.tar", OUT / "big-oci"
    results: list[Result] = []
    if not args.no_floor:
        print("floor:")
        floors(results, args.reps)
    print("sitelens:")
    sitelens(results, args.reps, {"archive": f"docker-archive:{archive}", "oci-gzip": f"oci:{oci}"})
    if not args.no_peers:
        print("peers:")
        peers(results, args.reps, archive, oci, set(args.peers.split(",")))
    codec_rows = [] if args.no_codecs else (print("decompressors:") or codecs(args.reps))
    report = {"image": stats, "loadavg_end": os.getloadavg(), "results": [asdict(r) for r in results],
              "codecs": codec_rows}
    (OUT / "results.json").write_text(json.dumps(report, indent=1))
    ratios(results)


def ratios(results: list[Result]) -> None:
    by = {(r.form, r.name): r for r in results}
    for form in ("archive", "oci-gzip"):
        cold = by.get((form, "sitelens load, cold"))
        warm = by.get((form, "sitelens load, warm"))
        peers_ = [r for r in results if r.form == form and not r.name.startswith(("sitelens", "floor"))
                  and "warm" not in r.name]
        if not cold or not warm:
            continue
        fastest = min(peers_, key=lambda r: r.wall) if peers_ else None
        line = f"{form}: cold {cold.wall:.2f} s"
        if fastest:
            line += f" vs fastest peer {fastest.name} {fastest.wall:.2f} s (ratio {cold.wall / fastest.wall:.2f})"
        budget = 0.3 + 0.1 * cold.wall
        line += f"; warm {warm.wall:.2f} s vs budget {budget:.2f} s; peak RSS {max(cold.rss_mb, warm.rss_mb):.0f} MiB"
        print(line)


if __name__ == "__main__":
    main()
