"""The forked analysis part: its answer comes back from a real child process, a child's
exception is the caller's, a child that really dies has its part computed again here, and a
cancelled child is reaped."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sitelens.forked import ENV_SWITCH, ChildFailed, Forked, can_fork

PARENT = os.getpid()


def test_the_answer_comes_from_a_child() -> None:
    part = Forked(lambda: (os.getpid(), [1, {"a": b"x"}]), fork=True)
    pid, value = part.result()
    assert pid != PARENT and value == [1, {"a": b"x"}]
    assert part.died is None


def test_without_fork_the_part_runs_here_when_asked() -> None:
    calls: list[int] = []
    part = Forked(lambda: calls.append(os.getpid()) or "done", fork=False)
    assert calls == []  # not before result(): the caller decides when
    assert part.result() == "done" and calls == [PARENT]


def test_a_childs_exception_is_raised_here() -> None:
    def fail() -> None:
        raise KeyError("missing fact")

    with pytest.raises(KeyError, match="missing fact"):
        Forked(fail, fork=True).result()


def test_an_exception_that_cannot_be_pickled_keeps_its_text() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    def fail() -> None:
        raise Local("odd failure")

    with pytest.raises(ChildFailed, match="Local: odd failure"):
        Forked(fail, fork=True).result()


def test_a_child_killed_midway_has_its_part_computed_here() -> None:
    def work() -> int:
        if os.getpid() != PARENT:
            os.kill(os.getpid(), signal.SIGKILL)  # the child really dies, no answer
        return 42

    part = Forked(work, fork=True)
    assert part.result() == 42
    assert part.died == "was killed by signal 9"


def test_a_result_that_cannot_be_pickled_is_computed_here() -> None:
    part = Forked(lambda: threading.Lock() if os.getpid() != PARENT else "here", fork=True)
    assert part.result() == "here"
    assert part.died == "exited with status 1"


def test_cancel_kills_and_reaps_the_child() -> None:
    part = Forked(lambda: time.sleep(60), fork=True)
    pid = part._pid
    assert pid
    started = time.monotonic()
    part.cancel()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left


def test_no_fork_with_another_thread_or_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        t.join()
    monkeypatch.setenv(ENV_SWITCH, "0")
    assert not can_fork()


class NeedsTwo(Exception):
    def __init__(self, a: str, b: str) -> None:  # pickles, but does not unpickle (args is one str)
        super().__init__(f"{a}/{b}")


def test_an_answer_that_does_not_unpickle_is_computed_here() -> None:
    def work() -> str:
        if os.getpid() != PARENT:
            raise NeedsTwo("x", "y")
        return "here"

    part = Forked(work, fork=True)
    assert part.result() == "here"
    assert part.died is not None and "unpickle" in part.died
