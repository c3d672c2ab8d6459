"""Read-only access to the files of an image on disk: a directory or a tarball.

Archive transports share one job: find a few small JSON documents and open the layer blobs as
streams. :class:`TarStore` indexes the tarball's member headers once (tarfile skips member data
by seeking) and serves each blob as a bounded window into the archive file, so a ``docker
save`` tarball is never extracted and every layer gets its own file handle (the loader reads
layers from several threads).
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..errors import CorruptImage
from ..layers.decompress import GZIP_MAGIC, ZSTD_MAGIC, open_tar_stream

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
        p = self._path(name)
        try:
            if p.stat().st_size > MAX_DOCUMENT:
                raise CorruptImage(f"{self.where}: {what} {name} is implausibly large")
            return p.read_bytes()
        except FileNotFoundError:
            raise CorruptImage(f"{self.where}: {what} {name} is missing") from None
        except IsADirectoryError:
            raise CorruptImage(f"{self.where}: {what} {name} is not a file") from None
        except PermissionError:
            raise CorruptImage(f"{self.where}: {what} {name} is not readable") from None

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        try:
            f = open(self._path(name), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise CorruptImage(f"{self.where}: blob {name} is missing") from None
        except OSError as exc:
            raise CorruptImage(f"{self.where}: cannot read blob {name} ({exc.strerror})") from None
        with f:
            yield f


@dataclass(frozen=True)
class _Member:
    offset: int
    size: int


class TarStore:
    """Members of an uncompressed tarball, reached by offset (never extracted)."""

    def __init__(self, path: Path, where: str | None = None) -> None:
        self.path = Path(path)
        self.where = where or str(path)
        self._members = self._scan()

    def _scan(self) -> dict[str, _Member]:
        try:
            with open(self.path, "rb") as f:
                head = f.read(4)
                total = os.fstat(f.fileno()).st_size
        except FileNotFoundError:
            raise CorruptImage(f"{self.where}: no such file") from None
        except IsADirectoryError:
            raise CorruptImage(f"{self.where}: is a directory, not an archive") from None
        except OSError as exc:
            raise CorruptImage(f"{self.where}: cannot read ({exc.strerror})") from None
        if head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC):
            raise CorruptImage(f"{self.where}: archive is compressed (open it with plain_archive)")
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
        # docker save writes a repeated layer as a link to its first copy
        for name, target in links.items():
            for _ in range(8):
                if target in members:
                    members[name] = members[target]
                    break
                if target not in links:
                    break
                target = links[target]
        return members

    def names(self) -> list[str]:
        return list(self._members)

    def exists(self, name: str) -> bool:
        return _norm(name) in self._members

    def size(self, name: str) -> int:
        return self._member(name, "blob").size

    def _member(self, name: str, what: str) -> _Member:
        m = self._members.get(_norm(name))
        if m is None:
            raise CorruptImage(f"{self.where}: {what} {name} is missing from the archive")
        return m

    def read_document(self, name: str, what: str) -> bytes:
        m = self._member(name, what)
        if m.size > MAX_DOCUMENT:
            raise CorruptImage(f"{self.where}: {what} {name} is implausibly large")
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


@contextmanager
def plain_archive(path: Path, where: str) -> Iterator[Path]:
    """The archive itself, or for ``docker save | gzip`` output a decompressed temporary copy.

    Layers are read by offset, which a compressed stream cannot offer; the copy lives in
    ``$TMPDIR`` only while the image is open.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        yield path  # TarStore reports the problem with its own words
        return
    if not (head.startswith(GZIP_MAGIC) or head.startswith(ZSTD_MAGIC)):
        yield path
        return
    tmpdir = tempfile.mkdtemp(prefix="sitelens-archive-")
    try:
        out = Path(tmpdir) / "archive.tar"
        with open(path, "rb") as raw, open(out, "wb") as dst, open_tar_stream(raw, where) as (stream, _):
            while chunk := stream.read(CHUNK):
                dst.write(chunk)
        yield out
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
