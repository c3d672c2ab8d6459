"""Index every layer of an image once: from the cache, or by streaming its blob.

Each blob is verified while it streams: the stored digest over the bytes as read, and the
diff_id over the uncompressed tar (the cache key, so a blob whose content does not match its
declared diff_id can never poison the shared cache for another image). Layers are indexed in
threads; hashing and decompression release the GIL, so two cores are used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..errors import CorruptImage, SitelensError
from ..image import Image, Layer
from .cache import LayerCache
from .decompress import HashingReader, open_tar_stream
from .index import LayerIndex, build_index

Progress = Callable[[Layer, str], None]


def index_layer(image: Image, layer: Layer) -> LayerIndex:
    where = f"layer {layer.index} ({layer.diff_id[:19]})"
    with image.open_layer(layer) as raw:
        outer = HashingReader(raw)
        with open_tar_stream(outer, where) as (tar, codec):
            # A plain blob is its own tar: the blob digest is the diff_id, hash it once.
            inner = HashingReader(tar) if codec != "plain" else outer
            index = build_index(tar if codec == "plain" else inner, layer.diff_id, where, codec)  # type: ignore[arg-type]
        outer.drain()
    blob_digest = "sha256:" + outer.hasher.hexdigest()
    if layer.digest and layer.digest.startswith("sha256:") and blob_digest != layer.digest:
        raise CorruptImage(f"{where}: blob digest mismatch: expected {layer.digest}, got {blob_digest}")
    diff_id = "sha256:" + inner.hasher.hexdigest()
    if not layer.diff_id:
        # dir: sources cannot know the diff_id before reading; it is what we just computed.
        index.diff_id = diff_id
    elif diff_id != layer.diff_id:
        # zstd's streaming API ends quietly at a cut frame, so for zstd this check is what
        # catches truncation: name the codec so the user knows where to look.
        what = f"corrupt or truncated {codec} data: " if codec != "plain" else ""
        raise CorruptImage(f"{where}: {what}content does not match its diff_id {layer.diff_id} (got {diff_id})")
    return index


def load_indexes(
    image: Image,
    cache: LayerCache,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[LayerIndex]:
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

    def work(layer: Layer) -> LayerIndex:
        idx = index_layer(image, layer)
        if layer.diff_id:
            cache.put(idx)
        if progress:
            progress(layer, "indexed")
        return idx

    n = workers or min(len(unique), os.cpu_count() or 1) or 1
    done: dict[str, LayerIndex] = {}
    if n <= 1 or len(unique) <= 1:
        for diff_id, layer in unique.items():
            done[diff_id] = work(layer)
    else:
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = {diff_id: pool.submit(work, layer) for diff_id, layer in unique.items()}
            try:
                for diff_id, fut in futures.items():
                    done[diff_id] = fut.result()
            except SitelensError:
                for f in futures.values():
                    f.cancel()
                raise
    for layer in todo:
        results[layer.index] = done[layer.diff_id or f"uncached:{layer.index}"]
    return [results[layer.index] for layer in image.layers]
