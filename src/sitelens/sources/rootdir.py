"""``dir:PATH``: an unpacked root filesystem, presented as one layer.

The layer is a tar produced on the fly: a thread writes ``tarfile`` output into a pipe and the
indexer reads the other end, so nothing is written to disk and memory stays bounded by the pipe.
Its diff_id cannot be known before it has been read, so the layer carries ``diff_id=""``: the
loader computes it and does not cache the index (a directory can change between runs).
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import CorruptImage, ImageNotFound
from ..image import Image, ImageConfig, Layer
from .base import SourceOptions

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"


class _TarPipe(io.RawIOBase):
    """The read end of a pipe fed by a tar-writing thread; writer errors surface at EOF."""

    def __init__(self, root: Path, where: str) -> None:
        r, w = os.pipe()
        self._r = os.fdopen(r, "rb", buffering=0)
        self._where = where
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(root, w), daemon=True)
        self._thread.start()

    def _write(self, root: Path, wfd: int) -> None:
        def clean(ti: tarfile.TarInfo) -> tarfile.TarInfo:
            # names and ownership exactly as on disk, not the host's user database
            ti.uname = ti.gname = ""
            return ti

        try:
            with os.fdopen(wfd, "wb") as w, tarfile.open(
                fileobj=w, mode="w|", format=tarfile.PAX_FORMAT
            ) as tar:
                for entry in sorted(os.listdir(root)):
                    tar.add(root / entry, arcname=entry, recursive=True, filter=clean)
        except BrokenPipeError:
            pass  # the reader stopped early (an error on its side); nothing to report
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self._error = exc

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._r.readinto(b)
        if not n:
            self._thread.join()
            if self._error is not None:
                err = self._error
                detail = getattr(err, "strerror", None) or str(err)
                where = getattr(err, "filename", None) or self._where
                raise CorruptImage(f"{where}: cannot read the directory tree ({detail})")
        return n or 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def close(self) -> None:
        self._r.close()  # a writer still running gets EPIPE and ends
        self._thread.join(timeout=30)
        super().close()


@contextmanager
def open_rootdir(path: str, opts: SourceOptions, reference: str) -> Iterator[Image]:
    root = Path(path)
    if not root.is_dir():
        raise ImageNotFound(f"{path}: no such directory")
    layer = Layer(index=0, diff_id="", digest=None, media_type=LAYER_MEDIA_TYPE, size=None,
                  created_by=f"directory {root.resolve()}")

    @contextmanager
    def opener(_layer: Layer) -> Iterator[IO[bytes]]:
        pipe = _TarPipe(root, path)
        try:
            yield pipe  # type: ignore[misc]
        finally:
            pipe.close()

    config = ImageConfig()
    raw = {"architecture": config.architecture, "os": config.os, "config": {},
           "rootfs": {"type": "layers", "diff_ids": []}}
    yield Image(reference, None, config, [layer], raw_config=raw, _opener=opener)
