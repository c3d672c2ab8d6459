"""Which copy of a distribution each identity imports: SL101, SL102, SL105, SL114.

The import path of every environment is given per identity by the inventory (``sys_path``). A
distribution's copies are ordered by the position of their site dir on that path; the first wins,
as ``importlib.metadata`` and the import system both walk ``sys.path`` in order. The helpers here
(ordering, owner and layer labels, marker environments, strategy-specific fixes) are shared by the
other SL1xx modules.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..findings import Finding, finding
from ..inventory.model import Distribution, Environment, PathEntry
from ..strategy import remediation_for, strategy_for
from .base import Context, check, layer_label

OS_MANAGERS = frozenset({"dpkg", "rpm", "apk"})
MAX_LISTED = 8  # paths named in a message; evidence carries them all


# ---- shared helpers --------------------------------------------------------------------------


def norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


def owner_label(d: Distribution) -> str:
    """DESIGN §6 owner form: ``dpkg:python3-jinja2`` or ``pip:<metadata path>``."""
    if d.owner_package:
        return d.owner_package if ":" in d.owner_package else f"{d.installer}:{d.owner_package}"
    return f"{d.installer}:{d.metadata_path}"


def installer_label(d: Distribution) -> str:
    if d.owner_package:
        return d.owner_package
    return d.installer if d.installer != "unknown" else "an unknown installer"


def is_os_owned(d: Distribution) -> bool:
    return bool(d.owner_package) or d.installer in OS_MANAGERS


def remedy(ctx: Context, texts: Mapping[str, str]) -> str:
    return remediation_for(strategy_for(ctx), texts)


def listed(items: list[str], limit: int = MAX_LISTED) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def env_label(env: Environment) -> str:
    return f"{env.executable} (Python {env.version})"


def path_positions(entries: Iterable[PathEntry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, e in enumerate(entries):
        p = norm(e.path)
        if e.exists and p not in out:
            out[p] = i
    return out


def ordered_copies(env: Environment, entries: list[PathEntry]) -> dict[str, list[Distribution]]:
    """name -> the copies on this import path, first (winning) first.

    Copies in one site dir keep a stable order by metadata path (which one importlib.metadata
    picks there is undecidable: SL105 reports it)."""
    pos = path_positions(entries)
    by_name: dict[str, list[tuple[int, str, Distribution]]] = {}
    for d in env.distributions:
        i = pos.get(norm(d.site_dir))
        if i is None:
            continue
        by_name.setdefault(d.name, []).append((i, d.metadata_path, d))
    return {n: [t[2] for t in sorted(v, key=lambda t: (t[0], t[1]))] for n, v in by_name.items()}


def winners(env: Environment, entries: list[PathEntry]) -> dict[str, Distribution]:
    return {n: copies[0] for n, copies in ordered_copies(env, entries).items()}


def flag_variants(ctx: Context, env: Environment) -> dict[str, list[PathEntry]]:
    """identity -> path, plus ``<identity> with -s/-I`` when the entrypoint runs this env so.

    ``-s``/``-I`` turn the user site off; on Fedora/RHEL that also drops /usr/local's site dirs
    (patch 00251); ``-I``/``-E`` ignore PYTHONPATH."""
    out = dict(env.sys_path)
    ep = ctx.inventory.entrypoint
    if ep is None or not ep.flags or not _runs_env(ep.interpreter, env):
        return out
    flags = set(ep.flags)
    no_user = bool(flags & {"-s", "-I"})
    no_pp = bool(flags & {"-E", "-I"})
    if not (no_user or no_pp):
        return out
    tag = " ".join(sorted(f for f in flags if f in {"-s", "-I", "-E"}))
    for ident, entries in env.sys_path.items():
        kept: list[PathEntry] = []
        for e in entries:
            if no_user and e.origin == "user-site":
                continue
            if no_user and env.interpreter.flavor == "fedora" and norm(e.path).startswith("/usr/local/"):
                continue
            if no_pp and e.origin == "pythonpath":
                continue
            if e.added_by and not any(k.path == posixpath.dirname(e.added_by) for k in kept):
                continue  # added by a .pth in a site dir that is gone
            kept.append(e)
        out[f"{ident} with {tag}"] = kept
    return out


def _runs_env(interpreter: str | None, env: Environment) -> bool:
    return interpreter is not None and interpreter in (
        env.executable,
        env.interpreter.path,
        env.interpreter.real_path,
    )


def marker_environment(env: Environment, architecture: str = "amd64") -> dict[str, str]:
    """PEP 508 marker values for this interpreter in the image (not the machine running us)."""
    ver = env.version
    full = ver + ".0"
    if env.venv and env.venv.version and env.venv.version.startswith(ver + "."):
        full = env.venv.version
    machine = {
        "amd64": "x86_64",
        "arm64": "aarch64",
        "386": "i686",
        "arm": "armv7l",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(architecture, architecture)
    impl = "pypy" if env.interpreter.flavor == "pypy" else "cpython"
    return {
        "python_version": ver,
        "python_full_version": full,
        "implementation_version": full,
        "implementation_name": impl,
        "platform_python_implementation": "PyPy" if impl == "pypy" else "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }


@dataclass
class Seen:
    """A winner as one identity sees it."""

    identity: str
    dist: Distribution | None


def _copy_text(ctx: Context, d: Distribution) -> str:
    return f"{d.version or '?'} in {d.site_dir} ({installer_label(d)}, {layer_label(ctx, d.layer)})"


def _iter_envs(ctx: Context) -> Iterator[Environment]:
    yield from ctx.inventory.environments


# ---- SL101 shadowed-distribution ---------------------------------------------------------------

SL101_FIX = {
    "venv": "Install only one copy of {name} in the venv's import path: remove the other copy "
    "(or the OS package) and pin the version you need in the requirements you install "
    "into the venv.",
    "system": "Let one installer own {name}: either drop it from the pip install and use the OS "
    "package, or remove the OS package in the same RUN before `pip install` (or move the "
    "application into a venv so the OS copy is out of its path).",
    "user": "`pip install --user` left {name} in a user site in front of the system copy only for "
    "that user: install it system-wide or in a venv instead, and remove the other copy.",
    "multi-stage": "The build stage installed {name} over another copy in the copied tree: install "
    "into a fresh venv in the build stage and copy only that venv.",
    "default": "Keep one copy of {name} on the import path and remove the others.",
}


@check("SL101")
def shadowed_distribution(ctx: Context) -> Iterator[Finding]:
    for env in _iter_envs(ctx):
        # A venv that sees the system site: venv-vs-system pairs are SL114's, system-vs-system
        # pairs are reported on the system environment itself.
        if env.kind == "venv" and env.venv is not None and env.venv.include_system_site_packages:
            continue
        groups: dict[tuple[str, ...], list[str]] = {}
        sample: dict[tuple[str, ...], list[Distribution]] = {}
        for ident, entries in env.sys_path.items():
            for name, copies in ordered_copies(env, entries).items():
                dirs = []
                for d in copies:
                    if norm(d.site_dir) not in dirs:
                        dirs.append(norm(d.site_dir))
                if len(dirs) < 2:
                    continue
                one_per_dir: list[Distribution] = []
                for d in copies:
                    if all(norm(x.site_dir) != norm(d.site_dir) for x in one_per_dir):
                        one_per_dir.append(d)
                key = (name, *[x.metadata_path for x in one_per_dir])
                groups.setdefault(key, []).append(ident)
                sample[key] = one_per_dir
        for key, idents in sorted(groups.items()):
            copies = sample[key]
            name = key[0]
            win, losers = copies[0], copies[1:]
            versions = [d.version for d in copies]
            differ = len({v for v in versions}) > 1
            lost = "; ".join(_copy_text(ctx, d) for d in losers)
            msg = (
                f"{win.raw_name or name} is installed {len(copies)} times on the import path of "
                f"{env_label(env)} for {', '.join(idents)}: {_copy_text(ctx, win)} wins (first on "
                f"the path) over {lost}."
            )
            if differ:
                msg += (
                    f" Code that imports {name} gets {win.version}, while tools that inspect "
                    f"the other copy (or its OS package) believe {losers[0].version} is installed."
                )
            else:
                msg += " The versions are equal, so behaviour is the same, but two installers now manage it."
            yield finding(
                "SL101",
                "high" if differ else "low",
                f"{name} {win.version} shadows {name} {', '.join(str(d.version) for d in losers)}",
                msg,
                {
                    "distribution": name,
                    "versions": versions,
                    "paths": [d.metadata_path for d in copies],
                    "layers": [d.layer for d in copies],
                    "owners": [owner_label(d) for d in copies],
                    "identity": idents,
                    "interpreter": env.executable,
                    "winner": win.metadata_path,
                },
                remedy(ctx, {k: v.format(name=name) for k, v in SL101_FIX.items()}),
                key=(env.executable, name, tuple(sorted(d.site_dir for d in copies))),
            )


# ---- SL102 context-dependent-import ------------------------------------------------------------

SL102_FIX = {
    "user": "Install {name} where every runtime user sees it: system-wide or into a venv, not with "
    "`pip install --user` as the build user (a user site is only on that user's path).",
    "venv": "Install {name} into the venv itself, and make the venv readable by every runtime "
    "user (group 0, g=u for arbitrary UIDs).",
    "default": "Install {name} where every identity that runs the image imports the same copy "
    "(not a user site), and run the entrypoint without flags that drop site dirs, or "
    "install into a directory that stays on the path under them.",
}


@check("SL102")
def context_dependent_import(ctx: Context) -> Iterator[Finding]:
    for env in _iter_envs(ctx):
        variants = flag_variants(ctx, env)
        if len(variants) < 2:
            continue
        seen: dict[str, dict[str, Distribution | None]] = {}
        per_variant = {v: winners(env, entries) for v, entries in variants.items()}
        names = sorted({n for w in per_variant.values() for n in w})
        for name in names:
            seen[name] = {v: per_variant[v].get(name) for v in variants}
        for name, by_v in seen.items():
            keys = {(d.metadata_path if d else None) for d in by_v.values()}
            if len(keys) < 2:
                continue
            outcome: dict[str | None, list[str]] = {}
            for v, d in by_v.items():
                outcome.setdefault(d.metadata_path if d else None, []).append(v)
            parts = []
            dists = {d.metadata_path: d for d in by_v.values() if d}
            for mp, vs in sorted(outcome.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
                if mp is None:
                    parts.append(f"{', '.join(vs)}: not importable")
                else:
                    parts.append(f"{', '.join(vs)}: {_copy_text(ctx, dists[mp])}")
            some = next(d for d in by_v.values() if d)
            yield finding(
                "SL102",
                "high",
                f"{name} depends on who runs {env.executable}",
                f"Which {name} {env_label(env)} imports depends on the identity or flags: " + "; ".join(parts) + ".",
                {
                    "distribution": name,
                    "versions": [d.version if d else None for d in by_v.values()],
                    "paths": sorted(dists),
                    "layers": sorted({d.layer for d in dists.values() if d.layer is not None}),
                    "owners": sorted({owner_label(d) for d in dists.values()}),
                    "identity": {v: (d.metadata_path if d else None) for v, d in by_v.items()},
                    "interpreter": env.executable,
                },
                remedy(ctx, {k: t.format(name=some.raw_name or name) for k, t in SL102_FIX.items()}),
                key=(env.executable, name),
            )


# ---- SL105 duplicate-metadata -------------------------------------------------------------------

SL105_FIX = {
    "venv": "Remove the stale metadata dir of {name} from {site} (reinstall it with `pip install "
    "--force-reinstall` in the venv) so one version is recorded.",
    "system": "Do not install {name} with pip into a directory an OS package manages (`pip install "
    "--target` into dist-packages): remove the pip copy or the OS package so one "
    "metadata dir remains.",
    "default": "Keep one metadata dir for {name} in {site}: remove the stale one.",
}


@check("SL105")
def duplicate_metadata(ctx: Context) -> Iterator[Finding]:
    groups: dict[tuple[str, str], dict[str, Distribution]] = {}
    for env in _iter_envs(ctx):
        for d in env.distributions:
            groups.setdefault((norm(d.site_dir), d.name), {})[d.metadata_path] = d
    for (site, name), by_path in sorted(groups.items()):
        if len(by_path) < 2:
            continue
        dists = [by_path[k] for k in sorted(by_path)]
        desc = "; ".join(
            f"{posixpath.basename(d.metadata_path)} ({d.version}, {installer_label(d)}, {layer_label(ctx, d.layer)})"
            for d in dists
        )
        versions = [d.version for d in dists]
        yield finding(
            "SL105",
            "high",
            f"{len(dists)} metadata dirs for {name} in {site}",
            f"{site} holds {len(dists)} metadata dirs for {name}: {desc}. importlib.metadata and "
            f"pip take whichever the directory listing returns first, so `pip list` and "
            f"version('{name}') may report any of {', '.join(sorted(set(str(v) for v in versions)))} "
            f"regardless of the code that is imported.",
            {
                "distribution": name,
                "versions": versions,
                "paths": [d.metadata_path for d in dists],
                "layers": [d.layer for d in dists],
                "owners": [owner_label(d) for d in dists],
            },
            remedy(ctx, {k: t.format(name=name, site=site) for k, t in SL105_FIX.items()}),
            key=(site, name),
        )


# ---- SL114 venv-system-leak --------------------------------------------------------------------

SL114_FIX = {
    "default": "Recreate the venv without --system-site-packages (set include-system-site-packages "
    "= false) and install {name} into it, or drop {name} from the venv and rely on the "
    "system copy: one copy only.",
}


def _in_prefix(path: str, prefix: str) -> bool:
    p, pre = norm(path), norm(prefix).rstrip("/")
    return p == pre or p.startswith(pre + "/")


_VENV_SEEDS = frozenset({"pip", "setuptools", "wheel"})


@check("SL114")
def venv_system_leak(ctx: Context) -> Iterator[Finding]:
    for env in _iter_envs(ctx):
        if env.kind != "venv" or env.venv is None or not env.venv.include_system_site_packages:
            continue
        groups: dict[tuple[str, ...], list[str]] = {}
        sample: dict[tuple[str, ...], list[Distribution]] = {}
        for ident, entries in env.sys_path.items():
            for name, copies in ordered_copies(env, entries).items():
                if name in _VENV_SEEDS and len({d.version for d in copies}) == 1:
                    continue  # ensurepip seeds the venv with the system's own pip/setuptools
                inside = [d for d in copies if _in_prefix(d.site_dir, env.venv.prefix)]
                outside = [d for d in copies if not _in_prefix(d.site_dir, env.venv.prefix)]
                if not inside or not outside:
                    continue
                key = (name, *[d.metadata_path for d in copies])
                groups.setdefault(key, []).append(ident)
                sample[key] = copies
        for key, idents in sorted(groups.items()):
            copies = sample[key]
            name, win = key[0], copies[0]
            where = "the venv's own" if _in_prefix(win.site_dir, env.venv.prefix) else "the system"
            others = "; ".join(_copy_text(ctx, d) for d in copies[1:])
            yield finding(
                "SL114",
                "medium",
                f"venv {env.venv.prefix} and the system both provide {name}",
                f"The venv {env.venv.prefix} has include-system-site-packages = true, and {name} is "
                f"both in the venv and in the system site: {where} copy {_copy_text(ctx, win)} wins "
                f"for {', '.join(idents)} over {others}.",
                {
                    "distribution": name,
                    "versions": [d.version for d in copies],
                    "paths": [d.metadata_path for d in copies],
                    "layers": [d.layer for d in copies],
                    "owners": [owner_label(d) for d in copies],
                    "identity": idents,
                    "interpreter": env.executable,
                },
                remedy(ctx, {k: t.format(name=name) for k, t in SL114_FIX.items()}),
                key=(env.venv.prefix, name),
            )
