"""What a scan audits: registry repositories and tags (catalog + tags APIs), or a list of images.

Each target is resolved to its manifest digest with a HEAD request (cheap, and not counted by
registries that rate-limit manifest GETs), which is the key the results store skips on.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ImageError, UsageError
from ..image import load_document
from ..sources.base import SourceOptions
from ..sources.manifest import ACCEPT as MANIFEST_ACCEPT
from ..sources.reference import ImageName, parse_image_name
from ..sources.registry import RegistryClient

PAGE = 100
MAX_PAGES = 10_000  # a registry that keeps sending "next" forever is not followed forever


@dataclass(frozen=True)
class Target:
    registry: str
    repository: str
    tag: str | None
    digest: str

    @property
    def reference(self) -> str:
        return f"registry:{self.registry}/{self.repository}@{self.digest}"

    @property
    def display(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}" if self.tag else self.reference


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


def _paged(client: RegistryClient, first: str, key: str) -> Iterator[str]:
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
            return
        if resp.status_code != 200:
            resp.close()
            raise ImageError(f"{client.host}: listing {path.split('?')[0]} failed (HTTP {resp.status_code})")
        what = f"listing {path.split('?')[0]}"
        doc = load_document(client.read_small(resp, what), client.host, what)
        items = doc.get(key) if isinstance(doc, dict) else None
        # a hostile listing mixes numbers and nulls in with the names: only strings are names
        yield from (i for i in items if isinstance(i, str)) if isinstance(items, list) else ()
        path = _next_link(resp.headers.get("Link"))
        pages += 1


def list_repositories(registry: str, opts: SourceOptions) -> list[str]:
    client = _ApiClient(ImageName(registry, "_catalog"), opts)
    try:
        return list(_paged(client, f"_catalog?n={PAGE}", "repositories"))
    finally:
        client.close()


def list_tags(client: RegistryClient) -> list[str]:
    return list(_paged(client, f"tags/list?n={PAGE}", "tags"))


def resolve_digest(client: RegistryClient, tag: str) -> str:
    where = f"{client.name.domain}/{client.name.repository}:{tag}"
    resp = client.request(f"manifests/{tag}", {"Accept": MANIFEST_ACCEPT}, method="HEAD")
    digest = resp.headers.get("Docker-Content-Digest")
    status = resp.status_code
    resp.close()
    if status == 404:
        raise ImageError(f"{where}: tag not found")
    if status != 200 or not digest:
        # Some registries omit the header on HEAD: the manifest's own digest is authoritative.
        _, _, digest = client.manifest(tag)
    return digest


def registry_targets(
    registry: str, repo_glob: str, tag_glob: str, opts: SourceOptions, errors: list[str]
) -> list[Target]:
    targets = []
    for repo in sorted(list_repositories(registry, opts)):
        if not fnmatch.fnmatchcase(repo, repo_glob):
            continue
        # One client per repository: its connection, scheme and token serve the listing and HEADs.
        client = RegistryClient(ImageName(registry, repo), opts)
        try:
            try:
                tags = sorted(list_tags(client))
            except ImageError as exc:
                errors.append(f"{registry}/{repo}: {exc}")
                continue
            for tag in tags:
                if not fnmatch.fnmatchcase(tag, tag_glob):
                    continue
                try:
                    targets.append(Target(registry, repo, tag, resolve_digest(client, tag)))
                except ImageError as exc:
                    errors.append(f"{registry}/{repo}:{tag}: {exc}")
        finally:
            client.close()
    return targets


def _has_registry_host(ref: str) -> bool:
    """Docker's rule: the first component names a host when it has a dot, a colon or is localhost."""
    first, slash, _ = ref.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def file_targets(path: Path, default_registry: str | None, opts: SourceOptions, errors: list[str]) -> list[Target]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read image list {path}: {exc.strerror}") from None
    targets = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ref = line.removeprefix("registry:")
        if default_registry and not _has_registry_host(ref):
            ref = f"{default_registry}/{ref}"
        try:
            name = parse_image_name(ref)
            digest = name.digest
            if digest is None:
                client = RegistryClient(name, opts)
                try:
                    digest = resolve_digest(client, name.tag or "latest")
                finally:
                    client.close()
            targets.append(Target(name.domain, name.repository, name.tag if not name.digest else None, digest))
        except (ImageError, UsageError) as exc:
            errors.append(f"{line}: {exc}")
    return targets
