"""Do two sitelens versions write the same JSON report? A speed change must not change results.

Run: ``python benchmarks/report_identity.py --out DIR [--big]`` audits every image of the set with
the sitelens that ``PYTHONPATH`` selects and writes one JSON report per image into ``DIR``;
``python benchmarks/report_identity.py --compare DIR_A DIR_B`` says which reports differ.

The set: the SL1 scenario images of ``fixtures/sl1_images.py`` (built once, written as
docker-archives under ``benchmarks/out/identity/``), ``fixtures/demo/jinja2-demo.tar`` and, with
``--big``, the audit benchmark's image (``pyimage.py``). Each audit is a fresh
``sitelens audit -f json --fail-on none`` process with a fresh cache directory, run three times:
cold (indexes built), warm (indexes from the cache, analysis redone: ``SITELENS_NO_RESULT_CACHE``)
and again (a result-cache hit where the version has one), so every path is compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
OUT = HERE / "out" / "identity"


def _scenario_archives() -> dict[str, Path]:
    import fixtures.sl1_images as imgs
    from fixtures.imagebuilder import write_docker_archive

    OUT.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    work = OUT / "work"
    work.mkdir(exist_ok=True)
    for name, build in imgs.SCENARIOS.items():
        path = OUT / f"{name}.tar"
        if not path.exists():
            write_docker_archive(build(work).built, path)
        out[name] = path
    venv_paths = sorted(OUT.glob("venv-*.tar"))
    if not venv_paths:
        for name, sc in imgs.venv_images(work).items():
            write_docker_archive(sc.built, OUT / f"{name}.tar")
        venv_paths = sorted(OUT.glob("venv-*.tar"))
    out.update({p.stem: p for p in venv_paths})
    return out


def images(big: bool) -> dict[str, Path]:
    found = _scenario_archives()
    found["jinja2-demo"] = ROOT / "fixtures" / "demo" / "jinja2-demo.tar"
    if big:
        from pyimage import OUT as PY_OUT
        from pyimage import generate

        generate()
        found["big"] = PY_OUT / "big-docker.tar"
    return found


def audit_all(out: Path, big: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sitelens = [sys.executable, "-m", "sitelens"]
    for name, path in images(big).items():
        cache = Path(tempfile.mkdtemp(prefix="sl-identity-"))
        try:
            for mode in ("cold", "warm", "again"):
                dest = out / f"{name}.{mode}.json"
                env = {k: v for k, v in os.environ.items() if k != "SITELENS_NO_RESULT_CACHE"}
                if mode == "warm":
                    env["SITELENS_NO_RESULT_CACHE"] = "1"
                proc = subprocess.run(
                    [*sitelens, "audit", "-f", "json", "-o", str(dest), "--fail-on", "none", "-q",
                     "--cache-dir", str(cache), f"docker-archive:{path}"],
                    capture_output=True, text=True, env=env,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{name} ({mode}): exit {proc.returncode}: {proc.stderr[-400:]}")
            print(f"{name}: {(out / f'{name}.cold.json').stat().st_size} bytes", flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.glob("*.json")} | {p.name for p in b.glob("*.json")})
    differ = [n for n in names if not (a / n).exists() or not (b / n).exists()
              or (a / n).read_bytes() != (b / n).read_bytes()]
    for n in differ:
        print(f"DIFFERS: {n}")
    print(f"{len(names) - len(differ)} of {len(names)} reports byte-identical")
    return 1 if differ else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--big", action="store_true", help="also the audit benchmark's image")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"))
    args = ap.parse_args()
    if args.compare:
        raise SystemExit(compare(*args.compare))
    if not args.out:
        ap.error("--out DIR or --compare DIR_A DIR_B")
    audit_all(args.out, args.big)


if __name__ == "__main__":
    main()
