"""Virtual environments: ``pyvenv.cfg`` read the two ways CPython reads it.

getpath (``Modules/getpath.py``) looks for ``pyvenv.cfg`` one level above the launcher's dir
first, then beside it, and only its first ``home`` key matters: it replaces the executable's dir
for the landmark search; a file without ``home`` is not a venv for getpath. ``site.venv`` looks
beside the launcher first, then one level up, makes ``dirname(bindir)`` the prefix and enables
the system site dirs only when ``include-system-site-packages`` (last one wins) lowercased is
exactly ``"true"`` — a missing key counts as true.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..fs import Filesystem
from . import _pyfs
from .interpreters import _candidates
from .model import Interpreter, Venv, VenvConfig


@dataclass
class PyvenvCfg:
    home: str | None  # getpath: the first `home` key
    system_site: str  # site.py: the last include-system-site-packages value, lowercased
    version: str | None
    keys: dict[str, str]


def parse_pyvenv_cfg(data: bytes) -> PyvenvCfg:
    text = data.decode("utf-8", "replace")
    home: str | None = None
    system_site = "true"
    keys: dict[str, str] = {}
    for line in text.splitlines():
        key, had_eq, value = line.partition("=")
        if not had_eq:
            continue
        k = key.strip().lower()
        v = value.strip()
        if k == "home" and home is None:
            home = v
        if k == "include-system-site-packages":
            system_site = v.lower()
        keys[k] = v
    version = keys.get("version") or keys.get("version_info")
    return PyvenvCfg(home, system_site, version, keys)


def getpath_cfg(fs: Filesystem, exe: str, who: _pyfs.Cred = _pyfs.ROOT) -> str | None:
    """The pyvenv.cfg getpath reads for launcher ``exe`` (parent of bin first)."""
    bindir = posixpath.dirname(exe)
    for cand in (
        posixpath.join(posixpath.dirname(bindir), "pyvenv.cfg"),
        posixpath.join(bindir, "pyvenv.cfg"),
    ):
        if _pyfs.can_read(fs, cand, who):
            return cand
    return None


def unreadable_site_cfg(fs: Filesystem, exe: str, who: _pyfs.Cred = _pyfs.ROOT) -> str | None:
    """The pyvenv.cfg ``site.venv`` would pick but ``who`` cannot read (None: no such file).

    site.venv() tests ``isfile`` (search permission on the dirs is enough) and then opens the
    file unguarded: with Python 3.11 the PermissionError aborts start-up (seen in the oracle;
    the rule book's "silently not a venv" holds only when the file cannot even be stat'ed)."""
    bindir = posixpath.dirname(exe)
    for cand in (posixpath.join(bindir, "pyvenv.cfg"), posixpath.join(posixpath.dirname(bindir), "pyvenv.cfg")):
        if _pyfs.isfile(fs, cand, who):
            return None if _pyfs.can_read(fs, cand, who) else cand
    return None


def site_cfg(fs: Filesystem, exe: str, who: _pyfs.Cred = _pyfs.ROOT) -> str | None:
    """The pyvenv.cfg ``site.venv`` uses (beside the launcher first), if ``who`` can read it
    (see :func:`unreadable_site_cfg` for the other case)."""
    bindir = posixpath.dirname(exe)
    for cand in (
        posixpath.join(bindir, "pyvenv.cfg"),
        posixpath.join(posixpath.dirname(bindir), "pyvenv.cfg"),
    ):
        if _pyfs.isfile(fs, cand, who):
            return cand if _pyfs.can_read(fs, cand, who) else None
    return None


def read_cfg(fs: Filesystem, path: str) -> PyvenvCfg | None:
    data = fs.read_bytes(path)
    return parse_pyvenv_cfg(data) if data is not None else None


def _launchers(fs: Filesystem) -> dict[str, list[str]]:
    """venv prefix -> its python launchers (as found in bin/)."""
    out: dict[str, list[str]] = {}
    for c in _candidates_any(fs):
        bindir = posixpath.dirname(c)
        if site_cfg(fs, c) is None and getpath_cfg(fs, c) is None:
            continue
        out.setdefault(posixpath.dirname(bindir), []).append(c)
    return out


def _candidates_any(fs: Filesystem) -> list[str]:
    return [c.path for c in _candidates(fs)]


def _rank(path: str) -> tuple[int, str]:
    name = posixpath.basename(path)
    return ({"python": 0, "python3": 1}.get(name, 2), path)


def find_venvs(fs: Filesystem, interpreters: list[Interpreter]) -> list[tuple[str, Venv]]:
    """Every venv with a launcher: ``(launcher path, Venv)``, sorted by prefix."""
    by_real = {i.real_path: i for i in interpreters}
    out = []
    for prefix, launchers in sorted(_launchers(fs).items()):
        launcher = sorted(launchers, key=_rank)[0]
        cfg_path = site_cfg(fs, launcher) or getpath_cfg(fs, launcher) or ""
        cfg = read_cfg(fs, cfg_path)
        problems: list[str] = []
        if cfg is None:
            problems.append(f"{cfg_path}: not captured or unreadable")
            cfg = PyvenvCfg(None, "true", None, {})
        real = fs.resolve(launcher)
        base = by_real.get(real or "")
        if cfg.home is None:
            problems.append("pyvenv.cfg has no `home` key: getpath ignores it")
        elif fs.lookup(cfg.home) is None:
            problems.append(f"home {cfg.home} does not exist in the image")
        if base is None:
            problems.append("the launcher does not lead to a known interpreter")
        venv = Venv(
            prefix=prefix,
            cfg_path=cfg_path,
            home=cfg.home,
            include_system_site_packages=cfg.system_site == "true",
            version=cfg.version,
            base_executable=base.real_path if base else real,
            problems=problems,
        )
        out.append((launcher, venv))
    return out


def venv_configs(fs: Filesystem) -> dict[str, VenvConfig]:
    """Every ``pyvenv.cfg`` in the image by venv prefix (``bin/pyvenv.cfg`` belongs to its parent)."""
    out: dict[str, VenvConfig] = {}
    for node in fs.nodes():
        p = node.entry.path
        # every path of the image passes here: the str test first, nothing else per node
        if not p.endswith("/pyvenv.cfg") or node.entry.kind not in ("file", "hardlink"):
            continue
        d = posixpath.dirname(p)
        prefix = posixpath.dirname(d) if posixpath.basename(d) == "bin" else d
        data = fs.read_bytes(p)
        if data is None or prefix in out:
            continue
        cfg = parse_pyvenv_cfg(data)
        out[prefix] = VenvConfig(prefix, p, cfg.home, cfg.version, cfg.keys)
    return out
