"""Where a scan's per-image tasks run: local processes, or a Dask distributed cluster.

Both executors take the same picklable task (``scan.task.audit_task``) and yield results as they
complete, so the coordinator stores each one at once and an interrupted run loses at most the
tasks in flight. Dask was chosen for the multi-machine case because it is a maintained Python
scheduler whose workers run exactly this function with no extra packaging (no broker, no
container per task), has a real local cluster for tests, and deploys as plain pods on Kubernetes
(see docs/scan.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UsageError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

Task = Callable[..., dict[str, Any]]


def worker_died(error: str) -> dict[str, Any]:
    return {"status": "failed", "reason": "internal", "error": error.splitlines()[0], "seconds": 0.0}


class Executor(Protocol):
    def run(self, fn: Task, jobs: list[tuple[Any, ...]]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """``--workers N`` processes on this machine (N=1 runs in-process, handy for debugging)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Task, jobs: list[tuple[Any, ...]]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        if self.workers == 1:
            for job in jobs:
                yield job, fn(*job)
            return
        # multiprocessing is imported once there is something to run, not by a no-op rescan
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        self._pool = ProcessPoolExecutor(max_workers=self.workers)
        pending: dict[Future[dict[str, Any]], tuple[tuple[Any, ...], ProcessPoolExecutor]] = {}
        queue = list(jobs)
        try:
            # Keep only a small window in flight: a kill loses little and memory stays flat.
            while queue or pending:
                while queue and len(pending) < self.workers * 2:
                    job = queue.pop(0)
                    try:
                        pending[self._pool.submit(fn, *job)] = (job, self._pool)
                    except BrokenProcessPool:
                        # a worker died between two submissions: the pool refuses new work before
                        # its futures report the death; the job waits for the fresh pool
                        queue.insert(0, job)
                        if not pending:
                            self._renew()
                        break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    job, pool = pending.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        # A worker died (OOM killer, a signal): every image in flight is recorded
                        # as failed, to be retried next run, and a fresh pool takes the rest.
                        result = worker_died("a scan worker process died (killed or out of memory)")
                        if pool is self._pool:
                            self._renew()
                    yield job, result
        finally:
            for fut in pending:
                fut.cancel()

    def _renew(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(max_workers=self.workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """``--executor dask://HOST:PORT``: tasks go to an existing Dask distributed scheduler."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("the dask executor needs 'pip install sitelens[dask]'") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None

    def run(self, fn: Task, jobs: list[tuple[Any, ...]]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        from distributed import as_completed

        futures = {}
        for job in jobs:
            # pure=False: the same image may legitimately be re-audited (a moved tag).
            fut = self.client.submit(fn, *job, pure=False)
            futures[fut] = job
        try:
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connections: one image, not the run
                    result = worker_died(f"the Dask task failed: {type(exc).__name__}: {exc}")
                yield futures[fut], result
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        self.client.close()


def make_executor(spec: str | None, workers: int) -> Executor:
    if spec is None or spec in ("local", "process"):
        return LocalExecutor(workers)
    if spec.startswith("dask://"):
        return DaskExecutor("tcp://" + spec[len("dask://"):])
    if spec.startswith("tcp://"):
        return DaskExecutor(spec)
    raise UsageError(f"unknown executor {spec!r} (use 'local' or dask://HOST:PORT)")
