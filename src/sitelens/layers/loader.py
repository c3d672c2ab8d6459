"""Index every layer of an image once: from the cache, or by streaming its blob.

Each blob is verified: the stored digest over the bytes as read, and the diff_id over the
uncompressed tar (the cache key, so a blob whose content does not match its declared diff_id can
never poison the shared cache for another image). Both are taken while the blob streams, except
where the caller asks to defer them (``deferred``): a blob that is a local file then has its
stored digest (for a plain layer, also its diff_id) taken from the file again later, beside the
analysis, and its index is cached only once that passes (``verify.py``).

Layers are indexed in parallel. Hashing and decompression release the GIL, but a layer of tens
of thousands of small files is mostly Python work that holds it, so threads alone stay near one
core. When the image says its blobs are plain local files (``Image.fork_safe``: OCI layout,
docker/oci archives) the layers are indexed in forked worker processes instead, longest first,
and each index comes back as one marshal blob. Sources whose openers hold sockets or sessions (registry,
engine) stay in threads: a forked child must never share a parent's connection.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..decompress import HashingReader, InflationGuard, open_tar_stream
from ..errors import CorruptImage, ImageError, SitelensError
from ..image import Image, Layer
from .cache import LayerCache
from .index import Entry, LayerIndex, build_index
from .verify import BlobStamp, DeferredDigests, blob_stamp

BACKGROUND_MIN = 4 << 20  # blob bytes below which a layer's digests stay on its own thread

Progress = Callable[[Layer, str], None]
Finish = Callable[[Layer, LayerIndex, "BlobStamp | None"], LayerIndex]


def index_layer(image: Image, layer: Layer, background: bool = False) -> LayerIndex:
    return _index_layer(image, layer, background, defer=False)[0]


def _index_layer(image: Image, layer: Layer, background: bool, defer: bool) -> tuple[LayerIndex, BlobStamp | None]:
    """The layer's index, and None when both its digests were checked; with ``defer``, a blob
    that is a local file is not digested as stored, and its stamp is returned instead: the
    caller checks it later (``verify.DeferredDigests``) and caches the index only then."""
    where = f"layer {layer.index} ({layer.diff_id[:19]})"
    # ``background``: the stream digests run in threads of their own (they release the GIL), so
    # they take an idle core while this thread parses and hashes member files. Worth it only
    # when cores would idle: it costs ≈ 0.25 s of CPU per GB in thread hand-offs, and starting
    # the threads costs more than digesting a small blob (a scan's app layers) on this thread.
    background = background and (layer.size is None or layer.size >= BACKGROUND_MIN)
    with image.open_layer(layer) as raw:
        stamp = blob_stamp(raw) if defer and layer.diff_id else None
        outer = HashingReader(raw, background=background, digest=stamp is None)
        inner = outer
        try:
            with open_tar_stream(outer, where) as (tar, codec):  # type: ignore[arg-type]
                # A plain blob is its own tar: the blob digest is the diff_id, hash it once.
                if codec != "plain":
                    inner = HashingReader(InflationGuard(tar, lambda: outer.count, where), background=background)  # type: ignore[arg-type]
                    if stamp is not None and not layer.digest:
                        stamp = None  # nothing left to check later: no digest of the blob as stored
                index = build_index(tar if codec == "plain" else inner, layer.diff_id, where, codec)  # type: ignore[arg-type]
            outer.drain()
        finally:
            outer.stop()
            inner.stop()
    if stamp is None and outer.digesting:
        blob_digest = "sha256:" + outer.hexdigest()
        if layer.digest and layer.digest.startswith("sha256:") and blob_digest != layer.digest:
            raise CorruptImage(f"{where}: blob digest mismatch: expected {layer.digest}, got {blob_digest}")
    if stamp is not None and codec == "plain":
        return index, stamp  # the diff_id is the blob digest: checked later with it
    diff_id = "sha256:" + inner.hexdigest()
    if not layer.diff_id:
        # dir: sources cannot know the diff_id before reading; it is what we just computed.
        index.diff_id = diff_id
    elif diff_id != layer.diff_id:
        # zstd's streaming API ends quietly at a cut frame, so for zstd this check is what
        # catches truncation: name the codec so the user knows where to look.
        what = f"corrupt or truncated {codec} data: " if codec != "plain" else ""
        raise CorruptImage(f"{where}: {what}content does not match its diff_id {layer.diff_id} (got {diff_id})")
    return index, stamp


# The image the forked workers index; set in the parent just before the pool forks.
_FORK_IMAGE: Image | None = None
_FORK_CACHE: LayerCache | None = None
_FORK_BACKGROUND = False
_FORK_DEFER = False


def _fork_safe(image: Image) -> bool:
    if not image.fork_safe or image._opener is None or "fork" not in multiprocessing.get_all_start_methods():
        return False
    # Already a worker (the scan job's process pool, a Dask worker): daemonic processes may not
    # have children, and nested pools would oversubscribe the cores. Threads it is.
    return multiprocessing.parent_process() is None and not multiprocessing.current_process().daemon


def _pack(index: LayerIndex) -> bytes:
    return marshal.dumps(
        (index.diff_id, index.tar_bytes, index.codec, tuple(index.warnings),
         tuple(e.to_tuple() for e in index.entries))
    )


def _unpack(blob: bytes) -> LayerIndex:
    diff_id, tar_bytes, codec, warnings, rows = marshal.loads(blob)
    return LayerIndex(diff_id=diff_id, entries=[Entry.from_tuple(t) for t in rows],
                      tar_bytes=tar_bytes, codec=codec, warnings=list(warnings))


def _index_in_child(layer: Layer) -> tuple[bytes, BlobStamp | None]:
    assert _FORK_IMAGE is not None
    try:
        index, stamp = _index_layer(_FORK_IMAGE, layer, _FORK_BACKGROUND, _FORK_DEFER)
    except SitelensError as exc:
        raise type(exc)(str(exc)) from None  # no traceback or cause to pickle back
    except MemoryError:
        raise ImageError(f"layer {layer.index}: out of memory while indexing") from None
    except Exception as exc:  # noqa: BLE001 - whatever it is, it must cross the pool as plain data
        raise CorruptImage(f"layer {layer.index}: cannot be read ({type(exc).__name__}: {exc})") from None
    if _FORK_CACHE is not None and layer.diff_id and stamp is None:
        _FORK_CACHE.put(index)  # encoded and written here, in parallel, not in the parent
    return _pack(index), stamp


def load_indexes(
    image: Image,
    cache: LayerCache,
    progress: Progress | None = None,
    workers: int | None = None,
    processes: bool | None = None,
    meanwhile: Callable[[], None] | None = None,
    deferred: DeferredDigests | None = None,
) -> list[LayerIndex]:
    """Every layer's index, in layer order. ``processes``: None picks forked workers when the
    source allows it and there are several layers and cores, True/False forces the choice.
    ``meanwhile`` runs in this thread once workers are indexing (after the fork: it may start
    threads or import modules), e.g. loading what the next stage needs. ``deferred``: layers
    whose blob is a local file are indexed without digesting it as stored and collected there,
    uncached, for the caller to :meth:`~verify.DeferredDigests.start` and wait for."""
    results: dict[int, LayerIndex] = {}
    todo: list[Layer] = []
    for layer in image.layers:
        cached = cache.get(layer.diff_id) if layer.diff_id else None
        if cached is not None:
            results[layer.index] = cached
            if progress:
                progress(layer, "cached")
        else:
            todo.append(layer)

    # The same diff_id can appear twice in one image (an empty layer repeated): index it once.
    unique: dict[str, Layer] = {}
    for layer in todo:
        unique.setdefault(layer.diff_id or f"uncached:{layer.index}", layer)

    defer = deferred is not None

    def finish(layer: Layer, idx: LayerIndex, stamp: BlobStamp | None) -> LayerIndex:
        if stamp is not None:
            assert deferred is not None
            deferred.add(layer, idx, stamp)  # cached once its blob passes
        elif layer.diff_id:
            cache.put(idx)
        if progress:
            progress(layer, "indexed")
        return idx

    # One worker more than cores: layers are few and uneven (three big ones on two cores would
    # leave one core idle while the last runs alone); the scheduler shares the cores instead.
    cpus = os.cpu_count() or 1
    n = workers or (min(len(unique), cpus + 1) if cpus > 1 else 1) or 1
    # Fewer layers than cores: the digests go to threads of their own to use the idle cores.
    background = len(unique) < cpus
    done: dict[str, LayerIndex] | None = None
    if n <= 1 or len(unique) <= 1:
        done = {key: finish(layer, *_index_layer(image, layer, cpus > 1, defer)) for key, layer in unique.items()}
    else:
        if processes or (processes is None and _fork_safe(image)):

            def announce(layer: Layer, idx: LayerIndex, stamp: BlobStamp | None) -> LayerIndex:
                if stamp is not None:
                    assert deferred is not None
                    deferred.add(layer, idx, stamp)
                if progress:  # the worker already wrote the cache entry, or it waits for the check
                    progress(layer, "indexed")
                return idx

            done = _in_processes(image, cache, unique, n, announce, meanwhile, background, defer)
        if done is None:  # threads: the default, and the fallback when workers cannot start
            done = _in_threads(image, unique, n, finish, meanwhile, background, defer)
    for layer in todo:
        results[layer.index] = done[layer.diff_id or f"uncached:{layer.index}"]
    return [results[layer.index] for layer in image.layers]


def _in_threads(
    image: Image, unique: dict[str, Layer], n: int, finish: Finish,
    meanwhile: Callable[[], None] | None = None,
    background: bool = False,
    defer: bool = False,
) -> dict[str, LayerIndex]:
    done: dict[str, LayerIndex] = {}
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = {key: pool.submit(_index_layer, image, layer, background, defer) for key, layer in unique.items()}
        try:
            if meanwhile is not None:
                meanwhile()
            for key, fut in futures.items():
                done[key] = finish(unique[key], *fut.result())
        except SitelensError:
            for f in futures.values():
                f.cancel()
            raise
    return done


def _in_processes(
    image: Image,
    cache: LayerCache,
    unique: dict[str, Layer],
    n: int,
    finish: Finish,
    meanwhile: Callable[[], None] | None = None,
    background: bool = False,
    defer: bool = False,
) -> dict[str, LayerIndex] | None:
    global _FORK_IMAGE, _FORK_CACHE, _FORK_BACKGROUND, _FORK_DEFER
    # Longest first: the big layers start at once and the small ones fill the gaps.
    order = sorted(unique.items(), key=lambda kv: -(kv[1].size or 0))
    done: dict[str, LayerIndex] = {}
    _FORK_IMAGE = image
    _FORK_CACHE = cache if cache.enabled else None
    _FORK_BACKGROUND = background
    _FORK_DEFER = defer
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork")) as pool:
            try:
                futures: dict[str, Future[tuple[bytes, BlobStamp | None]]] = {
                    key: pool.submit(_index_in_child, layer) for key, layer in order
                }
            except OSError:
                return None  # fork refused (process limits): index in threads instead
            try:
                if meanwhile is not None:
                    meanwhile()  # every worker is forked by now (fork context starts them all)
                for key, layer in order:
                    packed, stamp = futures[key].result()
                    done[key] = finish(layer, _unpack(packed), stamp)
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
    except BrokenProcessPool:
        raise ImageError(
            f"{image.reference}: a layer indexing worker died (out of memory or killed)"
        ) from None
    finally:
        _FORK_IMAGE = _FORK_CACHE = None
        _FORK_DEFER = False
    return done
