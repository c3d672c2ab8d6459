"""What every image source takes.

A source (a row of ``dispatch.OPENERS``) turns a reference into an :class:`~sitelens.image.Image`
whose ``open_layer`` streams blobs; it is a context manager because some sources hold resources
(an HTTP session, an open archive, a temporary export from an engine) until the layers are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceOptions:
    platform: str | None = None  # os/arch[/variant]; None: this machine's, else linux/amd64
    insecure_registries: tuple[str, ...] = ()  # hosts allowed over plain HTTP besides loopback
    docker_config: Path | None = None  # default: $DOCKER_CONFIG/config.json or ~/.docker/config.json
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0  # seconds per request: connect, and each read of the socket
    deadline: float = 1800.0  # seconds for the whole conversation with a registry (--timeout x 60)
    retries: int = 4
    # where a source that must stage an image on disk (an engine export) may write it: the
    # cache dir, never $TMPDIR (nothing from an image is written outside the cache dir)
    spool_dir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

