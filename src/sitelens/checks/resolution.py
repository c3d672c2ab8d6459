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

from ..findings import Finding, finding
from ..inventory.attribution import content_layer
from ..inventory.attribution import owner_label as owner_label
from ..inventory.builder import environment_for
from ..inventory.import_truth import ImportTruth
from ..inventory.model import Distribution, Environment, ModuleImport, PathEntry
from ..permissions import Cred
from ..strategy import remediation_for
from .base import Context, check, layer_label
from .derived import OS_MANAGERS as OS_MANAGERS
from .derived import is_os_owned as is_os_owned
from .derived import strategy_for

MAX_LISTED = 8  # paths named in a message; evidence carries them all


# ---- shared helpers --------------------------------------------------------------------------


def norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


def installer_label(d: Distribution) -> str:
    if d.owner_package:
        return d.owner_package
    return d.installer if d.installer != "unknown" else "an unknown installer"


def remedy(ctx: Context, texts: Mapping[str, str]) -> str:
    return remediation_for(strategy_for(ctx), texts)


def listed(items: list[str], limit: int = MAX_LISTED) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def who_text(ctx: Context, names: Iterable[str]) -> str:
    """Identity names for a message; names that are the same user (the image user is root when
    the image sets no User) are written once, as ``image-user = root``."""
    by_name = {i.name: i for i in ctx.inventory.identities}
    groups: dict[object, list[str]] = {}
    for n in names:
        base, _, flags = n.partition(" with ")
        i = by_name.get(base)
        key = (i.uid, i.gid, tuple(sorted(i.groups)), i.home, flags) if i is not None else n
        groups.setdefault(key, []).append(n)
    return ", ".join(" = ".join(g) for g in groups.values())


def env_label(env: Environment) -> str:
    return f"{env.executable} (Python {env.version})"


def path_positions(entries: Iterable[PathEntry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, e in enumerate(entries):
        p = norm(e.path)
        if e.exists and p not in out:
            out[p] = i
    return out


def _same_install(a: Distribution, b: Distribution) -> bool:
    """An editable install seen twice: the ``.egg-link``/PEP 660 record in a site dir and the
    project's own ``.egg-info`` in the source tree it points at (which is on the path too)."""
    for x, y in ((a, b), (b, a)):
        t = norm(x.editable_target or "")
        if t and (norm(y.site_dir) == t or norm(y.metadata_path).startswith(t.rstrip("/") + "/")):
            return True
    return False


def ordered_copies(env: Environment, entries: list[PathEntry]) -> dict[str, list[Distribution]]:
    """name -> the installs on this import path, in path order (an editable install is one).

    Copies in one site dir keep a stable order by metadata path (which one importlib.metadata
    picks there is undecidable: SL105 reports it). Which copy's *code* loads is not decided
    here: see :func:`loaded_copy`."""
    pos = path_positions(entries)
    by_name: dict[str, list[tuple[int, str, Distribution]]] = {}
    for d in env.distributions:
        i = pos.get(norm(d.site_dir))
        if i is None:
            continue
        by_name.setdefault(d.name, []).append((i, d.metadata_path, d))
    out: dict[str, list[Distribution]] = {}
    for n, v in by_name.items():
        kept: list[Distribution] = []
        for _i, _mp, d in sorted(v, key=lambda t: (t[0], t[1])):
            if not any(_same_install(d, k) for k in kept):
                kept.append(d)
        out[n] = kept
    return out


def winners(env: Environment, entries: list[PathEntry]) -> dict[str, Distribution]:
    """name -> the copy importlib.metadata finds first (metadata order, not the code that loads)."""
    return {n: copies[0] for n, copies in ordered_copies(env, entries).items()}


# ---- import truth, as the checks read it ---------------------------------------------------------


def truth(ctx: Context) -> ImportTruth:
    """The inventory's import resolver and attribution, built once per audit."""
    return ctx.derived.truth


def modules_of_dist(env: Environment, name: str) -> list[str]:
    """The top-level modules whose import is attributed to distribution ``name``, main one first."""
    candidates: set[str] = set()
    for mods in env.imports.values():
        for mod, mi in (mods or {}).items():
            if mi.distribution == name:
                candidates.add(mod)
    squashed = name.replace("-", "_")
    # ``PyYAML`` → yaml before _yaml; ``jinja2`` → jinja2
    return sorted(candidates, key=lambda m: (m != squashed, m.startswith("_"), m.lower() not in squashed, m))


def primary_module(env: Environment, name: str) -> str | None:
    """The top-level module that stands for distribution ``name`` (``PyYAML`` → ``yaml``)."""
    mods = modules_of_dist(env, name)
    return mods[0] if mods else None


def loaded_copy(copies: list[Distribution], mi: ModuleImport | None) -> Distribution | None:
    """The copy whose recorded bytes are the code that loads (None: none of them, or no import)."""
    if mi is None or mi.owner is None or mi.file is None:
        return None
    for d in copies:
        if owner_label(d) == mi.owner and (mi.version is None or d.version == mi.version):
            return d
    for d in copies:
        if owner_label(d) == mi.owner:
            return d
    return None


def dist_layers(ctx: Context, d: Distribution) -> tuple[int | None, int | None]:
    """(layer that installed the copy's metadata, layer that last touched it): a later
    ``chmod -R``/``chown -R`` re-ships the files but did not install them."""
    for name in ("METADATA", "PKG-INFO", ""):
        p = f"{d.metadata_path}/{name}" if name else d.metadata_path
        real = ctx.fs.resolve(p)
        if real is not None:
            return content_layer(ctx.fs, real), d.layer
    return d.layer, d.layer


def import_text(ctx: Context, mi: ModuleImport | None) -> str:
    """What one identity's ``import MODULE`` gives, in words (``3.1.2 from FILE (layer, owner)``)."""
    if mi is None:
        return "cannot start the interpreter"
    if mi.error is not None:
        why = next((s.detail for s in reversed(mi.steps) if s.outcome == "error"), "")
        return f"`import {mi.module}` fails with {mi.error}" + (f" ({why})" if why else "")
    if mi.file is None:
        portions = ", ".join(mi.namespace) or "nothing"
        return f"an empty namespace package ({portions}): `from {mi.module} import …` fails"
    owner = f", {mi.owner}" if mi.owner and mi.owner != "unknown" else ", bytes no owner's record matches"
    version = mi.version or "unknown version"
    mixed = "; mixed tree: files of " + ", ".join(mi.owners) if mi.mixed else ""
    return f"{version} from {mi.file} ({layer_label(ctx, mi.layer)}{owner}{mixed})"


def variant_imports(ctx: Context, env: Environment) -> dict[str, dict[str, ModuleImport]]:
    """identity (or ``identity with -s``…) -> its imports; identities that cannot start the
    interpreter are left out (SL205 is their finding)."""
    out: dict[str, dict[str, ModuleImport]] = {}
    for ident, mods in env.imports.items():
        if mods is not None:
            out[ident] = mods
    variants = flag_variants(ctx, env)
    extra = [v for v in variants if v not in env.sys_path]
    if not extra:
        return out
    t = truth(ctx)
    modules = t.modules(env)
    creds = {i.name: Cred.of(i) for i in ctx.inventory.identities}
    for v in extra:
        base = v.split(" with ", 1)[0]
        if base not in out or base not in creds:
            continue
        entries = variants[v]
        kept_dirs = {norm(e.path) for e in entries}
        pth = [(f, line) for f, line in env.pth_imports.get(base, []) if norm(posixpath.dirname(f)) in kept_dirs]
        out[v] = t.resolve(env, creds[base], entries, pth, modules)
    return out


def flag_variants(ctx: Context, env: Environment) -> dict[str, list[PathEntry]]:
    """identity -> path, plus ``<identity> with -s/-I`` when the entrypoint runs this env so.

    ``-s``/``-I`` turn the user site off; on Fedora/RHEL that also drops /usr/local's site dirs
    (patch 00251); ``-I``/``-E`` ignore PYTHONPATH."""
    out = dict(env.sys_path)
    ep = ctx.inventory.entrypoint
    if ep is None or not ep.flags or not _runs_env(ctx, ep.interpreter, env):
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


def _runs_env(ctx: Context, interpreter: str | None, env: Environment) -> bool:
    """The entrypoint execs this environment: by one of its names, or (``CMD ["python3", …]``
    where the interpreter is known as python3.11) through a symlink to its binary."""
    if interpreter is None:
        return False
    if interpreter in (env.executable, env.interpreter.path, env.interpreter.real_path):
        return True
    return environment_for(ctx.inventory, interpreter, ctx.fs) is env


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
                "high" if differ else "low",
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
                "high",
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
