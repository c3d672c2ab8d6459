"""Reference → the source module that reads it. One registration line per transport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from ..image import Image
from .base import SourceOptions
from .reference import SourceRef, parse_reference


@contextmanager
def open_reference(ref: str, opts: SourceOptions) -> Iterator[Image]:
    sref = parse_reference(ref)
    with _open(sref, opts) as image:
        yield image


def _open(sref: SourceRef, opts: SourceOptions) -> AbstractContextManager[Image]:
    t = sref.transport
    if t in ("docker-archive", "archive"):
        from .docker_archive import open_docker_archive

        return open_docker_archive(sref.path or "", sref.tag, opts, sref.raw)
    if t == "oci":
        from .oci_layout import open_oci_dir

        return open_oci_dir(sref.path or "", sref.tag, opts, sref.raw)
    if t == "oci-archive":
        from .oci_layout import open_oci_archive

        return open_oci_archive(sref.path or "", sref.tag, opts, sref.raw)
    if t == "dir":
        from .rootdir import open_rootdir

        return open_rootdir(sref.path or "", opts, sref.raw)
    if t == "registry":
        from .registry import open_registry

        assert sref.name is not None
        return open_registry(sref.name, opts, sref.raw)
    if t in ("docker", "podman"):
        from .engine import open_engine

        return open_engine(t, sref.engine_name or "", opts, sref.raw)
    from .engine import open_bare

    assert sref.name is not None
    return open_bare(sref, opts)
