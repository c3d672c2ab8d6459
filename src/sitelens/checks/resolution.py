"""Which copy of a distribution each identity imports: SL101, SL102, SL105, SL114.

The import path of every environment is given per identity by the inventory (``sys_path``). A
distribution's copies are ordered by the position of their site dir on that path; the first wins,
as ``importlib.metadata`` and the import system both walk ``sys.path`` in order (the ordering
lives in :mod:`sitelens.checks.helpers`, shared with the other SL1xx modules).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from ..findings import Finding, finding
from ..inventory.model import Distribution, Environment, ModuleImport
from .base import Context, check
from .helpers import (
    dist_layers,
    env_label,
    import_text,
    installer_label,
    layer_label,
    loaded_copy,
    modules_of_dist,
    norm,
    ordered_copies,
    owner_label,
    primary_module,
    remedy,
    variant_imports,
    who_text,
)


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


def _install_text(ctx: Context, d: Distribution) -> str:
    installed, touched = dist_layers(ctx, d)
    text = f"{d.version or '?'} in {d.site_dir} ({installer_label(d)}, installed in {layer_label(ctx, installed)}"
    if touched is not None and touched != installed:
        text += f", last touched in {layer_label(ctx, touched)}"
    return text + ")"


def _loaded_text(ctx: Context, loaded: Distribution | None, mi: ModuleImport | None, name: str) -> str:
    if loaded is not None and mi is not None:
        text = (f"`import {mi.module}` loads {loaded.version} from {mi.file} ({installer_label(loaded)}, "
                f"bytes from {layer_label(ctx, mi.layer)})")
        if mi.mixed:
            text += f"; the package dir is a mixed tree: files of {', '.join(mi.owners)}"
        return text
    if mi is not None:
        return f"`import {mi.module}` gives {import_text(ctx, mi)}"
    return f"no importable module of {name} was found, so no copy's code loads"


@check("SL101")
def shadowed_distribution(ctx: Context) -> Iterator[Finding]:
    for env in _iter_envs(ctx):
        # A venv that sees the system site: venv-vs-system pairs are SL114's, system-vs-system
        # pairs are reported on the system environment itself.
        if env.kind == "venv" and env.venv is not None and env.venv.include_system_site_packages:
            continue
        # (name, copies) -> identity -> (the copy whose code loads, the import)
        groups: dict[tuple[str, ...], dict[str, tuple[Distribution | None, ModuleImport | None]]] = {}
        sample: dict[tuple[str, ...], list[Distribution]] = {}
        for ident, entries in env.sys_path.items():
            mods = env.imports.get(ident, {})
            if mods is None:
                continue  # this identity cannot start the interpreter (SL205)
            for name, copies in ordered_copies(env, entries).items():
                one_per_dir: list[Distribution] = []
                for d in copies:
                    if all(norm(x.site_dir) != norm(d.site_dir) for x in one_per_dir):
                        one_per_dir.append(d)
                if len(one_per_dir) < 2:
                    continue
                module = primary_module(env, name)
                mi = mods.get(module) if module else None
                key = (name, *[x.metadata_path for x in one_per_dir])
                groups.setdefault(key, {})[ident] = (loaded_copy(copies, mi), mi)
                sample[key] = one_per_dir
        for key, per_ident in sorted(groups.items()):
            copies = sample[key]
            name, first = key[0], copies[0]
            versions = [d.version for d in copies]
            differ = len(set(versions)) > 1
            # identities that load the same copy tell one story
            stories: dict[tuple[str, str], list[str]] = {}
            for ident, (loaded, mi) in per_ident.items():
                k = (loaded.metadata_path if loaded else "", (mi.file or mi.error or "") if mi else "")
                stories.setdefault(k, []).append(ident)
            idents = list(per_ident)
            msg = (f"{first.raw_name or name} is installed {len(copies)} times on the import path of "
                   f"{env_label(env)} for {who_text(ctx, idents)}: "
                   + "; ".join(_install_text(ctx, d) for d in copies) + ". ")
            loaded_versions: list[str] = []
            for ids in stories.values():
                loaded, mi = per_ident[ids[0]]
                msg += f"For {who_text(ctx, ids)}, {_loaded_text(ctx, loaded, mi, name)}"
                if loaded is not None and loaded is not first:
                    msg += (f" — importlib.metadata and pip find {first.version} in {first.site_dir} first, so tools "
                            "report a version that is not the code that runs")
                msg += ". "
                v = loaded.version if loaded is not None else (mi.version if mi is not None else None)
                if v and v not in loaded_versions:
                    loaded_versions.append(v)
            if differ:
                msg += (f"Code that imports {name} gets {' or '.join(loaded_versions) or 'no copy'}, while tools that "
                        "inspect another copy (or its OS package) believe a different version is installed.")
            else:
                msg += "The versions are equal, so behaviour is the same, but two installers now manage it."
            win_version = " or ".join(loaded_versions) or str(first.version)
            losers = sorted({str(d.version) for d in copies if d.version not in loaded_versions}) or \
                [str(d.version) for d in copies[1:]]
            layers = [dist_layers(ctx, d) for d in copies]
            primary = next(iter(per_ident.values()))
            if len(loaded_versions) > 1:
                title = f"{name} installed {len(copies)} times: {win_version} loads, depending on the identity"
            else:
                title = f"{name} {win_version} shadows {name} {', '.join(losers)}"
            yield finding(
                "SL101",
                title,
                msg.strip(),
                {
                    "distribution": name,
                    "versions": versions,
                    "paths": [d.metadata_path for d in copies],
                    "layers": [installed for installed, _t in layers],
                    "last_touched_layers": [touched for _i, touched in layers],
                    "owners": [owner_label(d) for d in copies],
                    "identity": idents,
                    "interpreter": env.executable,
                    "winner": primary[0].metadata_path if primary[0] is not None else None,
                    "loaded": {
                        ident: None if mi is None else {"file": mi.file, "version": mi.version, "error": mi.error}
                        for ident, (_l, mi) in per_ident.items()
                    },
                    "loaded_version": primary[1].version if primary[1] is not None else None,
                },
                remedy(ctx, {k: v.format(name=name) for k, v in SL101_FIX.items()}),
                key=(env.executable, name, tuple(sorted(d.site_dir for d in copies))),
                severity="high" if differ else "low",
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


def _outcome(mi: ModuleImport) -> tuple[object, ...]:
    return (mi.file, mi.version, mi.error, tuple(mi.namespace) if mi.file is None and mi.error is None else ())


@check("SL102")
def context_dependent_import(ctx: Context) -> Iterator[Finding]:
    for env in _iter_envs(ctx):
        per_variant = variant_imports(ctx, env)
        if len(per_variant) < 2:
            continue
        # distribution -> its modules whose outcome differs (one finding per distribution)
        differing: dict[str, list[str]] = {}
        for module in sorted({m for mods in per_variant.values() for m in mods}):
            seen = {v: mods[module] for v, mods in per_variant.items() if module in mods}
            if len({_outcome(mi) for mi in seen.values()}) < 2:
                continue
            dist = next((mi.distribution for mi in seen.values() if mi.distribution), module)
            differing.setdefault(dist, []).append(module)
        for dist, modules in sorted(differing.items()):
            main = modules_of_dist(env, dist)
            modules.sort(key=lambda m: main.index(m) if m in main else len(main))
            module = modules[0]
            seen = {v: mods[module] for v, mods in per_variant.items() if module in mods}
            outcomes: dict[tuple[object, ...], list[str]] = {}
            for v, mi in seen.items():
                outcomes.setdefault(_outcome(mi), []).append(v)
            groups = sorted(outcomes.values(), key=lambda vs: vs[0])
            parts = [f"{who_text(ctx, vs)}: {import_text(ctx, seen[vs[0]])}" for vs in groups]
            falls = [s for mi in seen.values() for s in mi.steps
                     if s.outcome == "namespace" and "cannot be searched" in s.detail]
            why = ""
            if falls:
                why = f" {falls[0].detail}; Python does not report this, it silently goes on down sys.path."
            also = f" The same holds for {', '.join(modules[1:])}." if len(modules) > 1 else ""
            mis = list(seen.values())
            yield finding(
                "SL102",
                f"import {module} depends on who runs {env.executable}",
                f"What `import {module}` does on {env_label(env)} depends on the identity or flags: "
                + "; ".join(parts) + "." + why + also,
                {
                    "distribution": dist,
                    "modules": modules,
                    "versions": [mi.version for mi in mis],
                    "paths": sorted({mi.file for mi in mis if mi.file}),
                    "layers": sorted({mi.layer for mi in mis if mi.layer is not None}),
                    "owners": sorted({mi.owner for mi in mis if mi.owner}),
                    "identity": {v: (mi.file if mi.error is None else mi.error) for v, mi in seen.items()},
                    "interpreter": env.executable,
                },
                remedy(ctx, {k: t.format(name=dist) for k, t in SL102_FIX.items()}),
                key=(env.executable, dist),
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
    for d in ctx.inventory.all_distributions():
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
            if env.imports.get(ident, {}) is None:
                continue  # this identity cannot start the interpreter (SL205)
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
