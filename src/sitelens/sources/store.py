"""Read-only access to the files of an image on disk: a directory or a tarball.

Archive transports share one job: find a few small JSON documents and open the layer blobs as
streams. :class:`TarStore` indexes the tarball's member headers once (tarfile skips member data
by seeking) and serves each blob as a bounded window into the archive file, so a ``docker
save`` tarball is never extracted and every layer gets its own file handle (the loader reads
layers from several threads). A compressed tarball (``docker save | gzip``) cannot be read by
offset: :class:`StreamTarStore` reads it as a stream, never writing it anywhere. Only regular
files are opened (a FIFO or a link to /dev/zero in a layout is refused, not read forever).
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..decompress import (
    ARCHIVE_INFLATE_FLOOR,
    ARCHIVE_INFLATE_RATIO,
    GZIP_MAGIC,
    ZSTD_MAGIC,
    InflationGuard,
    open_tar_stream,
)
from ..errors import CorruptImage

# Manifests, indexes and configs are small; a "document" larger than this is garbage or hostile.
MAX_DOCUMENT = 64 << 20
CHUNK = 1 << 20


class BlobStore(Protocol):
    where: str

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def read_document(self, name: str, what: str) -> bytes: ...

    def open(self, name: str) -> AbstractContextManager[IO[bytes]]: ...


class Section(io.RawIOBase):
    """``size`` bytes of ``f`` starting at ``offset``; short data is a truncated archive."""

    def __init__(self, f: IO[bytes], offset: int, size: int, where: str) -> None:
        self._f = f
        self._left = size
        self._where = where
        f.seek(offset)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._f.read(n)
        if n and not data:
            raise CorruptImage(f"{self._where}: archive is truncated")
        self._left -= len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def open_regular(path: Path | str, where: str) -> IO[bytes]:
    """``path`` opened for reading if it is a regular file (after symlinks), else CorruptImage.

    O_NONBLOCK keeps a FIFO from blocking the open; the fstat check then refuses it, a device
    (a link to /dev/zero) or a directory before a single byte is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CorruptImage(f"{where}: {path} is missing") from None
    except OSError as exc:
        raise CorruptImage(f"{where}: cannot open {path} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CorruptImage(f"{where}: {path} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(f: IO[bytes], limit: int, where: str, what: str) -> bytes:
    """All of ``f`` up to ``limit`` bytes; more is refused before it is held in memory."""
    data = f.read(limit + 1)
    if len(data) > limit:
        raise CorruptImage(f"{where}: {what} is implausibly large (over {limit >> 20} MiB)")
    return data


def _norm(name: str) -> str:
    name = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return name


class DirStore:
    """Files under a directory (an OCI image layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = str(root)

    def _path(self, name: str) -> Path:
        # _norm keeps names inside the root whatever a hostile index.json says
        return self.root / _norm(name)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def read_document(self, name: str, what: str) -> bytes:
        with open_regular(self._path(name), f"{self.where}: {what}") as f:
            try:
                return read_capped(f, MAX_DOCUMENT, self.where, f"{what} {name}")
            except OSError as exc:
                raise CorruptImage(f"{self.where}: cannot read {what} {name} ({exc.strerror})") from None

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        with open_regular(self._path(name), f"{self.where}: blob") as f:
            yield f


@dataclass(frozen=True)
class _Member:
    offset: int
    size: int


class _ArchiveMembers:
    """What the two tar stores share: a member table by normalised name, with the lookups the
    :class:`BlobStore` protocol asks for and the document size cap."""

    where: str
    _members: dict[str, _Member]

    def exists(self, name: str) -> bool:
        return _norm(name) in self._members

    def size(self, name: str) -> int:
        return self._member(name, "blob").size

    def _member(self, name: str, what: str) -> _Member:
        m = self._members.get(_norm(name))
        if m is None:
            raise CorruptImage(f"{self.where}: {what} {name} is missing from the archive")
        return m

    def _document(self, name: str, what: str) -> _Member:
        m = self._member(name, what)
        if m.size > MAX_DOCUMENT:
            raise CorruptImage(f"{self.where}: {what} {name} is implausibly large")
        return m


class TarStore(_ArchiveMembers):
    """Members of an uncompressed tarball, reached by offset (never extracted)."""

    def __init__(self, path: Path, where: str | None = None) -> None:
        self.path = Path(path)
        self.where = where or str(path)
        self._members = self._scan()

    def _scan(self) -> dict[str, _Member]:
        try:
            with open_regular(self.path, self.where) as f:
                head = f.read(4)
                total = os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise CorruptImage(f"{self.where}: cannot read ({exc.strerror})") from None
        if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
            raise CorruptImage(f"{self.where}: archive is compressed (open it with open_archive)")
        members: dict[str, _Member] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(self.path, mode="r:") as tar:
                for ti in tar:
                    name = _norm(ti.name)
                    if ti.isfile():
                        if ti.offset_data + ti.size > total:
                            raise CorruptImage(f"{self.where}: archive is truncated (in {ti.name})")
                        members[name] = _Member(ti.offset_data, ti.size)
                    elif ti.issym():
                        links[name] = _norm(posixpath.join(posixpath.dirname(name), ti.linkname))
                    elif ti.islnk():
                        links[name] = _norm(ti.linkname)
        except tarfile.ReadError as exc:
            raise CorruptImage(f"{self.where}: not a readable tar archive ({exc})") from None
        except (EOFError, OSError) as exc:
            raise CorruptImage(f"{self.where}: archive is truncated ({exc})") from None
        if not members:
            raise CorruptImage(f"{self.where}: archive is empty or not a tar archive")
        _resolve_links(members, links)
        return members

    def names(self) -> list[str]:
        return list(self._members)

    def read_document(self, name: str, what: str) -> bytes:
        m = self._document(name, what)
        with open(self.path, "rb") as f:
            data = Section(f, m.offset, m.size, self.where).read()
        if len(data) != m.size:
            raise CorruptImage(f"{self.where}: archive is truncated (in {name})")
        return data

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        m = self._member(name, "blob")
        with open(self.path, "rb") as f:
            yield Section(f, m.offset, m.size, f"{self.where}: {name}")  # type: ignore[misc]


SMALL_MEMBER = 1 << 20  # members kept in memory on the first pass (manifests, configs)
SMALL_TOTAL = 64 << 20


class StreamTarStore(_ArchiveMembers):
    """Members of a compressed tarball, read as a stream and never written anywhere.

    A compressed archive cannot be read by offset, so the first pass reads the member headers
    and keeps the small members (the JSON documents); a layer is then read by streaming the
    archive again up to that member. Nothing is decompressed to disk (issue 14: an archive used
    to be inflated whole into $TMPDIR), and the inflation cap stops a bomb member whether or
    not the manifest names it.
    """

    def __init__(self, path: Path, where: str | None = None) -> None:
        self.path = Path(path)
        self.where = where or str(path)
        self._members: dict[str, _Member] = {}  # offset: the member's ordinal in the stream
        self._small: dict[str, bytes] = {}
        self._scan()

    @contextmanager
    def _tar(self) -> Iterator[tarfile.TarFile]:
        with open_regular(self.path, self.where) as raw:
            size = os.fstat(raw.fileno()).st_size
            with open_tar_stream(raw, self.where) as (stream, _):
                capped = InflationGuard(stream, lambda: size, self.where,
                                        ARCHIVE_INFLATE_RATIO, ARCHIVE_INFLATE_FLOOR)
                try:
                    with tarfile.open(fileobj=capped, mode="r|") as tar:
                        yield tar
                except tarfile.TarError as exc:
                    raise CorruptImage(f"{self.where}: not a readable tar archive ({exc})") from None
                except (EOFError, OSError) as exc:
                    raise CorruptImage(f"{self.where}: archive is truncated ({exc})") from None

    def _scan(self) -> None:
        links: dict[str, str] = {}
        kept = 0
        with self._tar() as tar:
            for ordinal, ti in enumerate(tar):
                name = _norm(ti.name)
                if ti.isfile():
                    self._members[name] = _Member(ordinal, ti.size)
                    if ti.size <= SMALL_MEMBER and kept + ti.size <= SMALL_TOTAL:
                        f = tar.extractfile(ti)
                        if f is not None:
                            self._small[name] = f.read()
                            kept += ti.size
                elif ti.issym():
                    links[name] = _norm(posixpath.join(posixpath.dirname(name), ti.linkname))
                elif ti.islnk():
                    links[name] = _norm(ti.linkname)
        if not self._members:
            raise CorruptImage(f"{self.where}: archive is empty or not a tar archive")
        _resolve_links(self._members, links)
        for name, target in links.items():
            if target in self._small:
                self._small[name] = self._small[target]

    def read_document(self, name: str, what: str) -> bytes:
        self._document(name, what)
        small = self._small.get(_norm(name))
        if small is not None:
            return small
        with self.open(name) as f:
            return read_capped(f, MAX_DOCUMENT, self.where, f"{what} {name}")

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        m = self._member(name, "blob")
        with self._tar() as tar:
            for ordinal, ti in enumerate(tar):
                if ordinal == m.offset:
                    f = tar.extractfile(ti)
                    if f is None:
                        break
                    yield f
                    return
        raise CorruptImage(f"{self.where}: {name} changed while it was read")


def _resolve_links(members: dict[str, _Member], links: dict[str, str]) -> None:
    """docker save writes a repeated layer as a link to its first copy: point it at the data."""
    for name, target in links.items():
        for _ in range(8):
            if target in members:
                members[name] = members[target]
                break
            if target not in links:
                break
            target = links[target]


@contextmanager
def open_archive(path: Path, where: str) -> Iterator[BlobStore]:
    """The store for an archive file: by offset when plain, as a stream when compressed."""
    with open_regular(path, where) as f:
        head = f.read(4)
    if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
        yield StreamTarStore(path, where)
    else:
        yield TarStore(path, where)
