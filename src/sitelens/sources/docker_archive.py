"""``docker-archive:PATH[:NAME:TAG]``: ``docker save`` tarballs, legacy and Docker 25+.

Both layouts carry ``manifest.json`` (``[{Config, RepoTags, Layers}]``): the legacy one points at
``<id>/layer.tar`` (plain tars, no blob digests), Docker 25+ at ``blobs/sha256/<hex>`` inside an
OCI layout. ``manifest.json`` is read first because it is what every Docker version writes; a
tarball with only ``oci-layout``/``index.json`` (an OCI archive passed without its prefix) is
handed to the OCI reader. Layers are windows into the tarball, never extracted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..errors import CorruptImage, ImageNotFound
from ..image import Image, Layer, load_document
from .base import SourceOptions
from .manifest import INDEX_TYPES, MANIFEST_TYPES, Descriptor, build_image, index_entries, load_json
from .oci_layout import blob_name, image_from_manifest, image_from_store, read_blob_document
from .store import BlobStore, open_archive

_BLOB_PATH = re.compile(r"^blobs/(sha256)/([0-9a-f]{64})$")


def image_from_archive(store: BlobStore, tag: str | None, opts: SourceOptions, reference: str) -> Image:
    where = store.where
    if not store.exists("manifest.json"):
        if store.exists("oci-layout"):
            return image_from_store(store, tag, opts, reference)
        raise CorruptImage(f"{where}: not a docker-archive (no manifest.json) nor an OCI archive")
    doc: Any = load_document(store.read_document("manifest.json", "manifest.json"), where, "manifest.json")
    if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
        raise CorruptImage(f"{where}: manifest.json is not a list of images")
    entry = _pick(doc, tag, where)
    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) or not all(
        isinstance(n, str) for n in layer_names
    ):
        raise CorruptImage(f"{where}: manifest.json entry lacks Config or Layers")
    config_raw = store.read_document(config_name, "config")
    # The config's file name is its digest in both layouts ("<hex>.json", "blobs/sha256/<hex>").
    m = re.search(r"([0-9a-f]{64})(?:\.json)?$", config_name)
    config_digest = f"sha256:{m.group(1)}" if m else None

    if config_digest and store.exists("index.json") and store.exists("oci-layout"):
        oci = _oci_manifest_for(store, config_digest)
        if oci is not None:
            # Docker 25+: the OCI manifest knows the manifest digest and layer media types
            return image_from_manifest(store, oci, reference)

    blobs: list[tuple[str | None, str, int | None]] = []
    for name in layer_names:
        if not store.exists(name):
            raise CorruptImage(f"{where}: manifest.json names a missing layer {name}")
        bm = _BLOB_PATH.match(name)
        # Layer media types are not recorded here; the indexer sniffs the codec by magic.
        blobs.append((f"sha256:{bm.group(2)}" if bm else None, "", store.size(name)))

    @contextmanager
    def opener(layer: Layer) -> Iterator[IO[bytes]]:
        with store.open(layer_names[layer.index]) as f:
            yield f

    return build_image(
        reference,
        None,  # manifest.json has no manifest digest (Docker 25+ keeps one only in index.json)
        config_raw,
        config_digest,
        blobs,
        opener,
        where,
        fork_safe=True,  # the opener opens a file of the archive or layout, nothing else
    )


def _oci_manifest_for(store: BlobStore, config_digest: str) -> Descriptor | None:
    """The index.json manifest whose config is ``config_digest``, if the archive has one."""
    try:
        index = load_json(store.read_document("index.json", "index.json"), store.where, "index.json")
        entries = index_entries(index, store.where)
        # containerd-backed Docker nests a platform index; only the saved platform has blobs
        for d in list(entries):
            if d.media_type in INDEX_TYPES and store.exists(blob_name(d.digest)):
                nested = load_json(read_blob_document(store, d, "index"), store.where, "index")
                entries.extend(index_entries(nested, store.where))
        for d in entries:
            if d.media_type not in MANIFEST_TYPES or not store.exists(blob_name(d.digest)):
                continue
            doc = load_json(read_blob_document(store, d, "manifest"), store.where, "manifest")
            config = doc.get("config")
            if isinstance(config, dict) and config.get("digest") == config_digest:
                return d
    except CorruptImage:
        return None  # manifest.json alone still describes the image
    return None


def _repo_tags(entry: dict[str, Any]) -> list[str]:
    tags = entry.get("RepoTags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _pick(entries: list[dict[str, Any]], tag: str | None, where: str) -> dict[str, Any]:
    if tag is None:
        if len(entries) > 1:
            names = [t for e in entries for t in _repo_tags(e)]
            raise ImageNotFound(
                f"{where}: holds {len(entries)} images; name one as PATH:NAME:TAG ({', '.join(names)})"
            )
        return entries[0]
    for e in entries:
        tags = _repo_tags(e)
        if tag in tags or f"docker.io/{tag}" in tags or any(t.endswith("/" + tag) for t in tags):
            return e
    raise ImageNotFound(f"{where}: no image named {tag!r} in the archive")


@contextmanager
def open_docker_archive(path: str, tag: str | None, opts: SourceOptions, reference: str) -> Iterator[Image]:
    p = Path(path)
    if not p.exists() and tag is not None:
        # "PATH:NAME:TAG" — the tag part itself had a colon
        head, _, rest = path.rpartition(":")
        if head and Path(head).exists():
            p, tag = Path(head), f"{rest}:{tag}"
    if not p.exists():
        raise ImageNotFound(f"{path}: no such file")
    with open_archive(p, path) as store:
        yield image_from_archive(store, tag, opts, reference)
