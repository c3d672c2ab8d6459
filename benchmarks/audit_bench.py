"""Benchmark: what the user runs — ``sitelens audit`` — against trivy and dive, on the same files.

Run: ``python benchmarks/audit_bench.py [--reps 5] [--scale 1,4,8] [--peers trivy,dive]``

The image (``pyimage.py``: a Debian 12 root + numpy/scipy/pandas installed twice, ≈ 650 MB) is
generated once as a plain docker-archive and a gzip OCI layout. In one run, on those files:

- ``sitelens audit -f json`` as a fresh process (interpreter start-up and imports included),
  cold (empty cache), warm (same cache again: the result cache answers) and warm-redo (same
  cache, ``--no-result-cache``: layer indexes from the cache, the analysis redone), both forms;
- ``trivy image --input`` (``--scanners license --list-all-pkgs``, offline: the vuln scanner
  needs a database download), cold (fresh ``--cache-dir``) and warm, both forms;
- ``dive --json`` on the archive (it reads no OCI layout);
- with ``--scale``: sitelens audit cold, warm and warm-redo on the archive holding 1×, 4×, 8× the image
  (the 8× one is ≈ 5 GB, 128 k files) and, written ``K+A``, K× the image plus A venvs of many small
  files (``6+13``: 5.2 GB, ≥ 200 k files): time should grow linearly with files and RSS stay ≤ 300 MB.

Each command runs ``--reps`` times; the table gives the median wall time, the CPU (user+sys,
children included) and the peak RSS of the process tree over the runs (``wait4``), then the
ratios the targets are stated in. Results also go to ``benchmarks/out/py/audit-results.json``.
Python byte-code of sitelens is compiled first, as an installed wheel has it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pyimage import OUT, generate, scaled, scaled_stats  # noqa: E402


@dataclass
class Row:
    tool: str
    form: str
    mode: str
    wall: float  # median
    cpu: float  # median
    rss_mb: float  # max
    runs: list[float]
    load: list[float]  # 1-minute load average when each run ended


def _once(argv: list[str], before: list[str] | None, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    if before:
        subprocess.run(before, check=False)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **env} if env else None)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: sitelens found something, which is not a failure here
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {err[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def run(rows: list[Row], tool: str, form: str, mode: str, reps: int, argv: list[str],
        before: list[str] | None = None, env: dict[str, str] | None = None) -> Row:
    got = []
    loads = []
    for _ in range(reps):
        got.append(_once(argv, before, env))
        loads.append(round(os.getloadavg()[0], 1))
    row = Row(tool, form, mode, statistics.median(g[0] for g in got), statistics.median(g[1] for g in got),
              max(g[2] for g in got), [round(g[0], 2) for g in got], loads)
    rows.append(row)
    print(f"  {tool:9} {form:9} {mode:10} wall {row.wall:6.2f} s  cpu {row.cpu:6.2f} s  "
          f"rss {row.rss_mb:5.0f} MiB  {row.runs}  (load {loads})", flush=True)
    return row


def run_sitelens(rows: list[Row], form: str, ref: str, reps: int, tmp: Path) -> None:
    cache = tmp / f"sl-cache-{form}"
    argv = [shutil.which("sitelens") or "sitelens", "audit", "-f", "json", "-o", str(tmp / f"sl-{form}.json"),
            "--fail-on", "none", "--cache-dir", str(cache), ref]
    run(rows, "sitelens", form, "cold", reps, argv, before=["rm", "-rf", str(cache)])
    run(rows, "sitelens", form, "warm", reps, argv)  # the result cache answers
    # indexes from the cache, the analysis redone: what a changed config or new code costs
    # (the variable, not --no-result-cache: an older checkout without the option ignores it)
    run(rows, "sitelens", form, "warm-redo", reps, argv, env={"SITELENS_NO_RESULT_CACHE": "1"})


def trivy(rows: list[Row], form: str, target: Path, reps: int, tmp: Path) -> None:
    cache = tmp / f"trivy-cache-{form}"
    argv = ["trivy", "image", "--input", str(target), "--format", "json", "--list-all-pkgs", "--scanners",
            "license", "--skip-db-update", "--offline-scan", "--quiet", "--cache-dir", str(cache),
            "-o", str(tmp / "trivy.json")]
    run(rows, "trivy", form, "cold", reps, argv, before=["rm", "-rf", str(cache)])
    run(rows, "trivy", form, "warm", reps, argv)


def _get(rows: list[Row], tool: str, form: str, mode: str) -> Row | None:
    return next((r for r in rows if (r.tool, r.form, r.mode) == (tool, form, mode)), None)


def ratios(rows: list[Row], sizes: dict[str, dict[str, int]]) -> list[str]:
    out = []
    for form in ("archive", "oci-gzip"):
        cold, warm = _get(rows, "sitelens", form, "cold"), _get(rows, "sitelens", form, "warm")
        if cold is None or warm is None:
            continue
        t = _get(rows, "trivy", form, "cold")
        if t:
            out.append(f"{form}: sitelens cold / trivy cold = {cold.wall:.2f} / {t.wall:.2f} = "
                       f"{cold.wall / t.wall:.2f}x ({'met' if cold.wall <= t.wall else 'NOT met'}); "
                       f"cpu {cold.cpu:.2f} / {t.cpu:.2f} = {cold.cpu / t.cpu:.2f}x")
        d = _get(rows, "dive", form, "cold")
        if d:
            out.append(f"{form}: sitelens cold / dive = {cold.wall:.2f} / {d.wall:.2f} = "
                       f"{cold.wall / d.wall:.2f}x ({'met' if cold.wall <= d.wall else 'NOT met'}); "
                       f"cpu {cold.cpu:.2f} / {d.cpu:.2f} = {cold.cpu / d.cpu:.2f}x")
        bound = 0.3 + 0.1 * cold.wall
        for w in (warm, _get(rows, "sitelens", form, "warm-redo")):
            if w is not None:
                out.append(f"{form}: {w.mode} {w.wall:.2f} s (cpu {w.cpu:.2f} s) vs 0.3 s + 10 % of cold = "
                           f"{bound:.2f} s ({'met' if w.wall <= bound else 'NOT met'})")
    for r in rows:
        if r.tool == "sitelens" and r.form.startswith("x"):
            mb = r.rss_mb * 1.048576  # the target is in MB, the figure in MiB
            files = sizes.get(r.form, {}).get("files", 0)
            per = f", {1000 * r.wall / files:.3f} s per 1 000 files" if files else ""
            out.append(f"{r.form} {r.mode}: {r.wall:.2f} s, cpu {r.cpu:.2f} s{per}, peak RSS {r.rss_mb:.0f} MiB = "
                       f"{mb:.0f} MB ({'met' if mb <= 300 else 'NOT met'} ≤ 300 MB)")
    return out


def _scale_point(spec: str) -> tuple[int, int]:
    """``K`` or ``K+A``: K× the image, plus A app venvs."""
    k, _, a = spec.partition("+")
    return int(k), int(a or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peers", default="trivy,dive", help="comma-separated subset of trivy,dive ('' for none)")
    ap.add_argument("--forms", default="archive,oci-gzip")
    ap.add_argument("--scale", default="", help="e.g. 1,4,8: sitelens on k× the image (archive)")
    ap.add_argument("--scale-reps", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT / "audit-results.json",
                    help="results file (measure another checkout with PYTHONPATH=its/src --out ...)")
    args = ap.parse_args()
    stats = generate()
    import sitelens  # the checkout PYTHONPATH selects

    subprocess.run([sys.executable, "-m", "compileall", "-q", *sitelens.__path__], check=True)
    print(f"image: {stats['uncompressed_bytes'] / 1e6:.0f} MB, {stats['files']} files, "
          f"{stats['gzip_bytes'] / 1e6:.0f} MB gzip; {os.cpu_count()} cores", flush=True)
    targets = {"archive": OUT / "big-docker.tar", "oci-gzip": OUT / "big-oci"}
    refs = {"archive": f"docker-archive:{targets['archive']}", "oci-gzip": f"oci:{targets['oci-gzip']}:latest"}
    peers = {p for p in args.peers.split(",") if p}
    rows: list[Row] = []
    sizes: dict[str, dict[str, int]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="sl-audit-bench-"))
    try:
        for form in (f for f in args.forms.split(",") if f):
            run_sitelens(rows, form, refs[form], args.reps, tmp)
            if "trivy" in peers and shutil.which("trivy"):
                trivy(rows, form, targets[form], args.reps, tmp)
            if "dive" in peers and form == "archive" and shutil.which("dive"):
                run(rows, "dive", form, "cold", args.reps,
                    ["dive", "--source", "docker-archive", str(targets[form]), "--json", str(tmp / "dive.json")])
        for k, a in (_scale_point(x) for x in args.scale.split(",") if x):
            form = f"x{k}+{a}app" if a else f"x{k}"
            target = scaled(k, apps=a)
            sizes[form] = scaled_stats(k, apps=a)
            print(f"{form}: {sizes[form]['uncompressed_bytes'] / 1e9:.2f} GB, {sizes[form]['files']} files, "
                  f"{sizes[form]['layers']} layers", flush=True)
            run_sitelens(rows, form, f"docker-archive:{target}", args.scale_reps, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = ratios(rows, sizes)
    print("\n".join(lines))
    args.out.write_text(json.dumps(
        {"image": stats, "scale": sizes, "rows": [asdict(r) for r in rows], "ratios": lines}, indent=1))


if __name__ == "__main__":
    main()
