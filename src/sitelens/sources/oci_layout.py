"""``oci:DIR[:TAG]`` and ``oci-archive:PATH[:TAG]``: the OCI image layout, as a dir or a tarball.

``index.json`` → the entry whose ``org.opencontainers.image.ref.name`` is the tag (or the only
one) → nested indexes resolved by platform → manifest → config and layer blobs, each checked
against its digest (layers by the loader, while they stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import CorruptImage, ImageNotFound
from ..image import Image, Layer
from .base import SourceOptions
from .manifest import (
    REF_NAME,
    Descriptor,
    build_image,
    document_kind,
    index_entries,
    load_json,
    manifest_parts,
    select_by_tag,
    select_platform,
    verify_digest,
)
from .store import BlobStore, DirStore, open_archive

MAX_NESTING = 4


def blob_name(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if not (algo.isascii() and algo.isalnum() and hexpart.isascii() and hexpart.isalnum()):
        raise CorruptImage(f"malformed digest {digest!r}")
    return f"blobs/{algo}/{hexpart}"


def read_blob_document(store: BlobStore, d: Descriptor, what: str) -> bytes:
    raw = store.read_document(blob_name(d.digest), what)
    verify_digest(raw, d.digest, store.where, what)
    return raw


def image_from_store(
    store: BlobStore, tag: str | None, opts: SourceOptions, reference: str
) -> Image:
    where = store.where
    if not store.exists("oci-layout"):
        raise CorruptImage(f"{where}: not an OCI image layout (no oci-layout file)")
    index = load_json(store.read_document("index.json", "index.json"), where, "index.json")
    document_kind(index, None, f"{where}: index.json")
    entries = select_by_tag(index_entries(index, f"{where}: index.json"), tag, where)
    if not entries:
        raise ImageNotFound(f"{where}: the layout holds no images")
    chosen = _resolve(store, entries, opts, tag, depth=0)
    return image_from_manifest(store, chosen, reference)


def _resolve(
    store: BlobStore, entries: list[Descriptor], opts: SourceOptions, tag: str | None, depth: int
) -> Descriptor:
    """Narrow index entries to one image manifest, descending into nested indexes."""
    where = store.where
    if depth > MAX_NESTING:
        raise CorruptImage(f"{where}: image indexes nested too deeply")
    tags = sorted({e.annotations.get(REF_NAME, "") for e in entries} - {""})
    if len(entries) == 1:
        d = entries[0]
    elif len(tags) > 1:
        raise ImageNotFound(f"{where}: holds {len(tags)} images; name one with :TAG ({', '.join(tags)})")
    elif any(e.platform for e in entries):
        d = select_platform(entries, opts.platform, where)
    else:
        raise ImageNotFound(f"{where}: holds {len(entries)} images without platforms or tags")
    raw = read_blob_document(store, d, "manifest")
    doc = load_json(raw, where, f"manifest {d.digest}")
    if document_kind(doc, d.media_type, f"{where}: manifest {d.digest}") == "index":
        nested = index_entries(doc, f"{where}: index {d.digest}")
        if not nested:
            raise ImageNotFound(f"{where}: index {d.digest} is empty")
        return _resolve(store, nested, opts, tag, depth + 1)
    return d


def image_from_manifest(store: BlobStore, d: Descriptor, reference: str) -> Image:
    where = store.where
    doc = load_json(read_blob_document(store, d, "manifest"), where, f"manifest {d.digest}")
    config_d, layer_ds = manifest_parts(doc, f"{where}: manifest {d.digest}")
    config_raw = read_blob_document(store, config_d, "config")
    names = {i: blob_name(ld.digest) for i, ld in enumerate(layer_ds)}
    for i, name in names.items():
        if not store.exists(name):
            raise CorruptImage(f"{where}: manifest names a missing layer blob {layer_ds[i].digest}")

    @contextmanager
    def opener(layer: Layer) -> Iterator[IO[bytes]]:
        with store.open(names[layer.index]) as f:
            yield f

    return build_image(
        reference,
        d.digest,
        config_raw,
        config_d.digest,
        [(ld.digest, ld.media_type, ld.size) for ld in layer_ds],
        opener,
        where,
        fork_safe=True,  # the opener opens a file of the archive or layout, nothing else
    )


@contextmanager
def open_oci_dir(path: str, tag: str | None, opts: SourceOptions, reference: str) -> Iterator[Image]:
    p = Path(path)
    if not p.is_dir():
        raise ImageNotFound(f"{path}: no such OCI layout directory")
    yield image_from_store(DirStore(p), tag, opts, reference)


@contextmanager
def open_oci_archive(path: str, tag: str | None, opts: SourceOptions, reference: str) -> Iterator[Image]:
    if not Path(path).exists():
        raise ImageNotFound(f"{path}: no such file")
    with open_archive(Path(path), path) as store:
        yield image_from_store(store, tag, opts, reference)
