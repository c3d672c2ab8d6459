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


# A manifest, index or config nests a handful of levels; past this it is garbage or a bomb
# aimed at a recursive reader (json's C scanner recurses once per level).
MAX_JSON_DEPTH = 64
_HEX = frozenset("0123456789abcdef")


def load_document(raw: bytes, where: str, what: str) -> Any:
    """Parse one JSON document of an image; malformed, non-UTF-8 or too deeply nested is corrupt."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise CorruptImage(f"{where}: {what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptImage(f"{where}: {what} is not valid JSON ({str(exc)[:80]})") from None
    if _depth(doc) > MAX_JSON_DEPTH:
        raise CorruptImage(f"{where}: {what} is nested more than {MAX_JSON_DEPTH} levels deep")
    return doc


def _depth(doc: Any) -> int:
    """Nesting depth of a parsed document, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in node if isinstance(child, (list, dict)))
    return deepest


def is_sha256_digest(value: object) -> bool:
    """``sha256:`` and 64 lower-case hex digits: the only form used as a cache key or file name."""
    return (
        isinstance(value, str) and len(value) == 71 and value.startswith("sha256:") and set(value[7:]) <= _HEX
    )


def parse_config(raw: bytes, where: str) -> dict[str, Any]:
    doc = load_document(raw, where, "image config")
    if not isinstance(doc, dict):
        raise CorruptImage(f"{where}: image config is not a JSON object")
    return doc


def _field(doc: dict[str, Any], key: str, kind: type, where: str, name: str) -> Any:
    """``doc[key]`` when it is a ``kind`` (None when absent or null); any other type is corrupt."""
    value = doc.get(key)
    if value is None or isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise CorruptImage(f"{where}: corrupt image: {name} must be a {_KIND_NAMES.get(kind, kind.__name__)}, "
                       f"not {type(value).__name__}")


_KIND_NAMES: dict[type, str] = {str: "string", list: "list", dict: "JSON object"}


def _str_list(doc: dict[str, Any], key: str, where: str, name: str) -> list[str] | None:
    """Entrypoint/Cmd: a list of strings, or (as Docker accepts) one string."""
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise CorruptImage(f"{where}: corrupt image: {name} must be a list of strings")


def config_from_json(doc: dict[str, Any], where: str = "image") -> ImageConfig:
    """Read the runtime facts from an OCI/Docker image config document, checking their types."""
    cfg = doc.get("config")
    if cfg is None:
        cfg = doc.get("container_config")
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise CorruptImage(f"{where}: corrupt image: config.config must be a JSON object")
    env: dict[str, str] = {}
    for item in _field(cfg, "Env", list, where, "config.Env") or []:
        if not isinstance(item, str):
            raise CorruptImage(f"{where}: corrupt image: config.Env must be a list of strings")
        key, _, value = item.partition("=")
        env[key] = value
    return ImageConfig(
        user=_field(cfg, "User", str, where, "config.User") or None,
        env=env,
        workdir=_field(cfg, "WorkingDir", str, where, "config.WorkingDir") or None,
        entrypoint=_str_list(cfg, "Entrypoint", where, "config.Entrypoint"),
        cmd=_str_list(cfg, "Cmd", where, "config.Cmd"),
        os=_field(doc, "os", str, where, "os") or "linux",
        architecture=_field(doc, "architecture", str, where, "architecture") or "amd64",
        variant=_field(doc, "variant", str, where, "variant") or None,
    )


def _created_by(doc: dict[str, Any], where: str) -> list[str | None]:
    """``created_by`` of the history entries that made a layer (``empty_layer`` ones did not)."""
    history = _field(doc, "history", list, where, "history") or []
    created: list[str | None] = []
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            raise CorruptImage(f"{where}: corrupt image: history[{i}] must be a JSON object")
        if not h.get("empty_layer"):
            created.append(_field(h, "created_by", str, where, f"history[{i}].created_by"))
    return created


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
    created = _created_by(doc, where)
    layers = []
    for i, ((digest, media_type, size), diff_id) in enumerate(zip(blobs, diff_ids, strict=True)):
        if media_type not in LAYER_MEDIA_TYPES:
            raise CorruptImage(f"{where}: layer {i} has unsupported media type {media_type!r}")
        if not is_sha256_digest(diff_id):
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
