"""Index every layer of an image once: from the cache, or by streaming its blob.

Each blob is verified while it streams: the stored digest over the bytes as read, and the
diff_id over the uncompressed tar (the cache key, so a blob whose content does not match its
declared diff_id can never poison the shared cache for another image).

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

BACKGROUND_MIN = 4 << 20  # blob bytes below which a layer's digests stay on its own thread

Progress = Callable[[Layer, str], None]


def index_layer(image: Image, layer: Layer, background: bool = False) -> LayerIndex:
    where = f"layer {layer.index} ({layer.diff_id[:19]})"
    # ``background``: the stream digests run in threads of their own (they release the GIL), so
    # they take an idle core while this thread parses and hashes member files. Worth it only
    # when cores would idle: it costs ≈ 0.25 s of CPU per GB in thread hand-offs, and starting
    # the threads costs more than digesting a small blob (a scan's app layers) on this thread.
    background = background and (layer.size is None or layer.size >= BACKGROUND_MIN)
    with image.open_layer(layer) as raw:
        outer = HashingReader(raw, background=background)
        inner = outer
        try:
            with open_tar_stream(outer, where) as (tar, codec):  # type: ignore[arg-type]
                # A plain blob is its own tar: the blob digest is the diff_id, hash it once.
                if codec != "plain":
                    inner = HashingReader(InflationGuard(tar, lambda: outer.count, where), background=background)  # type: ignore[arg-type]
                index = build_index(tar if codec == "plain" else inner, layer.diff_id, where, codec)  # type: ignore[arg-type]
            outer.drain()
        finally:
            outer.stop()
            inner.stop()
    blob_digest = "sha256:" + outer.hexdigest()
    if layer.digest and layer.digest.startswith("sha256:") and blob_digest != layer.digest:
        raise CorruptImage(f"{where}: blob digest mismatch: expected {layer.digest}, got {blob_digest}")
    diff_id = "sha256:" + inner.hexdigest()
    if not layer.diff_id:
        # dir: sources cannot know the diff_id before reading; it is what we just computed.
        index.diff_id = diff_id
    elif diff_id != layer.diff_id:
        # zstd's streaming API ends quietly at a cut frame, so for zstd this check is what
        # catches truncation: name the codec so the user knows where to look.
        what = f"corrupt or truncated {codec} data: " if codec != "plain" else ""
        raise CorruptImage(f"{where}: {what}content does not match its diff_id {layer.diff_id} (got {diff_id})")
    return index


# The image the forked workers index; set in the parent just before the pool forks.
_FORK_IMAGE: Image | None = None
_FORK_CACHE: LayerCache | None = None
_FORK_BACKGROUND = False


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


def _index_in_child(layer: Layer) -> bytes:
    assert _FORK_IMAGE is not None
    try:
        index = index_layer(_FORK_IMAGE, layer, _FORK_BACKGROUND)
    except SitelensError as exc:
        raise type(exc)(str(exc)) from None  # no traceback or cause to pickle back
    except MemoryError:
        raise ImageError(f"layer {layer.index}: out of memory while indexing") from None
    except Exception as exc:  # noqa: BLE001 - whatever it is, it must cross the pool as plain data
        raise CorruptImage(f"layer {layer.index}: cannot be read ({type(exc).__name__}: {exc})") from None
    if _FORK_CACHE is not None and layer.diff_id:
        _FORK_CACHE.put(index)  # encoded and written here, in parallel, not in the parent
    return _pack(index)


def load_indexes(
    image: Image,
    cache: LayerCache,
    progress: Progress | None = None,
    workers: int | None = None,
    processes: bool | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[LayerIndex]:
    """Every layer's index, in layer order. ``processes``: None picks forked workers when the
    source allows it and there are several layers and cores, True/False forces the choice.
    ``meanwhile`` runs in this thread once workers are indexing (after the fork: it may start
    threads or import modules), e.g. loading what the next stage needs."""
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

    def finish(layer: Layer, idx: LayerIndex) -> LayerIndex:
        if layer.diff_id:
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
        done = {key: finish(layer, index_layer(image, layer, cpus > 1)) for key, layer in unique.items()}
    else:
        if processes or (processes is None and _fork_safe(image)):

            def announce(layer: Layer, idx: LayerIndex) -> LayerIndex:
                if progress:  # the worker already wrote the cache entry
                    progress(layer, "indexed")
                return idx

            done = _in_processes(image, cache, unique, n, announce, meanwhile, background)
        if done is None:  # threads: the default, and the fallback when workers cannot start
            done = _in_threads(image, unique, n, finish, meanwhile, background)
    for layer in todo:
        results[layer.index] = done[layer.diff_id or f"uncached:{layer.index}"]
    return [results[layer.index] for layer in image.layers]


def _in_threads(
    image: Image, unique: dict[str, Layer], n: int, finish: Callable[[Layer, LayerIndex], LayerIndex],
    meanwhile: Callable[[], None] | None = None,
    background: bool = False,
) -> dict[str, LayerIndex]:
    done: dict[str, LayerIndex] = {}
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = {key: pool.submit(index_layer, image, layer, background) for key, layer in unique.items()}
        try:
            if meanwhile is not None:
                meanwhile()
            for key, fut in futures.items():
                done[key] = finish(unique[key], fut.result())
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
    finish: Callable[[Layer, LayerIndex], LayerIndex],
    meanwhile: Callable[[], None] | None = None,
    background: bool = False,
) -> dict[str, LayerIndex] | None:
    global _FORK_IMAGE, _FORK_CACHE, _FORK_BACKGROUND
    # Longest first: the big layers start at once and the small ones fill the gaps.
    order = sorted(unique.items(), key=lambda kv: -(kv[1].size or 0))
    done: dict[str, LayerIndex] = {}
    _FORK_IMAGE = image
    _FORK_CACHE = cache if cache.enabled else None
    _FORK_BACKGROUND = background
    try:
        with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork")) as pool:
            try:
                futures: dict[str, Future[bytes]] = {
                    key: pool.submit(_index_in_child, layer) for key, layer in order
                }
            except OSError:
                return None  # fork refused (process limits): index in threads instead
            try:
                if meanwhile is not None:
                    meanwhile()  # every worker is forked by now (fork context starts them all)
                for key, layer in order:
                    done[key] = finish(layer, _unpack(futures[key].result()))
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
    return done
