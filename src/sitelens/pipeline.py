"""source → layers → filesystem: the first half of every command, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ImageNotFound
from .image import Image
from .layers.cache import LayerCache, default_cache_dir
from .sources import open_image
from .sources.base import SourceOptions
from .sources.manifest import parse_platform

if TYPE_CHECKING:
    from .fs import Filesystem
    from .layers.index import LayerIndex
    from .layers.loader import Progress


@dataclass
class Loaded:
    image: Image
    indexes: list[LayerIndex]
    fs: Filesystem
    cache: LayerCache


def check_platform(image: Image, wanted: str | None) -> None:
    """A single-platform image (an archive, a plain manifest) of another platform than
    ``--platform`` asks for is an error, not silently audited: its interpreters and wheels are
    not the ones that would run."""
    if not wanted:
        return
    os_, arch, variant = parse_platform(wanted)
    cfg = image.config
    same = cfg.os == os_ and cfg.architecture == arch
    if same and variant is not None and cfg.variant not in (variant, None):
        same = False
    if not same:
        raise ImageNotFound(f"{image.reference}: the image is {image.platform}, not {wanted} "
                            "(--platform picks from a multi-platform index only)")


def build_filesystem(image: Image, indexes: list[LayerIndex]) -> Filesystem:
    from .fs import Filesystem

    return Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])


@contextmanager
def opened(ref: str, opts: SourceOptions | None = None, cache_dir: Path | None = None) -> Iterator[Image]:
    """The image ``ref`` opened (blobs readable until the block ends), its platform checked."""
    opts = opts or SourceOptions()
    if opts.spool_dir is None:
        opts = replace(opts, spool_dir=(cache_dir or default_cache_dir()) / "spool")
    with open_image(ref, opts) as image:
        check_platform(image, opts.platform)
        yield image


@contextmanager
def load(
    ref: str,
    opts: SourceOptions | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Iterator[Loaded]:
    from .layers.loader import load_indexes

    cache = LayerCache(cache_dir, enabled=use_cache)
    with opened(ref, opts, cache_dir) as image:
        indexes = load_indexes(image, cache, progress)
    fs = build_filesystem(image, indexes)
    yield Loaded(image, indexes, fs, cache)
