"""Requirement and lock files the image carries for its application, found where they live.

The WorkingDir, ``/app`` and the entrypoint script's directory are where a Dockerfile copies
``requirements.txt`` before ``pip install -r``; what those files ask for is compared with what
Python imports (SL116). Their text is kept (``-r`` follows a sibling), and parsed here into
:class:`Wanted` records: the check reads no file syntax.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from ..fs import Filesystem
from ..image import ImageConfig
from ..layers.capture import LOCK_FILE, REQUIREMENT_FILE
from .model import Entrypoint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the tomli backport, a dependency there
    import tomli as tomllib



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
            if REQUIREMENT_FILE.match(child) or LOCK_FILE.match(child):
                text = fs.read_text(posixpath.join(real, child))
                if text is not None:
                    out.append((posixpath.join(real, child), text))
    return out


@dataclass
class Wanted:
    source: str  # file path in the image, or the --requirements name
    line: int | None
    name: str  # canonical
    text: str  # as written
    spec: SpecifierSet
    marker: Marker | None
    must_exist: bool  # a requirement (True) or a lock/constraint entry (only checked if installed)


def parse_requirements_txt(
    text: str,
    source: str,
    constraint: bool = False,
    include: dict[str, str] | None = None,
    depth: int = 0,
) -> list[Wanted]:
    """pip requirements syntax: names, specifiers, markers; -r/-c followed when captured."""
    out: list[Wanted] = []
    joined = re.sub(r"\\\n", " ", text)
    for no, raw in enumerate(joined.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement", "-c ", "--constraint")):
            target = line.split(None, 1)[1].strip() if " " in line else line.split("=", 1)[-1]
            nested = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
            if include is not None and nested in include and depth < 5:
                out += parse_requirements_txt(
                    include[nested],
                    nested,
                    constraint or line.startswith(("-c", "--constraint")),
                    include,
                    depth + 1,
                )
            continue
        if line.startswith("-") or "://" in line.split(";")[0] and "@" not in line:
            continue  # options, editables, bare URLs
        line = re.split(r"\s--hash[=\s]", line)[0].strip()
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.url:
            continue
        out.append(
            Wanted(
                source,
                no,
                canonicalize_name(req.name),
                line,
                req.specifier,
                req.marker,
                not constraint,
            )
        )
    return out


def _pinned(name: str, version: str, source: str, marker: str | None = None) -> Wanted | None:
    try:
        spec = SpecifierSet(f"=={version}")
        mk = Marker(marker) if marker else None
    except (InvalidSpecifier, InvalidMarker):
        return None
    return Wanted(source, None, canonicalize_name(name), f"{name}=={version}", spec, mk, False)


def parse_lock(text: str, source: str) -> list[Wanted]:
    """uv.lock, poetry.lock, pylock.toml, Pipfile.lock and pyproject.toml's [project] deps."""
    base = posixpath.basename(source)
    out: list[Wanted] = []
    if base == "Pipfile.lock":
        try:
            doc = json.loads(text)
        except ValueError:
            return []
        for name, info in (doc.get("default") or {}).items():
            ver = str((info or {}).get("version", "")).lstrip("=")
            if ver:
                w = _pinned(name, ver, source, (info or {}).get("markers"))
                if w:
                    out.append(w)
        return out
    try:
        doc = tomllib.loads(text)
    except ValueError:  # TOMLDecodeError subclasses ValueError
        return []
    if base == "pyproject.toml":
        deps = (doc.get("project") or {}).get("dependencies") or []
        return parse_requirements_txt("\n".join(str(d) for d in deps), source)
    packages = doc.get("package") or doc.get("packages") or []
    for p in packages:
        if not isinstance(p, dict) or "name" not in p or "version" not in p:
            continue
        src = p.get("source") or {}
        if isinstance(src, dict) and (src.get("editable") or src.get("virtual") or src.get("directory")):
            continue  # the project itself
        w = _pinned(str(p["name"]), str(p["version"]), source, p.get("marker"))
        if w:
            out.append(w)
    return out


def parse_requirement_file(path: str, text: str, siblings: dict[str, str]) -> list[Wanted]:
    """What one requirement or lock file asks for; ``-r``/``-c`` follow ``siblings`` (path -> text)."""
    base = posixpath.basename(path)
    if LOCK_FILE.match(base):
        return parse_lock(text, path)
    return parse_requirements_txt(text, path, constraint=base.startswith("constraints"), include=siblings)
