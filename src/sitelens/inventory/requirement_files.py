"""Requirement and lock files the image carries for its application, found where they live, and
what they ask for as :class:`Wanted` records.

The WorkingDir, ``/app`` and the entrypoint script's directory are where a Dockerfile copies
``requirements.txt`` before ``pip install -r``; what those files ask for is compared with what
Python imports (SL116). Their text is kept (``-r`` follows a sibling) and parsed here: pip
requirement files (``--hash`` kept), lock files (``poetry.lock``, ``pdm.lock``, ``uv.lock``,
``pylock.toml``, ``Pipfile.lock``: the pinned version, its marker and the hashes of the artefacts the
lock vouches for) and ``pyproject.toml`` ranges (PEP 621 ``[project]``, PEP 735
``[dependency-groups]``, ``[tool.poetry]`` with Poetry's ``^``/``~`` constraints turned into
PEP 440). The check reads no file syntax.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from ..fs import Filesystem
from ..image import ImageConfig
from ..layers.capture import LOCK_FILE, REQUIREMENT_FILE
from .model import Entrypoint, LockedFile, Wanted

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


_HASH = re.compile(r"^(sha256|sha384|sha512|md5)[:=]([0-9a-fA-F]+)$")
_POETRY_CLAUSE = re.compile(r"^(\^|~=|~|==|!=|>=|<=|>|<|=)?\s*([0-9][0-9A-Za-z.*+!-]*)$")


def _hash(text: object, filename: str = "") -> LockedFile | None:
    m = _HASH.match(str(text).strip())
    return LockedFile(filename, m.group(1).lower(), m.group(2).lower()) if m else None


def parse_requirements_txt(
    text: str,
    source: str,
    constraint: bool = False,
    include: dict[str, str] | None = None,
    depth: int = 0,
) -> list[Wanted]:
    """pip requirements syntax: names, specifiers, markers, ``--hash``; -r/-c followed when captured."""
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
        req_text, *hash_parts = re.split(r"\s--hash[=\s]", line)
        req_text = req_text.strip()
        try:
            req = Requirement(req_text)
        except InvalidRequirement:
            continue
        if req.url:
            continue
        files = [f for f in (_hash(h.strip()) for h in hash_parts) if f is not None]
        out.append(Wanted(source, no, canonicalize_name(req.name), req_text, req.specifier, req.marker,
                          not constraint, "constraints" if constraint else "requirements", files))
    return out


def _pinned(
    name: str, version: str, source: str, marker: object, files: list[LockedFile]
) -> Wanted | None:
    try:
        spec = SpecifierSet(f"=={version}")
        mk = Marker(str(marker)) if marker else None
    except (InvalidSpecifier, InvalidMarker):
        return None
    return Wanted(source, None, canonicalize_name(name), f"{name}=={version}", spec, mk, False, "lock", files)


def toml_document(text: str) -> dict[str, Any] | None:
    """A TOML document, or None when the text is not TOML."""
    try:
        doc = tomllib.loads(text)
    except (ValueError, RecursionError):  # TOMLDecodeError subclasses ValueError; deep nesting recurses
        return None
    return doc if isinstance(doc, dict) else None


def _lock_files(p: dict[str, Any]) -> list[LockedFile]:
    """Artefact hashes of one lock entry: Poetry/PDM ``files``, uv ``sdist``/``wheels``, PEP 751."""
    out: list[LockedFile] = []
    entries: list[Any] = []
    for key in ("files", "wheels"):
        if isinstance(p.get(key), list):
            entries += p[key]
    if isinstance(p.get("sdist"), dict):
        entries.append(p["sdist"])
    for e in entries:
        if not isinstance(e, dict):
            continue
        fname = str(e.get("file") or e.get("name") or posixpath.basename(str(e.get("url") or e.get("path") or "")))
        if "hash" in e:
            f = _hash(e["hash"], fname)
            if f is not None:
                out.append(f)
        hashes = e.get("hashes")
        if isinstance(hashes, dict):  # pylock.toml: {sha256 = "..."}
            out += [f for f in (_hash(f"{k}:{v}", fname) for k, v in hashes.items()) if f is not None]
    return out


def parse_lock(text: str, source: str) -> list[Wanted]:
    """A lock file (or ``pyproject.toml``) into records; unreadable text gives none."""
    base = posixpath.basename(source)
    out: list[Wanted] = []
    if base == "Pipfile.lock":
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):  # deep nesting recurses in the decoder
            return []
        for name, info in (doc.get("default") or {}).items() if isinstance(doc, dict) else ():
            info = info if isinstance(info, dict) else {}
            ver = str(info.get("version", "")).lstrip("=")
            files = [f for f in (_hash(h) for h in info.get("hashes") or []) if f is not None]
            w = _pinned(name, ver, source, info.get("markers"), files) if ver else None
            if w:
                out.append(w)
        return out
    doc = toml_document(text)
    if doc is None:
        return []
    if base == "pyproject.toml":
        return parse_pyproject(doc, source)
    packages = doc.get("package") or doc.get("packages") or []
    for p in packages if isinstance(packages, list) else ():
        if not isinstance(p, dict) or "name" not in p or "version" not in p:
            continue
        src = p.get("source") or {}
        if isinstance(src, dict) and (src.get("editable") or src.get("virtual") or src.get("directory")):
            continue  # the project itself
        # Poetry 2 writes ``markers``, PDM and pylock.toml ``marker``
        marker = p.get("marker") or p.get("markers")
        w = _pinned(str(p["name"]), str(p["version"]), source, marker if isinstance(marker, str) else None,
                    _lock_files(p))
        if w:
            out.append(w)
    return out


# ---- pyproject.toml ---------------------------------------------------------------------------


def _bump(parts: list[str], index: int) -> str:
    nums = [int(x) if x.isdigit() else 0 for x in parts[: index + 1]]
    nums[index] += 1
    return ".".join(str(n) for n in nums)


def poetry_constraint(text: str) -> str | None:
    """A Poetry version constraint as a PEP 440 specifier set (None: not expressible, e.g. ``||``).

    ``^1.2.3`` → ``>=1.2.3,<2.0.0`` (the first non-zero part is kept), ``~1.2`` → ``>=1.2,<1.3``,
    ``1.2.*`` → ``==1.2.*``, a bare version → ``==``; clauses are joined by commas or spaces.
    """
    text = text.strip()
    if text in ("", "*"):
        return ""
    if "|" in text:
        return None
    clauses = [c for c in re.split(r"\s*,\s*|\s+(?=[\^~<>=!])", text) if c]
    out: list[str] = []
    for clause in clauses:
        m = _POETRY_CLAUSE.match(clause.replace(" ", ""))
        if not m:
            return None
        op, ver = m.group(1) or "", m.group(2)
        parts = ver.split(".")
        if op == "^":
            # poetry-core: the major part unless it is 0, then the minor unless it is 0, then the patch
            if parts[0] != "0" or len(parts) == 1:
                upper = _bump(parts, 0)
            elif parts[1] != "0" or len(parts) == 2:
                upper = _bump(parts, 1)
            else:
                upper = _bump(parts, 2)
            out += [f">={ver}", f"<{upper}"]
        elif op == "~":
            upper = _bump(parts, 1 if len(parts) > 1 else 0)
            out += [f">={ver}", f"<{upper}"]
        elif op in ("", "=", "=="):
            out.append(f"=={ver}")
        else:
            out.append(f"{op}{ver}")
    spec = ",".join(out)
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        return None
    return spec


def _python_marker(constraint: str) -> str | None:
    spec = poetry_constraint(constraint)
    if not spec:
        return None
    return " and ".join(f'python_full_version {s.operator} "{s.version}"' for s in SpecifierSet(spec))


def _poetry_dep(name: str, value: object, source: str, must_exist: bool) -> Wanted | None:
    if name.lower() == "python":
        return None
    markers: list[str] = []
    optional = False
    if isinstance(value, dict):
        if any(k in value for k in ("git", "path", "url", "file")):
            return None
        version = str(value.get("version", "*"))
        if isinstance(value.get("python"), str):
            pm = _python_marker(value["python"])
            if pm is None and poetry_constraint(value["python"]) != "":
                return None  # `^3.8 || ^2.7`: for which Pythons it applies is not one range
            if pm:
                markers.append(f"({pm})")
        if isinstance(value.get("markers"), str):
            markers.append(f"({value['markers']})")
        optional = bool(value.get("optional"))
    elif isinstance(value, str):
        version = value
    else:
        return None  # a list of alternatives per Python version: not one range
    spec = poetry_constraint(version)
    if spec is None:
        return None
    marker = " and ".join(markers) or None
    try:
        mk = Marker(marker) if marker else None
    except InvalidMarker:
        return None
    text = f"{name} = {version!r}" + (f"; {marker}" if marker else "")
    return Wanted(source, None, canonicalize_name(name), text, SpecifierSet(spec), mk, must_exist and not optional,
                  "pyproject")


def parse_pyproject(doc: dict[str, Any], source: str) -> list[Wanted]:
    """``[project]`` dependencies (required) and optional/extra groups (checked only if installed);
    ``[tool.poetry.dependencies]`` (required) and Poetry groups (checked only if installed)."""
    out: list[Wanted] = []

    def pep508(deps: object, must_exist: bool) -> None:
        if isinstance(deps, list):
            for r in parse_requirements_txt("\n".join(str(d) for d in deps if isinstance(d, str)), source,
                                            constraint=not must_exist):
                r.line, r.kind = None, "pyproject"
                out.append(r)

    def table(parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, dict) else {}

    project = table(doc, "project")
    pep508(project.get("dependencies"), True)
    extras = project.get("optional-dependencies")
    for deps in extras.values() if isinstance(extras, dict) else ():
        pep508(deps, False)
    groups = doc.get("dependency-groups")
    for deps in groups.values() if isinstance(groups, dict) else ():
        pep508(deps, False)
    tool = table(doc, "tool")
    poetry = table(tool, "poetry")
    sections: list[tuple[object, bool]] = [(poetry.get("dependencies"), True), (poetry.get("dev-dependencies"), False)]
    pgroups = poetry.get("group")
    for gname, group in pgroups.items() if isinstance(pgroups, dict) else ():
        if isinstance(group, dict):
            sections.append((group.get("dependencies"), gname == "main"))
    for deps, must in sections:
        for name, value in deps.items() if isinstance(deps, dict) else ():
            r = _poetry_dep(str(name), value, source, must)
            if r is not None:
                out.append(r)
    pdm = table(tool, "pdm")
    dev = pdm.get("dev-dependencies")
    for deps in dev.values() if isinstance(dev, dict) else ():
        pep508(deps, False)
    return out


def parse_requirement_files(files: list[tuple[str, str]]) -> list[Wanted]:
    """Every requirement of ``files`` ((path, text), in order); ``-r``/``-c`` follow the others."""
    siblings = dict(files)
    return [w for path, text in files for w in parse_requirement_file(path, text, siblings)]


def parse_requirement_file(path: str, text: str, siblings: dict[str, str]) -> list[Wanted]:
    """What one requirement or lock file asks for; ``-r``/``-c`` follow ``siblings`` (path -> text)."""
    base = posixpath.basename(path)
    if LOCK_FILE.match(base):
        return parse_lock(text, path)
    return parse_requirements_txt(text, path, constraint=base.startswith("constraints"), include=siblings)
