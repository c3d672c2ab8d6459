"""Parse an image reference (DESIGN §2) into a transport and its target.

Pure functions, no I/O except the few ``os.path`` checks that decide what an unprefixed argument
is (an existing archive or OCI layout wins over an image name, as in syft). Image names follow
the Docker distribution grammar, including its docker.io normalisation (``python`` is
``docker.io/library/python:latest``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import ImageNotFound, UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

TRANSPORTS = ("docker-archive", "oci-archive", "oci", "registry", "docker", "podman", "dir")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_DOMAIN_RE = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True)
class ImageName:
    """``domain/repository[:tag][@digest]`` after normalisation."""

    domain: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    def __str__(self) -> str:
        s = f"{self.domain}/{self.repository}"
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


@dataclass(frozen=True)
class SourceRef:
    """A parsed CLI reference: ``transport`` and what it points at.

    ``path`` is set for file transports, ``tag`` for OCI layouts (a ref.name) and docker archives
    (a RepoTags entry), ``name`` for registry/engine/bare references.
    """

    transport: str  # one of TRANSPORTS or "bare"
    raw: str
    path: str | None = None
    tag: str | None = None
    name: ImageName | None = None
    engine_name: str | None = None  # the name as the user wrote it, for the engine API


def parse_image_name(text: str) -> ImageName:
    """Parse ``[domain/]repo[:tag][@digest]`` the way the Docker CLI does."""
    original = text
    if not text or text != text.strip():
        raise UsageError(f"invalid image name {original!r}")
    digest = None
    if "@" in text:
        text, _, digest = text.partition("@")
        if not _DIGEST_RE.match(digest):
            raise UsageError(f"invalid digest in image name {original!r}")
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, _, tag = text.rpartition(":")
        if not _TAG_RE.match(tag):
            raise UsageError(f"invalid tag {tag!r} in image name {original!r}")
    first, sep, rest = text.partition("/")
    # A first component is a registry host when it looks like one: has a dot or a port, or is
    # localhost (the Docker CLI's rule); otherwise the name lives on Docker Hub.
    if sep and (("." in first or ":" in first or first == "localhost") or first != first.lower()):
        domain, repo = first, rest
        if not _DOMAIN_RE.match(domain):
            raise UsageError(f"invalid registry host {domain!r} in image name {original!r}")
    else:
        domain, repo = DOCKER_HUB, text
    if domain in ("index.docker.io", "registry-1.docker.io"):
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in repo:
        repo = f"library/{repo}"
    if not _REPO_RE.match(repo) or len(repo) > 255:
        raise UsageError(f"invalid repository name {repo!r} in image name {original!r}")
    if tag is None and digest is None:
        tag = "latest"
    return ImageName(domain, repo, tag, digest)


def _split_path_tag(target: str) -> tuple[str, str | None]:
    """``PATH[:TAG]``: an existing path wins; otherwise the last ``:`` separates a tag."""
    if os.path.exists(target) or ":" not in target:
        return target, None
    path, _, tag = target.rpartition(":")
    if not path or "/" in tag:
        return target, None
    return path, tag


def parse_reference(ref: str) -> SourceRef:
    if not ref:
        raise UsageError("empty image reference")
    if ref.startswith("docker://"):  # skopeo's spelling of a registry reference
        name = ref[len("docker://"):]
        return SourceRef("registry", ref, name=parse_image_name(name))
    prefix, sep, rest = ref.partition(":")
    if sep and prefix in TRANSPORTS:
        if not rest:
            raise UsageError(f"{prefix}: needs a target, e.g. {prefix}:{_example(prefix)}")
        if prefix in ("oci", "oci-archive", "docker-archive"):
            path, tag = _split_path_tag(rest)
            return SourceRef(prefix, ref, path=path, tag=tag)
        if prefix == "dir":
            return SourceRef("dir", ref, path=rest)
        if prefix == "registry":
            return SourceRef("registry", ref, name=parse_image_name(rest))
        # docker:/podman: — the engine resolves short names itself; keep what the user wrote.
        return SourceRef(prefix, ref, name=parse_image_name(rest), engine_name=rest)
    # No transport: an existing file or OCI layout on disk, else an image name.
    if os.path.isdir(ref):
        if os.path.exists(os.path.join(ref, "oci-layout")):
            return SourceRef("oci", ref, path=ref)
        raise UsageError(
            f"{ref} is a directory without an oci-layout file; use dir:{ref} for an unpacked rootfs"
        )
    if os.path.isfile(ref):
        return SourceRef("archive", ref, path=ref)
    path, tag = _split_path_tag(ref)
    if tag is not None and os.path.isdir(path) and os.path.exists(os.path.join(path, "oci-layout")):
        return SourceRef("oci", ref, path=path, tag=tag)
    if ref.endswith((".tar", ".tar.gz", ".tgz")) and "/" in ref or ref.startswith((".", "/")):
        raise ImageNotFound(f"{ref}: no such file or directory")
    return SourceRef("bare", ref, name=parse_image_name(ref), engine_name=ref)


def _example(prefix: str) -> str:
    return {
        "docker-archive": "image.tar",
        "oci-archive": "image-oci.tar",
        "oci": "DIR:TAG",
        "dir": "ROOTFS",
    }.get(prefix, "NAME:TAG")
