"""source → layers → filesystem: the first half of every command, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .fs import Filesystem
from .image import Image
from .layers.cache import LayerCache
from .layers.index import LayerIndex
from .layers.loader import Progress, load_indexes
from .sources import open_image
from .sources.base import SourceOptions


@dataclass
class Loaded:
    image: Image
    indexes: list[LayerIndex]
    fs: Filesystem
    cache: LayerCache


def build_filesystem(image: Image, indexes: list[LayerIndex]) -> Filesystem:
    return Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])


@contextmanager
def load(
    ref: str,
    opts: SourceOptions | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Iterator[Loaded]:
    cache = LayerCache(cache_dir, enabled=use_cache)
    with open_image(ref, opts or SourceOptions()) as image:
        indexes = load_indexes(image, cache, progress)
    fs = build_filesystem(image, indexes)
    yield Loaded(image, indexes, fs, cache)
