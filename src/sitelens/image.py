"""The image model every source yields: manifest facts, config, ordered layers and their blobs.

Nothing downstream of a source knows which source an image came from (one model, many sources,
like go-containerregistry's ``v1.Image``). Layer bytes are reached only through
:meth:`Image.open_layer`, a stream of the *compressed* blob as the source stores it, so a
registry layer flows from the socket into the indexer without being stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import CorruptImage

# Media types of layers we can read; anything else is refused with a clear error.
LAYER_MEDIA_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    # docker-archive's legacy layout names no media type; the indexer sniffs the magic.
    "",
}


@dataclass(frozen=True)
class Layer:
    """One filesystem layer, in application order (index 0 is the base)."""

    index: int
    diff_id: str  # sha256 of the uncompressed tar, from the config's rootfs.diff_ids
    digest: str | None  # sha256 of the blob as stored/transferred (None when unknown)
    media_type: str
    size: int | None  # blob size as stored (compressed), None when unknown
    created_by: str | None = None


@dataclass(frozen=True)
class ImageConfig:
    """The parts of the OCI image config that decide how Python runs."""

    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    @property
    def platform(self) -> str:
        p = f"{self.os}/{self.architecture}"
        return f"{p}/{self.variant}" if self.variant else p

    @property
    def path_env(self) -> list[str]:
        raw = self.env.get("PATH")
        if raw is None:
            # runc's default when the image sets no PATH
            raw = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return raw.split(":")


BlobOpener = Callable[[Layer], AbstractContextManager[IO[bytes]]]


@dataclass
class Image:
    reference: str
    digest: str | None  # manifest digest when the source knows it
    config: ImageConfig
    layers: list[Layer]
    config_digest: str | None = None
    raw_config: dict[str, Any] = field(default_factory=dict)
    _opener: BlobOpener | None = field(default=None, repr=False)
    # The opener only opens local files (no socket, session or engine export to share), so a
    # forked worker may call it: the loader then indexes layers in processes, not threads.
    fork_safe: bool = False

    @property
    def platform(self) -> str:
        return self.config.platform

    def open_layer(self, layer: Layer) -> AbstractContextManager[IO[bytes]]:
        """A stream of the layer blob as stored (compressed or not; the indexer sniffs)."""
        if self._opener is None:
            raise CorruptImage(f"{self.reference}: layer {layer.index} has no readable blob")
        return self._opener(layer)


def parse_config(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptImage(f"{where}: image config is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CorruptImage(f"{where}: image config is not a JSON object")
    return doc


def config_from_json(doc: dict[str, Any]) -> ImageConfig:
    """Read the runtime facts from an OCI/Docker image config document."""
    cfg = doc.get("config") or doc.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    env: dict[str, str] = {}
    for item in cfg.get("Env") or []:
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value

    def str_list(value: object) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value]
        return None

    return ImageConfig(
        user=(cfg.get("User") or None),
        env=env,
        workdir=(cfg.get("WorkingDir") or None),
        entrypoint=str_list(cfg.get("Entrypoint")),
        cmd=str_list(cfg.get("Cmd")),
        os=str(doc.get("os") or "linux"),
        architecture=str(doc.get("architecture") or "amd64"),
        variant=doc.get("variant") or None,
    )


def layers_from_config(
    doc: dict[str, Any],
    blobs: list[tuple[str | None, str, int | None]],
    where: str,
) -> list[Layer]:
    """Pair the manifest's layer blobs with the config's diff_ids and history.

    ``blobs`` is ``[(digest, media_type, size)]`` in manifest order. History entries flagged
    ``empty_layer`` have no blob, so they are skipped when matching ``created_by`` to layers.
    """
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(blobs):
        raise CorruptImage(
            f"{where}: config lists {len(diff_ids) if isinstance(diff_ids, list) else 'no'} "
            f"diff_ids for {len(blobs)} layers"
        )
    created: list[str | None] = []
    for h in doc.get("history") or []:
        if isinstance(h, dict) and not h.get("empty_layer"):
            created.append(h.get("created_by"))
    layers = []
    for i, ((digest, media_type, size), diff_id) in enumerate(zip(blobs, diff_ids, strict=True)):
        if media_type not in LAYER_MEDIA_TYPES:
            raise CorruptImage(f"{where}: layer {i} has unsupported media type {media_type!r}")
        if not isinstance(diff_id, str) or not diff_id.startswith("sha256:"):
            raise CorruptImage(f"{where}: layer {i} has a malformed diff_id {diff_id!r}")
        layers.append(
            Layer(
                index=i,
                diff_id=diff_id,
                digest=digest,
                media_type=media_type,
                size=size,
                created_by=created[i] if i < len(created) else None,
            )
        )
    return layers
