"""Check a layer blob's digests after its index is built, on the core the analysis leaves idle.

Indexing a blob that is a local file (a docker-archive member, an OCI layout blob) can skip the
digest of the blob as stored: the digest is then taken from the file again, in a forked child,
while this process merges the layers and runs the analysis, which use one core. For a plain
(uncompressed) layer that is also the diff_id, so nearly half the hashing of a docker-archive
audit leaves the indexing, where both cores are busy. A gzip or zstd layer's diff_id is still
taken while it inflates (inflating twice would cost more than it saves).

Nothing is trusted before the check: the index goes into the shared layer cache only once its
blob's digests match (the child writes it), and the audit's caller waits for the check before
it reports anything. The file must be the one indexed, unchanged: the check compares the
descriptor's device, inode, size, mtime and ctime from when indexing opened it with those after
hashing, so a blob rewritten or replaced in between is refused as corrupt rather than vouched for.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from typing import IO

from ..errors import CorruptImage
from ..forked import Forked, can_fork
from ..image import Image, Layer
from .cache import LayerCache
from .index import LayerIndex

# (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of the descriptor a blob was read through
BlobStamp = tuple[int, int, int, int, int]

_CHUNK = 1 << 20


def blob_stamp(raw: IO[bytes]) -> BlobStamp | None:
    """The stamp of the file behind ``raw``, None when it is no file (a socket, a stream out of
    a compressed archive): such a blob is digested while it is read, as before."""
    try:
        fd = raw.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def where(layer: Layer) -> str:
    return f"layer {layer.index} ({layer.diff_id[:19]})"


def check_blob(image: Image, layer: Layer, codec: str, stamp: BlobStamp) -> None:
    """Digest the blob from its file and compare it with the manifest's digest, and for a plain
    blob with the diff_id; CorruptImage when either differs or the file is not the one indexed."""
    h = hashlib.sha256()
    with image.open_layer(layer) as raw:
        while chunk := raw.read(_CHUNK):
            h.update(chunk)
        after = blob_stamp(raw)
    if after != stamp:
        raise CorruptImage(f"{where(layer)}: the blob file changed while it was audited")
    got = "sha256:" + h.hexdigest()
    if layer.digest and layer.digest.startswith("sha256:") and got != layer.digest:
        raise CorruptImage(f"{where(layer)}: blob digest mismatch: expected {layer.digest}, got {got}")
    if codec == "plain" and got != layer.diff_id:
        raise CorruptImage(f"{where(layer)}: content does not match its diff_id {layer.diff_id} (got {got})")


@dataclass
class _Unchecked:
    layer: Layer
    index: LayerIndex
    stamp: BlobStamp


@dataclass
class DeferredDigests:
    """The layers indexed without their blob digest (the loader adds them), checked by
    :meth:`start` in a forked child, or here at :meth:`wait` when no child can be forked."""

    pending: list[_Unchecked] = field(default_factory=list)
    _part: Forked[None] | None = None

    def add(self, layer: Layer, index: LayerIndex, stamp: BlobStamp) -> None:
        self.pending.append(_Unchecked(layer, index, stamp))

    def start(self, image: Image, cache: LayerCache) -> None:
        """Begin checking; each layer's index is cached once its blob passed. Call it when the
        blobs are still readable and the process has no other thread (a fork needs that)."""
        pending = list(self.pending)

        def check_all() -> None:
            for u in pending:
                check_blob(image, u.layer, u.index.codec, u.stamp)
                cache.put(u.index)

        if pending:
            self._part = Forked(check_all, can_fork())

    def wait(self) -> None:
        """Return once every blob passed; raise the first layer's CorruptImage otherwise."""
        part, self._part = self._part, None
        if part is not None:
            part.result()

    def cancel(self) -> None:
        part, self._part = self._part, None
        if part is not None:
            part.cancel()
