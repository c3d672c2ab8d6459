"""What a scan audits: registry repositories and tags (catalog + tags APIs), or a list of images.

Every selected image becomes a ``Target``, including the ones that cannot be resolved: a tag
that vanished, a repository behind auth, a registry that does not answer. Those carry their
failure (``reason`` + one-line ``error``) so the run reports them instead of dropping them.
Registry tags are resolved to their manifest digest with a HEAD request (cheap, and not counted
by registries that rate-limit manifest GETs); local layouts and archives are opened for theirs.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    CorruptImage,
    ImageError,
    ImageNotFound,
    RegistryUnreachable,
    SitelensError,
    UsageError,
)
from ..image import load_document
from ..sources.base import SourceOptions
from ..sources.manifest import ACCEPT as MANIFEST_ACCEPT
from ..sources.reference import ImageName, SourceRef, parse_reference
from ..sources.registry import RegistryClient

PAGE = 100
RESOLVERS = 8  # repositories listed and resolved at once
MAX_PAGES = 10_000  # a registry that keeps sending "next" forever is not followed forever

# Why a target failed; the same words in console, JSON, HTML and the store.
REASONS = ("not_found", "auth", "unreachable", "corrupt", "invalid", "error", "internal")


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, ImageNotFound):
        return "not_found"
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, RegistryUnreachable):
        return "unreachable"
    if isinstance(exc, CorruptImage):
        return "corrupt"
    if isinstance(exc, UsageError):
        return "invalid"
    if isinstance(exc, SitelensError):
        return "error"
    return "internal"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Target:
    """One selected image. ``selector`` is what the user would call it (``host/repo:tag`` or the
    line of the image list); ``reference`` is what the task audits; ``digest`` is None when the
    source can only tell by reading the image (dir:, engines) or when resolving failed."""

    selector: str
    reference: str
    digest: str | None
    tag: str | None = None
    reason: str | None = None
    error: str | None = None
    repository: str | None = None  # "host/repo" for registry targets: where a tag is recorded

    @property
    def tag_key(self) -> tuple[str, str, str] | None:
        """(registry, repository, tag) for a registry tag, the key of its row in the tags table."""
        if self.repository is None or self.tag is None:
            return None
        host, _, repo = self.repository.partition("/")
        return host, repo, self.tag

    @property
    def failed(self) -> bool:
        return self.reason is not None


class _ApiClient(RegistryClient):
    """A client for registry-wide endpoints (``/v2/_catalog``) rather than one repository's."""

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{path}"


def _next_link(link_header: str | None) -> str | None:
    """The path of a ``Link: </v2/_catalog?last=x&n=100>; rel="next"`` header, relative to /v2/."""
    if not link_header:
        return None
    for part in link_header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            url = part.split(";", 1)[0].strip().strip("<>")
            split = urlsplit(url)
            path = split.path + (f"?{split.query}" if split.query else "")
            return path[len("/v2/"):] if path.startswith("/v2/") else path.lstrip("/")
    return None


def _paged(client: RegistryClient, first: str, key: str, what: str) -> Iterator[str]:
    path: str | None = first
    pages = 0
    seen: set[str] = set()
    while path is not None and pages < MAX_PAGES:
        if path in seen:  # a rel="next" that points back: the listing is done (issue 14)
            return
        seen.add(path)
        resp = client.request(path, stream=True)
        if resp.status_code == 404:
            resp.close()
            raise ImageNotFound(f"{what}: not found")
        if resp.status_code != 200:
            resp.close()
            raise ImageError(f"{what}: listing failed (HTTP {resp.status_code})")
        listing = f"listing {path.split('?')[0]}"
        doc = load_document(client.read_small(resp, listing), f"{what}", listing)
        items = doc.get(key) if isinstance(doc, dict) else None
        # a hostile listing mixes numbers and nulls in with the names: only strings are names
        yield from (i for i in items if isinstance(i, str)) if isinstance(items, list) else ()
        path = _next_link(resp.headers.get("Link"))
        pages += 1


def list_repositories(registry: str, opts: SourceOptions) -> list[str]:
    client = _ApiClient(ImageName(registry, "_catalog"), opts)
    try:
        return list(_paged(client, f"_catalog?n={PAGE}", "repositories", f"{registry} catalog"))
    finally:
        client.close()


def list_tags(client: RegistryClient) -> list[str]:
    where = f"{client.name.domain}/{client.name.repository}"
    return list(_paged(client, f"tags/list?n={PAGE}", "tags", where))


def resolve_digest(client: RegistryClient, tag: str) -> str:
    where = f"{client.name.domain}/{client.name.repository}:{tag}"
    resp = client.request(f"manifests/{tag}", {"Accept": MANIFEST_ACCEPT}, method="HEAD")
    digest = resp.headers.get("Docker-Content-Digest")
    status = resp.status_code
    resp.close()
    if status == 404:
        raise ImageNotFound(f"{where}: tag not found")
    if status != 200 or not digest:
        # Some registries omit the header on HEAD: the manifest's own digest is authoritative.
        _, _, digest = client.manifest(tag)
    return digest


def _registry_target(selector: str, name: ImageName, digest: str, tag: str | None) -> Target:
    return Target(selector, f"registry:{name.domain}/{name.repository}@{digest}", digest, tag,
                  repository=f"{name.domain}/{name.repository}")


def _failed(selector: str, reference: str, exc: BaseException, tag: str | None = None) -> Target:
    return Target(selector, reference, None, tag, failure_reason(exc), one_line(exc))


def _repository_targets(registry: str, repo: str, tag_glob: str, opts: SourceOptions,
                        cancel: threading.Event | None = None) -> list[Target]:
    if cancel is not None and cancel.is_set():
        return []
    name = ImageName(registry, repo)
    # One client per repository: its connection, scheme and token serve the listing and HEADs.
    client = RegistryClient(name, opts)
    try:
        try:
            tags = sorted(list_tags(client))
        except SitelensError as exc:
            return [_failed(f"{registry}/{repo}", f"registry:{registry}/{repo}", exc)]
        targets = []
        for tag in tags:
            if cancel is not None and cancel.is_set():
                return []
            if not fnmatch.fnmatchcase(tag, tag_glob):
                continue
            selector = f"{registry}/{repo}:{tag}"
            try:
                targets.append(_registry_target(selector, name, resolve_digest(client, tag), tag))
            except SitelensError as exc:
                targets.append(_failed(selector, f"registry:{selector}", exc, tag))
        return targets
    finally:
        client.close()


def registry_targets(registry: str, repo_glob: str, tag_glob: str, opts: SourceOptions,
                     cancel: threading.Event | None = None) -> list[Target]:
    """Every tag of every matching repository, in repository then tag order. A repository or tag
    that cannot be read, or a catalog that cannot be listed, is a failed target. Once ``cancel``
    is set, repositories not yet started are left out (the caller no longer wants the answer)."""
    try:
        repositories = sorted(r for r in list_repositories(registry, opts) if fnmatch.fnmatchcase(r, repo_glob))
    except SitelensError as exc:
        # The whole registry is out of reach: one failed target that says so, not an empty run.
        return [_failed(registry, f"registry:{registry}", exc)]
    # Resolving tags is one small request each: a few repositories at a time hide the round trips.
    with ThreadPoolExecutor(max_workers=RESOLVERS) as pool:
        per_repo = pool.map(lambda repo: _repository_targets(registry, repo, tag_glob, opts, cancel), repositories)
        return [t for targets in per_repo for t in targets]


def _has_registry_host(ref: str) -> bool:
    """Docker's rule: the first component names a host when it has a dot, a colon or is localhost."""
    first, slash, _ = ref.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def _resolve_registry(line: str, name: ImageName, opts: SourceOptions) -> Target:
    selector = f"{name.domain}/{name.repository}" + (f"@{name.digest}" if name.digest else f":{name.tag or 'latest'}")
    if name.digest:
        return _registry_target(selector, name, name.digest, None)
    tag = name.tag or "latest"
    client = RegistryClient(name, opts)
    try:
        return _registry_target(selector, name, resolve_digest(client, tag), tag)
    finally:
        client.close()


def _local_digest(sref: SourceRef, opts: SourceOptions) -> str | None:
    """The manifest digest of a local layout or archive (reading only its index and manifest)."""
    from ..sources import open_image

    with open_image(sref.raw, opts) as image:
        return image.digest


def line_target(line: str, default_registry: str | None, opts: SourceOptions) -> Target:
    """One line of ``--images``: any reference ``audit`` accepts, resolved where that is cheap."""
    ref = line
    if default_registry and not _has_registry_host(ref) and parse_reference_safe(ref) == "bare":
        ref = f"{default_registry}/{ref}"
    try:
        sref = parse_reference(ref)
        if sref.transport == "registry" or (sref.transport == "bare" and _has_registry_host(ref)):
            assert sref.name is not None
            return _resolve_registry(line, sref.name, opts)
        if sref.transport in ("oci", "oci-archive", "docker-archive", "archive"):
            # Workers may run elsewhere or in another directory: hand them an absolute path.
            absolute = _absolute(sref)
            return Target(line, absolute, _local_digest(parse_reference(absolute), opts))
        # dir: and engine references: the digest is only known once the image is read.
        return Target(line, ref, None)
    except SitelensError as exc:
        return _failed(line, ref, exc)


def parse_reference_safe(ref: str) -> str | None:
    try:
        return parse_reference(ref).transport
    except SitelensError:
        return None


def _absolute(sref: SourceRef) -> str:
    assert sref.path is not None
    path = os.path.abspath(sref.path)
    prefix = "docker-archive" if sref.transport == "archive" else sref.transport
    return f"{prefix}:{path}" + (f":{sref.tag}" if sref.tag else "")


def file_targets(path: Path, default_registry: str | None, opts: SourceOptions) -> list[Target]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read image list {path}: {exc.strerror}") from None
    targets: list[Target] = []
    seen: set[str] = set()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line and line not in seen:
            seen.add(line)
            targets.append(line_target(line, default_registry, opts))
    return targets


def with_digest(target: Target, digest: str) -> Target:
    return replace(target, digest=digest)
