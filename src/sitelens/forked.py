"""Run one part of the analysis in a forked child while this process runs another.

The analysis (inventory, waste model, checks) is pure Python that holds the GIL, so a thread
cannot use the second core. A forked child starts with every object the parent has built
(copy-on-write, nothing is copied or pickled on the way in) and sends back only its result,
pickled through a pipe. Each part is a pure function of what both processes already hold, so
where it runs never changes what it returns; running it in the parent (:func:`can_fork` is false,
the child died) gives the same value, only later.

Forking is used only where it is safe and useful: Linux, a single-threaded process (a fork while
another thread holds a lock can deadlock the child), and not inside a worker of a pool (the scan
job's processes, a Dask worker) that already keeps every core busy.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# SITELENS_ANALYSIS_FORK=0 keeps the whole analysis in one process (debugging, profiling).
ENV_SWITCH = "SITELENS_ANALYSIS_FORK"


def can_fork() -> bool:
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False  # macOS: fork without exec is unsafe with system frameworks; Windows: none
    if threading.active_count() != 1:
        return False
    return multiprocessing.parent_process() is None and not multiprocessing.current_process().daemon


class ChildFailed(Exception):
    """The child's function raised an exception that cannot cross the pipe as itself."""


class Forked(Generic[T]):
    """``fn()``, computed in a forked child when ``fork`` is true, else in this process when
    :meth:`result` is first called. A child that dies without answering (killed, out of memory)
    is not an error of the analysis: its part is computed again here, and :attr:`died` says so."""

    def __init__(self, fn: Callable[[], T], fork: bool) -> None:
        self._fn = fn
        self._pid = 0
        self._fd = -1
        self.died: str | None = None  # how the child ended, when it gave no answer
        if fork:
            self._start()

    def _start(self) -> None:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # process limits: the parent does the work instead
            os.close(r)
            os.close(w)
            return
        if pid == 0:  # the child: never returns into the caller's code
            os.close(r)
            self._serve(w)
        os.close(w)
        self._pid, self._fd = pid, r

    def _serve(self, fd: int) -> None:
        code = 0
        try:
            # Ctrl-C is the parent's to handle: it kills and reaps this child.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # A collection would write to every object the parent built (their GC headers),
            # copying each shared page; the child's garbage ends with it anyway.
            gc.disable()
            try:
                value = self._fn()
            except BaseException as exc:  # noqa: BLE001 - the function's failure is the caller's
                try:
                    payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 - an exception that does not pickle
                    payload = pickle.dumps((False, ChildFailed(f"{type(exc).__name__}: {exc}")))
            else:
                # a value that does not pickle ends in the handler below: no answer, so the
                # parent computes it itself
                payload = pickle.dumps((True, value), pickle.HIGHEST_PROTOCOL)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:  # noqa: BLE001 - no traceback from a child; the parent recomputes
            code = 1
        finally:
            # _exit: no atexit handlers, no flushing of buffers the parent also holds
            os._exit(code)

    def result(self) -> T:
        if self._pid == 0:
            return self._fn()
        chunks: list[bytes] = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        except BaseException:  # Ctrl-C while waiting: the child's answer is not wanted
            self._reap(kill=True)
            raise
        status = self._reap(kill=False)
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            # no answer, or a partial one: the part is computed again here
            self.died = (
                f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                else f"exited with status {os.waitstatus_to_exitcode(status)}"
            )
            return self._fn()
        try:
            ok, value = pickle.loads(b"".join(chunks))
        except Exception as exc:  # noqa: BLE001 - e.g. an exception class whose __init__ wants other args
            self.died = f"answered with what does not unpickle ({type(exc).__name__})"
            return self._fn()
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        """Stop and reap a child whose answer is no longer wanted (the parent failed first)."""
        if self._pid:
            self._reap(kill=True)

    def _reap(self, kill: bool) -> int:
        os.close(self._fd)
        self._fd = -1
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        return status
