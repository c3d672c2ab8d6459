"""Time the analysis after the inventory: the waste model and every check, as ``audit_image`` runs them.

Run by hand (figures in README.md), from a checkout::

    python benchmarks/bench_analysis.py [--runs 5] [--image REF] [--cache-dir DIR] [--base SRC]

The image defaults to the audit benchmark's (``pyimage.py`` builds it under ``out/py/``).

Each run is a fresh process (``--one``) that loads the image from the layer cache, builds the
inventory, then times ``compute_waste`` (and its three parts) and each registered check, and the
time the garbage collector took inside each stage (a full collection lands in whichever stage
crosses the threshold, so it is reported apart). All in one process, as a scan worker runs it
(``audit_image`` may run parts in a forked child: see forked.py), with ``audit_image``'s
``gc.freeze()`` of the loaded image. With ``--base SRC`` every run
of this checkout is paired with one of the sitelens under ``SRC`` (another checkout's ``src``),
one after the other, so both see the same machine load. Medians over the runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGE = f"docker-archive:{HERE / 'out' / 'py' / 'big-docker.tar'}"


def _one(ref: str, cache_dir: Path) -> dict[str, object]:
    in_gc = [0.0]
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            in_gc[0] += time.perf_counter() - started[0]

    gc.callbacks.append(on_gc)
    import sitelens.audit as audit
    from sitelens.checks.base import REGISTRY, Context
    from sitelens.checks.derived import Derived
    from sitelens.inventory.builder import build_inventory
    from sitelens.inventory.identities import resolve_identities
    from sitelens.pipeline import load
    from sitelens.strategy import detect_strategy
    from sitelens.waste import WasteReport, _inventory_records, compute_hidden, compute_python_waste, dive_figures

    audit.import_analysis()
    with load(ref, None, cache_dir, True, None) as loaded:
        gc.freeze()  # as audit_image does: the filesystem and indexes are out of the collector's way
        fs, image = loaded.fs, loaded.image
        inventory = build_inventory(fs, image, resolve_identities(fs, image.config, [], warnings=[]))
        strategy = detect_strategy(inventory, fs)
        parts: dict[str, float] = {}
        gc0, t0 = in_gc[0], time.perf_counter()
        python = compute_python_waste(fs, inventory.package_dbs, _inventory_records(inventory))
        parts["python"] = time.perf_counter() - t0
        t = time.perf_counter()
        dive = dive_figures(loaded.indexes)
        parts["dive"] = time.perf_counter() - t
        t = time.perf_counter()
        hidden = compute_hidden(fs)
        parts["hidden"] = time.perf_counter() - t
        waste = WasteReport(dive=dive, hidden=hidden, python=python)
        waste_s, waste_gc = time.perf_counter() - t0, in_gc[0] - gc0
        ctx = Context(
            fs=fs, inventory=inventory, image=image, indexes=loaded.indexes,
            options={"requirements": [], "waste": audit.Config().waste.to_json(), "users": []},
            derived=Derived(fs, inventory, image, loaded.indexes, strategy=strategy, waste=waste),
        )
        checks: dict[str, float] = {}
        gc0, t0 = in_gc[0], time.perf_counter()
        for rc in REGISTRY:
            t = time.perf_counter()
            list(rc.fn(ctx))
            checks[rc.name.removeprefix("sitelens.checks.")] = time.perf_counter() - t
        checks_s, checks_gc = time.perf_counter() - t0, in_gc[0] - gc0
    return {"waste": waste_s, "waste_gc": waste_gc, "waste_parts": parts,
            "checks": checks_s, "checks_gc": checks_gc, "per_check": checks}


def _run(src: Path | None, ref: str, cache_dir: Path) -> dict[str, object]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    proc = subprocess.run([sys.executable, __file__, "--one", "--image", ref, "--cache-dir", str(cache_dir)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{src}: exit {proc.returncode}: {proc.stderr[-600:]}")
    return json.loads(proc.stdout)


def _summary(name: str, runs: list[dict]) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    parts = {k: round(statistics.median(r["waste_parts"][k] for r in runs), 4) for k in runs[0]["waste_parts"]}
    no_gc = statistics.median(r["waste"] + r["checks"] - r["waste_gc"] - r["checks_gc"] for r in runs)
    print(f"{name}: waste {med('waste'):.4f} s (gc {med('waste_gc'):.4f}; {parts}), "
          f"checks {med('checks'):.4f} s (gc {med('checks_gc'):.4f}), both without gc {no_gc:.4f} s")
    per = {k: statistics.median(r["per_check"][k] for r in runs) for k in runs[0]["per_check"]}
    for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {v:.4f} s  {k}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--cache-dir", type=Path, default=HERE / "out" / "analysis-cache")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--base", type=Path, help="another sitelens src dir, run alternately")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.image, args.cache_dir)))
        return
    here_src = HERE.parent / "src"
    base_cache = args.cache_dir / "base"  # the other version's index format may differ
    _run(here_src, args.image, args.cache_dir)  # fills the layer caches: not timed
    if args.base is not None:
        _run(args.base, args.image, base_cache)
    mine, base = [], []
    for _ in range(args.runs):
        if args.base is not None:
            base.append(_run(args.base, args.image, base_cache))
        mine.append(_run(here_src, args.image, args.cache_dir))
    if base:
        _summary(f"base ({args.base})", base)
    _summary("this checkout", mine)


if __name__ == "__main__":
    main()
