"""Open a layer blob stream as its uncompressed tar, choosing the codec by magic bytes.

Media types lie (``.tar.gzip`` layers that are plain, zstd under a gzip type), so the first
bytes decide. gzip goes through ISA-L (``isal``), measured fastest here; zstd through
``zstandard``. See benchmarks/README.md for the figures behind the choice.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import zstandard
from isal import igzip

from .errors import CorruptImage, SitelensError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class HashingReader(io.RawIOBase):
    """Pass-through reader that digests every byte read and counts them.

    ``background=True`` digests in a thread of its own: hashlib releases the GIL on buffers
    over 2 KiB, so the digest of a layer stream runs on another core while the reading thread
    parses tar headers and hashes member files. Chunks go through a bounded queue, in order;
    :meth:`hexdigest` waits for the last one. Call :meth:`stop` when abandoning the stream.
    """

    _QUEUED = 4  # chunks in flight: few, so freed buffers are reused (no fresh pages to fault in)

    def __init__(self, raw: IO[bytes], algorithm: str = "sha256", background: bool = False) -> None:
        self._raw = raw
        self.hasher = hashlib.new(algorithm)
        self.count = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(self._QUEUED)
            self._thread = threading.Thread(target=self._digest, name="sitelens-hash", daemon=True)
            self._thread.start()

    def _digest(self) -> None:
        assert self._queue is not None
        get, update = self._queue.get, self.hasher.update
        while (chunk := get()) is not None:
            update(chunk)

    def _update(self, data: bytes) -> None:
        if self._queue is not None:
            self._queue.put(data)
        else:
            self.hasher.update(data)

    def hexdigest(self) -> str:
        self.stop()
        return self.hasher.hexdigest()

    def stop(self) -> None:
        """Let the digest thread finish (what was queued is still digested)."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = self._queue = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        if n:
            self._update(bytes(data))
            self.count += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._update(bytes(data))
            self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class _Peeked(io.RawIOBase):
    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                head, self._head = self._head, b""
                if size < 0:
                    return head + self._raw.read()
                rest = self._raw.read(size - len(head)) if size > len(head) else b""
                return head + rest
            head, self._head = self._head[:size], self._head[size:]
            return head
        return self._raw.read(size)

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Guarded(io.RawIOBase):
    """Turns codec exceptions into CorruptImage with the layer's name."""

    def __init__(self, raw: IO[bytes], where: str, codec: str) -> None:
        self._raw = raw
        self._where = where
        self._codec = codec

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._raw.read(size)
        except (SitelensError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - every codec has its own error classes (isal's IsalError)
            raise CorruptImage(f"{self._where}: corrupt or truncated {self._codec} data ({exc})") from None

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


# A real layer inflates 2-10x (text-heavy ones ~20x); zeros inflate ~1000x. Past the floor, a
# layer inflating more than RATIO times the compressed bytes read so far is refused as a bomb.
INFLATE_RATIO = 200
INFLATE_FLOOR = 1 << 30
# A ``docker save | gzip`` archive inflates 2-5x; its whole size is known before reading, and a
# small archive gets a floor so a tiny image of sparse files still opens.
ARCHIVE_INFLATE_RATIO = 100
ARCHIVE_INFLATE_FLOOR = 256 << 20


class InflationGuard(io.RawIOBase):
    """Stops reading a decompressed stream once it outgrows ``floor`` and ``ratio`` × the
    compressed bytes (``compressed()``: read so far for a layer, the file size for an archive)."""

    def __init__(self, inflated: IO[bytes], compressed: Callable[[], int], where: str,
                 ratio: int = INFLATE_RATIO, floor: int = INFLATE_FLOOR) -> None:
        self._raw = inflated
        self._compressed = compressed
        self._where = where
        self._ratio = ratio
        self._floor = floor
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        if self.count > self._floor and self.count > self._ratio * (packed := self._compressed()):
            raise CorruptImage(
                f"{self._where}: inflates more than {self._ratio}x its compressed size "
                f"({self.count >> 20} MiB from {packed >> 20} MiB): refused as a decompression bomb"
            )
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "plain"


@contextmanager
def open_tar_stream(raw: IO[bytes], where: str) -> Iterator[tuple[IO[bytes], str]]:
    """Yield (uncompressed stream, codec name) for a blob stream."""
    head = raw.read(4)
    codec = sniff(head)
    peeked = _Peeked(head, raw)
    if codec == "gzip":
        stream: IO[bytes] = igzip.IGzipFile(fileobj=peeked, mode="rb")  # type: ignore[assignment]
    elif codec == "zstd":
        stream = zstandard.ZstdDecompressor().stream_reader(
            peeked, read_across_frames=True, closefd=False  # type: ignore[arg-type]
        )
    else:
        stream = peeked  # type: ignore[assignment]
    guarded = _Guarded(stream, where, codec)
    try:
        yield guarded, codec  # type: ignore[misc]
    finally:
        if codec != "plain":
            stream.close()
