"""``build_inventory``: the one entry point the audit uses — filesystem + image → Inventory.

OS package databases (``ospkg``), runtime identities (``identities``), interpreters, venvs, the
import path of every environment for every identity, and the distributions on those paths.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from ..fs import Filesystem
from ..image import Image, ImageConfig
from .distributions import DirScanner
from .entrypoint import resolve_entrypoint
from .identities import resolve_identities
from .import_truth import fill_imports
from .interpreters import describe_interpreter, find_interpreters
from .model import Distribution, Environment, Identity, Interpreter, Inventory, OsPackageDb
from .ospkg import find_package_dbs
from .osrelease import read_os_release
from .requirement_files import find_requirement_files, parse_requirement_files
from .scripts import find_scripts
from .syspath import compute_sys_path
from .venv import find_venvs, venv_configs

if TYPE_CHECKING:
    from collections.abc import Sequence

_SITE_DIR = re.compile(r"/(site|dist)-packages$")


def _package_dbs(fs: Filesystem, warnings: list[str]) -> list[OsPackageDb]:
    try:
        return list(find_package_dbs(fs))
    except Exception as exc:  # noqa: BLE001 - a broken db reader must not lose the Python view
        warnings.append(f"OS package databases could not be read: {type(exc).__name__}: {exc}")
        return []


def _environments(
    fs: Filesystem, interpreters: list[Interpreter], os_release: dict[str, str], warnings: list[str]
) -> list[Environment]:
    envs = [
        Environment(
            executable=i.path,
            kind="conda" if i.flavor == "conda" else "system",
            interpreter=i,
            prefix=i.prefix,
        )
        for i in interpreters
    ]
    by_real = {i.real_path: i for i in interpreters}
    for launcher, venv in find_venvs(fs, interpreters):
        base = by_real.get(venv.base_executable or "")
        if base is None:
            # a --copies venv, or a launcher whose base is gone: describe the launcher itself
            real = fs.resolve(launcher)
            version = venv.version.rsplit(".", venv.version.count(".") - 1)[0] if venv.version else None
            if real is None or not version or version.count(".") != 1:
                warnings.append(f"{venv.prefix}: venv launcher {launcher} does not lead to a usable interpreter")
                continue
            base = describe_interpreter(fs, launcher, real, version, "", os_release)
        envs.append(Environment(executable=launcher, kind="venv", interpreter=base, prefix=venv.prefix, venv=venv))
    return envs


def build_inventory(fs: Filesystem, image: Image | None, identities: Sequence[Identity] | None = None) -> Inventory:
    config = image.config if image is not None else ImageConfig()
    inv = Inventory()
    inv.os_release = read_os_release(fs)
    inv.package_dbs = _package_dbs(fs, inv.warnings)
    for db in inv.package_dbs:
        inv.warnings.extend(db.warnings)
    inv.identities = list(identities) if identities is not None else list(resolve_identities(fs, config))
    inv.interpreters = find_interpreters(fs, inv.os_release, inv.warnings)
    inv.environments = _environments(fs, inv.interpreters, inv.os_release, inv.warnings)
    scanner = DirScanner(fs, inv.os_owners())
    for env in inv.environments:
        seen: set[str] = set()
        for ident in inv.identities:
            sp = compute_sys_path(fs, env.interpreter, env.executable, ident, config)
            env.sys_path[ident.name] = sp.entries
            env.pth_imports[ident.name] = sp.pth_imports
            env.pth_effects[ident.name] = sp.pth_effects
            for eff in sp.pth_effects:
                if eff.effect == "unknown":
                    w = f"{eff.pth}: the import line `{eff.line.strip()}` {eff.detail}; the import path may differ"
                    if w not in inv.warnings:
                        inv.warnings.append(w)
            if sp.startup_error:
                env.startup_errors[ident.name] = sp.startup_error
            for w in sp.warnings:
                if w not in inv.warnings:
                    inv.warnings.append(w)
            for e in sp.entries:
                if e.path in seen or not e.exists:
                    continue
                seen.add(e.path)
                env.distributions.extend(scanner.scan(e.path))
    inv.site_dirs = _site_dirs(fs)
    inv.unattached = _unattached(fs, inv, scanner)
    inv.warnings.extend(w for w in scanner.warnings if w not in inv.warnings)
    inv.entrypoint = resolve_entrypoint(fs, config)
    inv.venv_configs = venv_configs(fs)
    inv.requirement_files = find_requirement_files(fs, config, inv.entrypoint)
    inv.declared = parse_requirement_files(inv.requirement_files)
    inv.scripts = find_scripts(fs)
    fill_imports(fs, inv)
    return inv


def _site_dirs(fs: Filesystem) -> list[str]:
    # every path of the image passes here: a substring test before the regex and the kind
    entries = (n.entry for n in fs.nodes())
    return sorted(e.path for e in entries if "-packages" in e.path and e.kind == "dir" and _SITE_DIR.search(e.path))


def _unattached(fs: Filesystem, inv: Inventory, scanner: DirScanner) -> list[Distribution]:
    """Distributions in site dirs no environment's import path reaches: a Python that is gone,
    a tree copied from a build stage, a ``--target`` dir nothing puts on the path. They still
    own files (SL103/SL104) and can still collide in one dir (SL105)."""
    on_path = {fs.resolve(d.site_dir) or d.site_dir for env in inv.environments for d in env.distributions}
    on_path |= {fs.resolve(e.path) or e.path for env in inv.environments
                for entries in env.sys_path.values() for e in entries}
    out: list[Distribution] = []
    for site in inv.site_dirs:
        if site in on_path:
            continue
        out.extend(scanner.scan(site))
    return out


def environment_for(inv: Inventory, executable: str, fs: Filesystem) -> Environment | None:
    """The environment a launch path runs (a venv launcher, or an interpreter by real path)."""
    for env in inv.environments:
        if env.executable == executable:
            return env
    real = fs.resolve(executable)
    bindir = posixpath.dirname(executable)
    for env in inv.environments:
        if env.kind == "venv" and env.venv is not None and posixpath.dirname(bindir) == env.venv.prefix:
            return env
    for env in inv.environments:
        if env.kind != "venv" and env.interpreter.real_path == real:
            return env
    return None
