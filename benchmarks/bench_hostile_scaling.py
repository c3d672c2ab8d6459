"""Benchmark: does the cost of an audit grow linearly with hostile input sizes? (issue 14 §8)

Run: ``python benchmarks/bench_hostile_scaling.py [--only record,metadata,dpkg,files] [--profile]``

For each input kind, the demo image (``fixtures/demo``) gets one more layer holding N of
something, and ``sitelens audit`` runs on it in a fresh process (``--no-cache``, JSON to
/dev/null) under the hostile harness (``tests/hostile/harness.py``: wall time, peak RSS):

- ``record``: one dist-info whose RECORD has N rows (10k → 80k);
- ``metadata``: one dist-info whose METADATA has N ``Requires-Dist`` lines, none installed;
- ``dpkg``: a dpkg ``status`` of N packages (60 MB at the top size);
- ``files``: a layer of N empty files (to 500k).

The last column is seconds per 10k units: flat means linear. ``--profile`` writes a cProfile of
the largest size of each kind under ``benchmarks/out/`` (that is how the super-linear parts
were found).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile.harness import run_cli  # noqa: E402
from tests.hostile.kit import demo, tar_of, write  # noqa: E402

SITE = "usr/local/lib/python3.11/dist-packages"


def record(n: int) -> bytes:
    rows = b"".join(b"big/m%d.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n" % i for i in range(n))
    return tar_of([(f"{SITE}/big-1.dist-info/METADATA", b"Metadata-Version: 2.1\nName: big\nVersion: 1\n"),
                 (f"{SITE}/big-1.dist-info/RECORD", rows)])


def metadata(n: int) -> bytes:
    reqs = b"".join(b"Requires-Dist: missing-%d>=1.0; python_version >= '3'\n" % i for i in range(n))
    return tar_of([(f"{SITE}/req-1.dist-info/METADATA", b"Metadata-Version: 2.1\nName: req\nVersion: 1\n" + reqs)])


def dpkg(n: int) -> bytes:
    para = (b"Package: pkg%d\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
            b"Installed-Size: 1\nMaintainer: x <x@example.org>\nArchitecture: amd64\nVersion: 1.%d\n"
            b"Depends: libc6 (>= 2.34), pkg%d\nDescription: package %d\n" + b" filler line of text\n" * 6 + b"\n")
    status = b"".join(para % (i, i, max(i - 1, 0), i) for i in range(n))
    return tar_of([("var/lib/dpkg/status", status)])


def files(n: int) -> bytes:
    return tar_of([(f"e/{i // 1000}/{i}", b"") for i in range(n)])


KINDS: dict[str, tuple[Callable[[int], bytes], list[int]]] = {
    "record": (record, [10_000, 20_000, 40_000, 80_000]),
    "metadata": (metadata, [5_000, 10_000, 20_000, 40_000]),
    "dpkg": (dpkg, [25_000, 50_000, 100_000, 200_000]),  # 200k paragraphs ~ 60 MB
    "files": (files, [62_500, 125_000, 250_000, 500_000]),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(KINDS))
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'kind':9} {'N':>8} {'layer MB':>9} {'wall s':>7} {'peak MiB':>9} {'exit':>4} {'s/10k':>6}")
    for kind in args.only.split(","):
        make, sizes = KINDS[kind]
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix="sitelens-scale-") as tmp:
                work = Path(tmp)
                layer = make(n)
                parts = demo().add_tar(layer)
                image = write(parts, work / "img.tar", "docker")
                o = run_cli(["audit", str(image), "--no-cache", "-f", "json", "-o", str(work / "r.json")],
                            work / "run", timeout=900, as_limit=8 << 30)
                print(f"{kind:9} {n:8d} {len(layer) / 1e6:9.1f} {o.seconds:7.1f} {o.peak_rss >> 20:9d} "
                      f"{o.code!s:>4} {o.seconds / n * 1e4:6.2f}", flush=True)
                if args.profile and n == sizes[-1]:
                    _profile(image, out / f"profile-{kind}.txt")


def _profile(image: Path, dest: Path) -> None:
    from sitelens.audit import AuditOptions, run_audit
    from sitelens.report.formats import renderer
    from sitelens.report.interface import RenderOptions

    prof = cProfile.Profile()
    prof.enable()
    result = run_audit(str(image), AuditOptions(use_cache=False))
    renderer("json").render(result, RenderOptions())
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    dest.write_text(buf.getvalue())
    print(f"  profile: {dest}")


if __name__ == "__main__":
    main()
