"""Reference → the source module that reads it: one row of ``OPENERS`` per transport.

``reference.py`` takes its ``TRANSPORT:`` prefixes from this table, so adding a source is one
module plus one row here. An opener imports its module when called: an audit of a local
archive never loads the registry or engine clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from ..image import Image
from .base import SourceOptions

if TYPE_CHECKING:
    from .reference import SourceRef

Opener = Callable[["SourceRef", SourceOptions], AbstractContextManager[Image]]


def _docker_archive(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .docker_archive import open_docker_archive

    return open_docker_archive(sref.path or "", sref.tag, opts, sref.raw)


def _oci(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .oci_layout import open_oci_dir

    return open_oci_dir(sref.path or "", sref.tag, opts, sref.raw)


def _oci_archive(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .oci_layout import open_oci_archive

    return open_oci_archive(sref.path or "", sref.tag, opts, sref.raw)


def _rootdir(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .rootdir import open_rootdir

    return open_rootdir(sref.path or "", opts, sref.raw)


def _registry(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .registry import open_registry

    assert sref.name is not None
    return open_registry(sref.name, opts, sref.raw)


def _engine(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .engine import open_engine

    return open_engine(sref.transport, sref.engine_name or "", opts, sref.raw)


def _bare(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    from .engine import open_bare

    assert sref.name is not None
    return open_bare(sref, opts)


# transport -> opener. Every key but the two below is also a ``TRANSPORT:`` prefix.
OPENERS: dict[str, Opener] = {
    "docker-archive": _docker_archive,
    "oci-archive": _oci_archive,
    "oci": _oci,
    "registry": _registry,
    "docker": _engine,
    "podman": _engine,
    "dir": _rootdir,
    "archive": _docker_archive,  # an existing file named without a prefix
    "bare": _bare,  # a name without a prefix: the local engine, else the registry
}
UNPREFIXED = frozenset({"archive", "bare"})


@contextmanager
def open_reference(ref: str, opts: SourceOptions) -> Iterator[Image]:
    from .reference import parse_reference

    sref = parse_reference(ref)
    with OPENERS[sref.transport](sref, opts) as image:
        yield image
