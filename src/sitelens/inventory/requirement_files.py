"""Requirement and lock files the image carries for its application, found where they live.

The WorkingDir, ``/app`` and the entrypoint script's directory are where a Dockerfile copies
``requirements.txt`` before ``pip install -r``; what those files ask for is compared with what
Python imports (SL116). Their text is kept; :mod:`.declared` turns it into typed records.
"""

from __future__ import annotations

import posixpath
import re

from ..fs import Filesystem
from ..image import ImageConfig
from .declared import LOCK_FILES, parse_declared
from .model import DeclaredRequirement, Entrypoint

REQUIREMENT_FILE = re.compile(r"^(requirements.*\.(txt|in)|.*-requirements\.txt|constraints.*\.txt)$")


def find_requirement_files(fs: Filesystem, config: ImageConfig, entrypoint: Entrypoint | None) -> list[tuple[str, str]]:
    """(path, text) of every requirement/lock file in the application's directories."""
    dirs: list[str] = []
    if config.workdir:
        dirs.append(posixpath.normpath(config.workdir))
    dirs.append("/app")
    if entrypoint is not None and entrypoint.script:
        dirs.append(posixpath.dirname(entrypoint.script))
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for d in dirs:
        real = fs.resolve(d)
        if real is None or real in seen:
            continue
        seen.add(real)
        for child in fs.listdir(real):
            if REQUIREMENT_FILE.match(child) or child in LOCK_FILES:
                text = fs.read_text(posixpath.join(real, child))
                if text is not None:
                    out.append((posixpath.join(real, child), text))
    return out


def declared_requirements(files: list[tuple[str, str]]) -> list[DeclaredRequirement]:
    """Every record the found files declare (requirement files follow ``-r`` into their siblings)."""
    siblings = dict(files)
    out: list[DeclaredRequirement] = []
    for path, text in files:
        out += parse_declared(path, text, siblings)
    return out
