"""Progress of a scan: a rich bar on a terminal, a one-line summary every ``interval`` seconds
otherwise (a nightly job's log shows it is alive without a line per image)."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import IO, TYPE_CHECKING

from .job import ScanStats

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DEFAULT_INTERVAL = 30.0


def _line(stats: ScanStats, elapsed: float) -> str:
    return (f"sitelens scan: {stats.finished}/{stats.selected} done ({stats.audited} audited, "
            f"{stats.unchanged} unchanged, {stats.failed} failed) after {elapsed:.0f}s")


class ScanProgress:
    def __init__(self, stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.stream = stream or sys.stderr
        env = os.environ.get("SITELENS_PROGRESS_INTERVAL")
        self.interval = interval if interval is not None else float(env) if env else DEFAULT_INTERVAL
        self.started = time.monotonic()
        self.last = self.started
        self.tty = self.stream.isatty()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ScanProgress:
        if self.tty:
            # rich only on a terminal: a JSON scan in a job need not import it (≈ 50 ms)
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("scan"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), transient=True,
                                 console=Console(file=self.stream))  # stdout carries the report
            self._bar.start()
        return self

    def __call__(self, stats: ScanStats) -> None:
        if self._bar is not None:
            detail = f"{stats.audited} audited, {stats.unchanged} unchanged, {stats.failed} failed"
            if self._task is None:
                self._task = self._bar.add_task("scan", total=stats.selected, detail=detail)
            self._bar.update(self._task, completed=stats.finished, total=stats.selected, detail=detail)
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            print(_line(stats, now - self.started), file=self.stream, flush=True)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
