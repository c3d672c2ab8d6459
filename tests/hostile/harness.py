"""Run the real CLI on one hostile input, in a child process under hard limits, and judge it.

The contract (issue 14): whatever the input, sitelens ends within its time budget, prints at
most one line on stderr and never a traceback, exits with an allowed code, stays under
``RSS_LIMIT`` and writes nothing outside its cache dir. ``HOME`` and ``TMPDIR`` point into a
watched directory that must be unchanged afterwards; the child runs in its own session so a
hang is killed whole (workers included).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RSS_LIMIT = 500 << 20
# Address space, not RSS: CPython, glibc arenas and the worker threads reserve far more than they
# touch. Past this the child gets MemoryError, which the CLI must report in one line.
AS_LIMIT = 3 << 30
TIMEOUT = 60.0


@dataclass
class Outcome:
    args: list[str]
    code: int | None
    stderr: str
    seconds: float
    peak_rss: int  # bytes, the child and the workers it waited for
    timed_out: bool
    outside: list[str] = field(default_factory=list)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def problems(self, allowed: frozenset[int]) -> list[str]:
        out = []
        if self.timed_out:
            out.append(f"hang: killed after {self.seconds:.0f} s")
        elif self.code not in allowed:
            out.append(f"exit {self.code}, allowed {sorted(allowed)}")
        if "Traceback" in self.stderr:
            out.append("traceback")
        if len(self.stderr_lines) > 1:
            out.append(f"{len(self.stderr_lines)} stderr lines")
        if self.peak_rss > RSS_LIMIT:
            out.append(f"peak RSS {self.peak_rss >> 20} MiB")
        if self.outside:
            out.append(f"wrote outside the cache dir: {self.outside[:3]}")
        return out

    def describe(self, allowed: frozenset[int]) -> str:
        tail = self.stderr.strip().splitlines()[-3:]
        return f"{self.args}: {'; '.join(self.problems(allowed))} | stderr: {' / '.join(tail)[:400]}"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            seen[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return seen


# Linux carries a forking process's RSS into the child's ru_maxrss across exec, so a CLI started
# straight from a 1 GB pytest worker would report 1 GB. A small launcher process forks the CLI
# instead: the CLI then starts from the launcher's ~10 MB, and wait4 gives the CLI's own peak,
# which the launcher writes to a file. It ends the way the CLI ended (same code, same signal).
_LAUNCHER = r"""
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _limits(as_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_cli(
    args: list[str], work: Path, timeout: float = TIMEOUT, as_limit: int = AS_LIMIT,
    cache: bool = True, python_module: bool = True,
) -> Outcome:
    """``python -m sitelens ARGS`` with HOME/TMPDIR watched and the cache under ``work/cache``
    (``python_module=False``: ``python ARGS``, to test the judge itself). ``SITELENS_HOSTILE_SRC``
    runs another checkout's code (e.g. main before a fix) under the same judge."""
    watched = work / "watched"
    for sub in ("home", "tmp"):
        (watched / sub).mkdir(parents=True, exist_ok=True)
    cache_dir = work / "cache"
    env = dict(os.environ)
    env.update(HOME=str(watched / "home"), TMPDIR=str(watched / "tmp"), XDG_CACHE_HOME=str(cache_dir),
               CI="1", COLUMNS="120", PYTHONPATH=os.environ.get("SITELENS_HOSTILE_SRC", str(ROOT / "src")))
    env.pop("DOCKER_CONFIG", None)
    reads_image = {"audit", "layers", "inventory"} & set(args[:3])
    full = [*args, "--cache-dir", str(cache_dir)] if cache and reads_image else args
    before = _snapshot(watched)
    start = time.monotonic()
    peak_file = work / "peak-rss"
    peak_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(peak_file), sys.executable,
         *(["-m", "sitelens"] if python_module else []), *full], env=env, cwd=str(watched / "home"),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True, preexec_fn=lambda: _limits(as_limit),
    )
    chunks: list[bytes] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read(1 << 20)), daemon=True)  # type: ignore[union-attr]
    reader.start()
    timed_out, status, peak = False, 0, 0
    while True:
        # wait4, not communicate(): its rusage is this child's own peak RSS, where RUSAGE_CHILDREN
        # would mix in every earlier case. It is the fallback when the launcher could not report
        # (a killed hang): under a big pytest worker it over-states, erring on the strict side.
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            peak = usage.ru_maxrss * 1024
            break
        if time.monotonic() - start > timeout:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            peak = usage.ru_maxrss * 1024
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with contextlib.suppress(OSError, ValueError):
        peak = int(peak_file.read_text()) * 1024  # the CLI's own peak, measured by the launcher
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers a killed run left behind
    reader.join(5)
    proc.stderr.close()
    after = _snapshot(watched)
    outside = sorted(k for k in after.keys() | before.keys() if before.get(k) != after.get(k))
    err = b"".join(chunks).decode("utf-8", "replace")
    return Outcome(args, None if timed_out else proc.returncode, err, time.monotonic() - start, peak,
                   timed_out, outside)
