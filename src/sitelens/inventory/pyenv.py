"""pyenv's shims, followed the way ``pyenv exec`` follows them, from files alone.

A shim (written by ``pyenv rehash``) is a bash script that exports ``PYENV_ROOT`` and execs
``$PYENV_ROOT/libexec/pyenv exec <its own name>``. pyenv then chooses the version list
(``pyenv version-name``): ``PYENV_VERSION``, else the first ``.python-version`` found from
``PYENV_DIR`` (default: the working directory) up to ``/``, else ``$PYENV_ROOT/version``, else
``system``. A file holds one version per line (``#`` comments, blank lines skipped); each name is
taken as is, without a ``python-`` prefix, or as a prefix resolved to the newest installed match
(``pyenv latest``). ``pyenv which`` runs the program from the first listed version that has it;
``system`` means the PATH without the shims directory.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from ..fs import Filesystem
from ..image import ImageConfig

_ROOT = re.compile(r'^export PYENV_ROOT="([^"]+)"\s*$', re.M)
_EXEC = re.compile(r'^exec "([^"]+)/libexec/pyenv" exec "\$program"', re.M)
MAX_SHIM = 4096
MAX_VERSION_FILE = 64 << 10


@dataclass
class Shim:
    root: str  # PYENV_ROOT as the shim exports it
    shims_dir: str


def pyenv_shim(fs: Filesystem, path: str) -> Shim | None:
    """The shim's PYENV_ROOT when ``path`` is a pyenv shim script, else None."""
    node = fs.lookup(path)
    if node is None or not (node.entry.head or b"").startswith(b"#!"):
        return None
    data = fs.read_bytes(path)
    if data is None or len(data) > MAX_SHIM:
        return None
    text = data.decode("utf-8", "replace")
    root, ex = _ROOT.search(text), _EXEC.search(text)
    if root is None or ex is None:
        return None
    return Shim(root.group(1), posixpath.dirname(path))


def _version_file(fs: Filesystem, config: ImageConfig, root: str) -> str | None:
    start = config.env.get("PYENV_DIR") or config.workdir or "/"
    d = posixpath.normpath(start)
    while True:
        cand = posixpath.join(d, ".python-version")
        node = fs.lookup(cand)
        if node is not None and node.kind in ("file", "hardlink"):
            return cand
        if d == "/":
            break
        d = posixpath.dirname(d)
    glob = posixpath.join(root, "version")
    return glob if fs.lookup(glob) is not None else None


def read_version_file(text: str) -> list[str]:
    """``pyenv version-file-read``: the first word of each non-comment line; ``..`` and names with
    a ``/`` are ignored (pyenv accepts them only inside ``versions/``, which sitelens does not chase)."""
    out = []
    for line in text.replace("\r", "\n").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == ".." or "/" in words[0]:
            continue
        out.append(words[0])
    return out


def _installed(fs: Filesystem, root: str) -> list[str]:
    return fs.listdir(posixpath.join(root, "versions"))


def _resolve_name(fs: Filesystem, root: str, name: str) -> str | None:
    installed = _installed(fs, root)
    if name == "system":
        return name
    for cand in (name, name.removeprefix("python-")):
        if cand in installed:
            return cand
    for prefix in (name, name.removeprefix("python-")):
        # pyenv latest: the newest final release that starts with "<prefix>."
        best: tuple[Version, str] | None = None
        for v in installed:
            if not v.startswith(prefix + "."):
                continue
            try:
                pv = Version(v)
            except InvalidVersion:
                continue
            if pv.is_prerelease or pv.is_devrelease:
                continue
            if best is None or pv > best[0]:
                best = (pv, v)
        if best is not None:
            return best[1]
    return None


def pyenv_select(fs: Filesystem, config: ImageConfig, shim: Shim, program: str) -> tuple[str | None, str]:
    """(the executable ``pyenv exec program`` runs, how it was chosen) — None when pyenv fails."""
    if config.env.get("PYENV_VERSION"):
        names, origin = config.env["PYENV_VERSION"].split(":"), "PYENV_VERSION"
    else:
        vf = _version_file(fs, config, shim.root)
        data = fs.read_bytes(vf) if vf else None
        if vf and data is None:
            return None, f"pyenv: the version file {vf} was not captured; the version is unknown"
        names = read_version_file(data[:MAX_VERSION_FILE].decode("utf-8", "replace")) if data else []
        origin = vf if vf and names else "no PYENV_VERSION, .python-version or global version file"
    names = [n for n in names if n] or ["system"]
    missing = []
    for name in names:
        version = _resolve_name(fs, shim.root, name)
        if version is None:
            missing.append(name)
            continue
        if version == "system":
            for d in config.path_env:
                if posixpath.normpath(d or "/") == posixpath.normpath(shim.shims_dir):
                    continue
                cand = posixpath.join(d, program)
                node = fs.lookup(cand)
                if node is not None and node.kind in ("file", "hardlink") and node.mode & 0o111:
                    return cand, f"pyenv system ({origin})"
            continue
        cand = posixpath.join(shim.root, "versions", version, "bin", program)
        node = fs.lookup(cand)
        if node is not None and node.kind in ("file", "hardlink") and node.mode & 0o111:
            return cand, f"pyenv {version} ({origin})"
    if missing:
        return None, f"pyenv: version {_shown(missing)} is not installed (set by {origin})"
    return None, f"pyenv: {program} is not in versions {_shown(names)} (set by {origin})"


def _shown(names: list[str], limit: int = 3) -> str:
    """Names for a message: once each, printable, the first few of a long (hostile) list."""
    unique = [n if n.isprintable() else repr(n) for n in dict.fromkeys(names)]
    more = f" and {len(unique) - limit} more" if len(unique) > limit else ""
    return ", ".join(unique[:limit]) + more
