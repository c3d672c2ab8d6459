"""source → layers → filesystem: the first half of every command, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ImageNotFound
from .fs import Filesystem
from .image import Image
from .layers.cache import LayerCache, default_cache_dir
from .layers.index import LayerIndex
from .layers.loader import Progress, load_indexes
from .sources import open_image
from .sources.base import SourceOptions
from .sources.manifest import parse_platform


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
    opts = opts or SourceOptions()
    if opts.spool_dir is None:
        opts = replace(opts, spool_dir=(cache_dir or default_cache_dir()) / "spool")
    with open_image(ref, opts) as image:
        check_platform(image, opts.platform)
        indexes = load_indexes(image, cache, progress)
    fs = build_filesystem(image, indexes)
    yield Loaded(image, indexes, fs, cache)
