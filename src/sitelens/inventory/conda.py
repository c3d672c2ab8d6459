"""conda's package database: the ``conda-meta/`` dir of every conda prefix (conda, mamba,
micromamba, pixi and rattler all write it the same way).

A prefix is any directory holding ``conda-meta/`` (``/opt/conda``, ``/opt/conda/envs/NAME``, a
pixi project's ``.pixi/envs/default``), so there are no fixed roots: every ``conda-meta`` dir
of the image is one database. Each ``NAME-VERSION-BUILD.json`` in it is a *PrefixRecord*: the
package's repodata (``name``, ``version``, ``build``, ``channel``, ``subdir``), ``files`` (paths
relative to the prefix) and ``paths_data.paths`` with, per path, ``path_type`` (``hardlink``,
``softlink``, ``directory``, entry points, compiled ``.pyc``), ``sha256`` and ``size_in_bytes``
of the package's file, and ``sha256_in_prefix`` when the installer rewrote the file (a
``prefix_placeholder`` replaced by the real prefix). ``requested_spec`` (conda) or
``requested_specs`` (rattler) is what the user asked for. ``conda-meta/history`` logs every
transaction; its ``# update specs:`` lines name what was requested by older condas that leave
``requested_spec`` empty.

The digest that describes the installed bytes is ``sha256_in_prefix`` when present, else the
package's ``sha256`` unless the file had a placeholder (then the installed bytes differ from
the package's by design and nothing comparable is recorded). Symlinks record no digest of their
own.
"""

from __future__ import annotations

import json
import posixpath
import re

from ..fs import Filesystem
from .model import OsPackage, OsPackageDb, OwnedFile

META = "conda-meta"
_SPECS = re.compile(r"^#\s*(?:update|install|create)\s+specs:\s*(\[.*\])\s*$")
_FILE_TYPES = ("hardlink", "softlink", "pyc_file", "unix_python_entry_point", "windows_python_entry_point_script",
               "windows_python_entry_point_exe", "linked_package_record")


def _digest(entry: dict[str, object]) -> bytes | None:
    value = entry.get("sha256_in_prefix")
    if value is None and entry.get("prefix_placeholder") is None:
        value = entry.get("sha256")
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _owned(prefix: str, entry: dict[str, object]) -> OwnedFile | None:
    rel = entry.get("_path")
    if not isinstance(rel, str) or not rel:
        return None
    path = posixpath.normpath(posixpath.join(prefix, rel))
    kind = entry.get("path_type", "hardlink")
    if kind == "directory":
        return OwnedFile(path=path, is_dir=True)
    if kind == "softlink" or kind not in _FILE_TYPES:
        return OwnedFile(path=path)
    digest = _digest(entry)
    size = entry.get("size_in_bytes") if entry.get("prefix_placeholder") is None else None
    return OwnedFile(path=path, algo="sha256" if digest else None, digest=digest,
                     size=size if isinstance(size, int) else None)


def _requested(doc: dict[str, object]) -> str | None:
    spec = doc.get("requested_spec")
    if isinstance(spec, str) and spec:
        return spec
    specs = doc.get("requested_specs")
    if isinstance(specs, list) and specs and isinstance(specs[0], str):
        return ", ".join(s for s in specs if isinstance(s, str))
    return None


def parse_prefix_record(data: bytes, prefix: str, record_path: str, warnings: list[str]) -> OsPackage | None:
    """One ``conda-meta/*.json`` as the package it installed (None: not a PrefixRecord)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        warnings.append(f"{record_path}: not valid JSON ({type(exc).__name__})")
        return None
    if not isinstance(doc, dict):
        warnings.append(f"{record_path}: not a PrefixRecord (a JSON {type(doc).__name__})")
        return None
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        warnings.append(f"{record_path}: no name or version; skipped")
        return None
    build, channel, subdir = doc.get("build"), doc.get("channel"), doc.get("subdir")
    pkg = OsPackage(manager="conda", name=name, version=version, arch=subdir if isinstance(subdir, str) else None,
                    ref=record_path, build=build if isinstance(build, str) else None,
                    channel=channel if isinstance(channel, str) else None, requested=_requested(doc))
    paths_data = doc.get("paths_data")
    entries = paths_data.get("paths") if isinstance(paths_data, dict) else None
    if isinstance(entries, list) and entries:
        for entry in entries:
            owned = _owned(prefix, entry) if isinstance(entry, dict) else None
            if owned is not None:
                pkg.files.append(owned)
    else:
        # a record without paths_data (conda < 4.3): the file list, no digests
        files = doc.get("files")
        for rel in files if isinstance(files, list) else []:
            if isinstance(rel, str) and rel:
                pkg.files.append(OwnedFile(path=posixpath.normpath(posixpath.join(prefix, rel))))
    return pkg


def history_specs(text: str) -> set[str]:
    """Package names the history's ``# update/install/create specs:`` lines requested."""
    names: set[str] = set()
    for line in text.splitlines():
        m = _SPECS.match(line.strip())
        if not m:
            continue
        try:
            specs = json.loads(m.group(1).replace("'", '"'))
        except (ValueError, RecursionError):
            continue
        for spec in specs if isinstance(specs, list) else []:
            if isinstance(spec, str):
                # "conda-forge::numpy[version='>=1.26']", "python=3.11", "jinja2 ==3.1.2"
                bare = spec.split("::")[-1]
                names.add(re.split(r"[\s=<>!~\[]", bare, maxsplit=1)[0].lower())
    return names


def conda_prefixes(fs: Filesystem) -> list[str]:
    """Every conda prefix in the image: each directory holding a ``conda-meta`` dir."""
    suffix = "/" + META
    out = []
    for path in fs.paths():
        if path.endswith(suffix):
            node = fs.get(path)
            if node is not None and node.kind == "dir":
                out.append(path[: -len(suffix)] or "/")
    return sorted(out)


def read_conda_dbs(fs: Filesystem) -> list[OsPackageDb]:
    """The reader ``dbreaders.READERS`` names: one database per conda prefix."""
    dbs = []
    for prefix in conda_prefixes(fs):
        meta = posixpath.join(prefix, META)
        db = OsPackageDb(manager="conda", path=meta)
        history = fs.read_text(posixpath.join(meta, "history"))
        requested = history_specs(history) if history else set()
        for name in fs.listdir(meta, follow=False):
            if not name.endswith(".json"):
                continue
            record_path = posixpath.join(meta, name)
            data = fs.read_bytes(record_path)
            if data is None:
                if fs.lookup(record_path) is not None:
                    db.warnings.append(f"{record_path}: content not captured")
                continue
            pkg = parse_prefix_record(data, prefix, record_path, db.warnings)
            if pkg is None:
                continue
            if pkg.requested is None and pkg.name.lower() in requested:
                pkg.requested = pkg.name
            db.packages.append(pkg)
        dbs.append(db)
    return dbs
