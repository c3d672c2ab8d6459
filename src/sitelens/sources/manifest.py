"""Manifests, indexes and platforms: the document layer shared by every source.

OCI image manifests and Docker schema2 manifests are read the same way; image indexes and
Docker manifest lists are resolved to one manifest by tag or by platform. Docker schema1 is
refused (it has no config blob and no diff_ids). Pure functions over parsed JSON.
"""

from __future__ import annotations

import hashlib
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptImage, ImageError, ImageNotFound, UsageError
from ..image import BlobOpener, Image, config_from_json, layers_from_config, load_document, parse_config

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
REF_NAME = "org.opencontainers.image.ref.name"
# What a registry client says it accepts, most specific first.
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES, *SCHEMA1))

_SCHEMA1_MESSAGE = (
    "uses a Docker schema1 manifest, which is deprecated and not supported; "
    "re-push it with a current client"
)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int | None
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def platform_string(self) -> str | None:
        p = self.platform
        if not p:
            return None
        s = f"{p.get('os', '')}/{p.get('architecture', '')}"
        return f"{s}/{p['variant']}" if p.get("variant") else s


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify_digest(data: bytes, digest: str, where: str, what: str) -> None:
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha512") or not hexpart:
        raise CorruptImage(f"{where}: {what} has an unsupported digest {digest!r}")
    actual = f"{algo}:" + hashlib.new(algo, data).hexdigest()
    if actual != digest:
        raise CorruptImage(f"{where}: {what} digest mismatch: expected {digest}, got {actual}")


def load_json(raw: bytes, where: str, what: str) -> dict[str, Any]:
    doc = load_document(raw, where, what)
    if not isinstance(doc, dict):
        raise CorruptImage(f"{where}: {what} is not a JSON object")
    return doc


def descriptor(obj: Any, where: str, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise CorruptImage(f"{where}: {what} is not a descriptor object")
    digest = obj.get("digest")
    if not isinstance(digest, str) or ":" not in digest:
        raise CorruptImage(f"{where}: {what} has no valid digest")
    size = obj.get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise CorruptImage(f"{where}: {what} has an invalid size {size!r}")
    annotations = obj.get("annotations")
    plat = obj.get("platform")
    return Descriptor(
        media_type=str(obj.get("mediaType") or ""),
        digest=digest,
        size=size,
        platform=_platform_fields(plat),
        # a hostile index names tags with lists or numbers: only string pairs are annotations
        annotations={k: v for k, v in annotations.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(annotations, dict) else {},
    )


def _platform_fields(plat: object) -> dict[str, Any] | None:
    if not isinstance(plat, dict):
        return None
    return {k: v for k, v in plat.items() if isinstance(v, str)}


def document_kind(doc: dict[str, Any], media_type: str | None, where: str) -> str:
    """``manifest`` or ``index``; schema1 and unknown documents end the run."""
    mt = doc.get("mediaType") or media_type or ""
    if doc.get("schemaVersion") == 1 or mt in SCHEMA1:
        raise ImageError(f"{where} {_SCHEMA1_MESSAGE}")
    if mt in INDEX_TYPES:
        return "index"
    if mt in MANIFEST_TYPES:
        return "manifest"
    if not mt:
        # OCI allows mediaType to be absent: tell them apart by shape.
        if isinstance(doc.get("manifests"), list):
            return "index"
        if isinstance(doc.get("layers"), list) and isinstance(doc.get("config"), dict):
            return "manifest"
    raise CorruptImage(f"{where}: unknown manifest media type {mt!r}")


def index_entries(doc: dict[str, Any], where: str) -> list[Descriptor]:
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise CorruptImage(f"{where}: index has no manifests list")
    return [descriptor(m, where, f"index entry {i}") for i, m in enumerate(manifests)]


def manifest_parts(doc: dict[str, Any], where: str) -> tuple[Descriptor, list[Descriptor]]:
    config = descriptor(doc.get("config"), where, "manifest config")
    if config.media_type and config.media_type not in CONFIG_TYPES:
        raise CorruptImage(f"{where}: config has unknown media type {config.media_type!r} (not a container image)")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise CorruptImage(f"{where}: manifest has no layers list")
    return config, [descriptor(m, where, f"layer {i}") for i, m in enumerate(layers)]


# ---- platforms -------------------------------------------------------------------------------

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


def machine_platform() -> str:
    machine = _platform.machine().lower()
    arch = _ARCH.get(machine, machine)
    if machine == "armv7l":
        return "linux/arm/v7"
    if machine == "armv6l":
        return "linux/arm/v6"
    return f"linux/{arch}"


def parse_platform(text: str) -> tuple[str, str, str | None]:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _matches(d: Descriptor, want: tuple[str, str, str | None]) -> bool:
    p = d.platform or {}
    os_, arch, variant = want
    if p.get("os") != os_ or p.get("architecture") != arch:
        return False
    if variant is None:
        return True
    have = p.get("variant")
    # arm64 images usually omit the v8 variant
    return have == variant or (have is None and arch == "arm64" and variant == "v8")


def select_platform(entries: list[Descriptor], wanted: str | None, where: str) -> Descriptor:
    """Pick one manifest of an index: the requested platform, else this machine's, else
    linux/amd64, else the only real one. Attestation manifests (unknown/unknown) never count."""
    real = [d for d in entries if (d.platform or {}).get("os") != "unknown"]
    if wanted:
        want = parse_platform(wanted)
        for d in real:
            if _matches(d, want):
                return d
    else:
        for candidate in (machine_platform(), "linux/amd64"):
            want = parse_platform(candidate)
            hits = [d for d in real if _matches(d, want)]
            # exact variant first when several match (linux/arm/v6 and v7)
            if hits:
                return hits[0]
        if len(real) == 1:
            return real[0]
    have = ", ".join(sorted({d.platform_string or "unspecified" for d in real})) or "none"
    raise ImageNotFound(
        f"{where}: no manifest for platform {wanted or machine_platform()} (available: {have})"
    )


def select_by_tag(entries: list[Descriptor], tag: str | None, where: str) -> list[Descriptor]:
    """The index entries an OCI layout tag names (all entries when no tag is given)."""
    if tag is None:
        return entries
    hits = [d for d in entries if d.annotations.get(REF_NAME) == tag]
    if not hits:
        # Docker 25+ archives and containerd also name images by full reference
        hits = [d for d in entries if d.annotations.get("io.containerd.image.name", "").endswith(":" + tag)
                or d.annotations.get(REF_NAME, "").endswith(":" + tag)]
    if not hits:
        names = sorted({d.annotations.get(REF_NAME, "") for d in entries} - {""})
        raise ImageNotFound(f"{where}: no image tagged {tag!r} (tags: {', '.join(names) or 'none'})")
    return hits


# ---- building the image model ----------------------------------------------------------------

def build_image(
    reference: str,
    digest: str | None,
    config_raw: bytes,
    config_digest: str | None,
    blobs: list[tuple[str | None, str, int | None]],
    opener: BlobOpener,
    where: str,
    fork_safe: bool = False,
) -> Image:
    """The :class:`Image` for a config document and its layer blobs (manifest order)."""
    if config_digest:
        verify_digest(config_raw, config_digest, where, "config")
    doc = parse_config(config_raw, where)
    layers = layers_from_config(doc, blobs, where)
    return Image(
        reference=reference,
        digest=digest,
        config=config_from_json(doc, where),
        layers=layers,
        config_digest=config_digest or sha256_digest(config_raw),
        raw_config=doc,
        _opener=opener,
        fork_safe=fork_safe,
    )

