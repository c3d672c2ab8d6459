"""The per-layer lock in a shared cache dir, between real processes, and across a real Dask
LocalCluster: each shared layer indexed exactly once, counted from the cache's own journal."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from fixtures.imagebuilder import build
from sitelens.layers.cache import LayerCache
from sitelens.layers.index import LayerIndex
from sitelens.layers.loader import index_layer
from tests.helpers import image_from_built
from tests.scan.conftest import N_APPS, Filled, app_spec, run_scan

CTX = multiprocessing.get_context("fork")


def _real_index() -> LayerIndex:
    image = image_from_built(build(app_spec(7), "gzip"))
    return index_layer(image, image.layers[0])


def _holder(root: str, index: LayerIndex, hold: float, ready: Event) -> None:
    cache = LayerCache(Path(root))
    assert cache.get(index.diff_id) is None  # a miss: this process now holds the layer's lock
    ready.set()
    time.sleep(hold)
    cache.put(index)


@pytest.fixture
def index() -> LayerIndex:
    return _real_index()


@pytest.fixture
def holder(tmp_path: Path, index: LayerIndex) -> Iterator[callable]:  # type: ignore[valid-type]
    procs: list[multiprocessing.process.BaseProcess] = []

    def start(hold: float) -> multiprocessing.process.BaseProcess:
        ready = CTX.Event()
        proc = CTX.Process(target=_holder, args=(str(tmp_path), index, hold, ready))
        proc.start()
        procs.append(proc)
        assert ready.wait(30), "the holder never took the lock"
        return proc

    yield start
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid or 0, signal.SIGKILL)
        proc.join()


def test_a_waiter_reads_the_holders_entry_instead_of_indexing(tmp_path: Path, index: LayerIndex, holder) -> None:  # type: ignore[no-untyped-def]
    proc = holder(1.0)
    cache = LayerCache(tmp_path)
    started = time.monotonic()
    got = cache.get(index.diff_id)
    assert got is not None and got.diff_id == index.diff_id
    assert time.monotonic() - started >= 0.5  # it waited for the holder
    assert (cache.hits, cache.misses) == (1, 0)
    proc.join(30)
    assert [(d, pid) for d, _, pid in cache.journal()] == [(index.diff_id, proc.pid)]


def test_a_killed_holders_lock_is_free_at_once(tmp_path: Path, index: LayerIndex, holder) -> None:  # type: ignore[no-untyped-def]
    proc = holder(600.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    cache = LayerCache(tmp_path)
    started = time.monotonic()
    assert cache.get(index.diff_id) is None  # a miss, and the lock is ours
    assert time.monotonic() - started < 5
    cache.put(index)
    assert [d for d, _, _ in cache.journal()] == [index.diff_id]
    assert LayerCache(tmp_path).get(index.diff_id) is not None


def test_a_stuck_live_holder_is_treated_as_stale(tmp_path: Path, index: LayerIndex, holder) -> None:  # type: ignore[no-untyped-def]
    holder(600.0)
    cache = LayerCache(tmp_path, stale_after=0.5)
    started = time.monotonic()
    assert cache.get(index.diff_id) is None  # gave up waiting: indexes it itself
    assert 0.4 <= time.monotonic() - started < 10


def test_dask_workers_sharing_a_cache_index_each_layer_once(filled: Filled, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    reg = filled.reg
    local = run_scan(tmp_path / "local", reg.host, "--repo", "team/app*", "--workers", "2")
    work = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        remote = run_scan(work, reg.host, "--repo", "team/app*",
                          "--executor", cluster.scheduler_address.replace("tcp://", "dask://"))
    assert remote.code == 0, remote.stderr
    assert remote.doc["summary"]["audited"] == N_APPS

    journal = LayerCache(work / "cache").journal()
    per_layer = Counter(d for d, _, _ in journal)
    assert len(per_layer) == N_APPS + 2  # base, shared, and one unique layer per app
    assert set(per_layer.values()) == {1}, per_layer
    assert len({pid for _, _, pid in journal}) == 2  # both workers did indexing work

    def key(doc: dict) -> dict:
        return {i["digest"]: (i["status"], i["counts"], i["wasted_bytes"],
                              sorted(f["fingerprint"] for f in i["findings"])) for i in doc["images"]}

    assert key(remote.doc) == key(local.doc)
