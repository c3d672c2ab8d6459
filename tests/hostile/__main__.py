"""``python -m tests.hostile [fuzz N [SEED]]``: run the corpus (and N fuzz cases), print the
counts issue 14 asks for: cases, clean, tracebacks, hangs, outside writes, peak RSS."""

from __future__ import annotations

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cases import CASES, Case
from .fuzz import fuzz_cases
from .harness import Outcome, run_cli


def _run(c: Case) -> tuple[Case, Outcome]:
    with tempfile.TemporaryDirectory(prefix="sitelens-hostile-") as tmp:
        work = Path(tmp)
        (work / "input").mkdir()
        args = c.make(work / "input")
        return c, run_cli(args, work / "run", timeout=c.timeout)


def main(argv: list[str]) -> int:
    cases = list(CASES)
    if argv[:1] == ["fuzz"]:
        n = int(argv[1]) if len(argv) > 1 else 300
        seed = int(argv[2]) if len(argv) > 2 else 0
        cases = list(fuzz_cases(seed, n))
    elif argv:
        cases = [c for c in cases if any(a in c.name for a in argv)]
    counts = dict(cases=0, clean=0, tracebacks=0, hangs=0, outside=0, bad_exit=0, multiline=0, over_rss=0)
    peak = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for c, o in pool.map(_run, cases):
            counts["cases"] += 1
            peak = max(peak, o.peak_rss)
            problems = o.problems(c.allowed)
            counts["clean"] += not problems
            counts["tracebacks"] += "Traceback" in o.stderr
            counts["hangs"] += o.timed_out
            counts["outside"] += bool(o.outside)
            counts["bad_exit"] += any(p.startswith("exit") for p in problems)
            counts["multiline"] += any("stderr lines" in p for p in problems)
            counts["over_rss"] += any("RSS" in p for p in problems)
            status = "ok  " if not problems else "FAIL"
            print(f"{status} {c.name:45} exit={o.code} {o.seconds:5.1f}s {o.peak_rss >> 20:4d}MiB "
                  f"{'; '.join(problems)} | {o.stderr.strip().splitlines()[-1][:150] if o.stderr.strip() else ''}",
                  flush=True)
    print(" ".join(f"{k}={v}" for k, v in counts.items()), f"peak_rss={peak >> 20}MiB")
    return 0 if counts["clean"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
