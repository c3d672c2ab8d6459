"""``docker:NAME`` / ``podman:NAME``: a local engine through the Docker Engine API (docker SDK).

The engine only exports whole images (``GET /images/NAME/get``, a ``docker save`` tarball), in
an order where ``manifest.json`` comes last, while the loader wants each layer on its own and in
parallel. So the export is streamed into one temporary file (in the cache dir's ``spool/``,
never ``$TMPDIR``; removed when the image is closed) and read by the docker-archive reader,
which opens layers as windows into it.
A bare ``NAME[:TAG]`` tries the engine first when one is reachable, then the registry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ImageError, ImageNotFound
from ..image import Image
from .base import SourceOptions
from .docker_archive import image_from_archive
from .reference import SourceRef
from .store import TarStore

SAVE_CHUNK = 4 << 20


def _sock(path: str) -> str | None:
    return f"unix://{path}" if os.path.exists(path) else None


def engine_urls(kind: str) -> list[str]:
    """Where the engine may listen, most specific first; only sockets that exist count."""
    urls: list[str | None] = []
    if kind == "podman":
        urls.append(os.environ.get("CONTAINER_HOST"))
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime:
            urls.append(_sock(os.path.join(runtime, "podman", "podman.sock")))
        urls.append(_sock("/run/podman/podman.sock"))
        urls.append(os.environ.get("DOCKER_HOST"))
    else:
        urls.append(os.environ.get("DOCKER_HOST"))
        urls.append(_sock("/var/run/docker.sock"))
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime:
            urls.append(_sock(os.path.join(runtime, "docker.sock")))
    seen: list[str] = []
    for u in urls:
        if u and u not in seen:
            seen.append(u)
    return seen


def _client(url: str, opts: SourceOptions) -> Any:
    import docker

    try:
        kwargs: dict[str, Any] = {}
        if url == os.environ.get("DOCKER_HOST"):
            # DOCKER_TLS_VERIFY / DOCKER_CERT_PATH go with DOCKER_HOST, as in the docker CLI
            kwargs = docker.utils.kwargs_from_env()
        kwargs.update(base_url=url, timeout=int(max(opts.timeout, 60)))
        client = docker.DockerClient(**kwargs)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - the SDK raises many kinds; all mean "not there"
        raise ImageError(f"cannot reach the container engine at {url} ({_short(exc)})") from None
    return client


def _short(exc: BaseException) -> str:
    return str(exc).replace("\n", " ")[:200]


@contextmanager
def _export(client: Any, name: str, opts: SourceOptions, reference: str) -> Iterator[Image]:
    import docker.errors

    try:
        img = client.images.get(name)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(f"{reference}: no such image in the engine") from None
    except docker.errors.APIError as exc:
        raise ImageError(f"{reference}: engine error ({_short(exc)})") from None
    try:
        if opts.spool_dir is not None:
            opts.spool_dir.mkdir(parents=True, exist_ok=True)
        tmpdir = tempfile.mkdtemp(prefix="sitelens-engine-", dir=opts.spool_dir)
    except OSError as exc:
        raise ImageError(f"{reference}: cannot stage the export in {opts.spool_dir} ({exc.strerror})") from None
    try:
        path = Path(tmpdir) / "image.tar"
        try:
            with open(path, "wb") as f:
                for chunk in img.save(chunk_size=SAVE_CHUNK, named=True):
                    f.write(chunk)
        except docker.errors.DockerException as exc:
            raise ImageError(f"{reference}: engine failed to export the image ({_short(exc)})") from None
        except OSError as exc:
            raise ImageError(f"{reference}: cannot spool the export to {tmpdir} ({exc.strerror})") from None
        image = image_from_archive(TarStore(path, where=reference), None, opts, reference)
        if image.digest is None:
            # the engine knows the repo digest the archive lost, when the image was pulled
            repo_digests = (img.attrs or {}).get("RepoDigests") or []
            if repo_digests:
                image.digest = str(repo_digests[0]).rpartition("@")[2] or None
        yield image
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@contextmanager
def open_engine(kind: str, name: str, opts: SourceOptions, reference: str) -> Iterator[Image]:
    urls = engine_urls(kind)
    if not urls:
        hint = "CONTAINER_HOST or DOCKER_HOST" if kind == "podman" else "DOCKER_HOST"
        raise ImageError(f"{reference}: no {kind} engine socket found (set {hint})")
    client = _client(urls[0], opts)
    try:
        with _export(client, name, opts, reference) as image:
            yield image
    finally:
        client.close()


def _engine_has(name: str, opts: SourceOptions) -> tuple[Any, str] | None:
    """A client for the first reachable engine that has the image, or None."""
    import docker.errors

    for kind in ("docker", "podman"):
        for url in engine_urls(kind):
            try:
                client = _client(url, opts)
            except ImageError:
                continue
            try:
                client.images.get(name)
                return client, url
            except docker.errors.DockerException:
                client.close()
    return None


@contextmanager
def open_bare(sref: SourceRef, opts: SourceOptions) -> Iterator[Image]:
    name = sref.engine_name or sref.raw
    found = _engine_has(name, opts)
    if found is not None:
        client, _ = found
        try:
            with _export(client, name, opts, sref.raw) as image:
                yield image
        finally:
            client.close()
        return
    from .registry import open_registry

    assert sref.name is not None
    with open_registry(sref.name, opts, sref.raw) as image:
        yield image
