"""The one helper module of the checks: labels, fix texts, import-path order, identity groups.

Every check module builds its messages from these, so one fact (which copy of a distribution
wins, how a layer or an identity is named, which fix text fits the build strategy) has one
implementation. Identities that share credentials and HOME get the same answer from the kernel,
so a permission finding is built once per group and names every identity in it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..humanize import short_command
from ..inventory.attribution import content_layer
from ..inventory.attribution import owner_label as owner_label
from ..inventory.builder import environment_for
from ..inventory.model import Distribution, Environment, Identity, ModuleImport, PathEntry
from ..inventory.syspath import compute_sys_path
from ..paths import normpath
from ..permissions import Cred, Permissions
from ..permissions import engine as fs_engine
from ..strategy import remediation_for
from .derived import is_os_owned as is_os_owned

if TYPE_CHECKING:
    from ..inventory.import_truth import ImportTruth
    from ..inventory.model import PthEffect
    from ..strategy import Strategy
    from .base import Context

APP_ORIGINS = ("script-dir", "pythonpath")  # the application's own code dirs, not installs
MAX_LISTED = 8  # paths named in a message; evidence carries them all
MAX_EXAMPLES = 10  # example files named in evidence
GROUP0_FIX = "chgrp -R 0 {d} && chmod -R g=u {d}"  # the fix that suits the arbitrary UID too


def norm(path: str) -> str:
    return normpath(path) if path else path


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
    variants = _flag_paths(ctx, env)
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
        entries, effects = variants[v]
        if effects is None:
            kept_dirs = {norm(e.path) for e in entries}
            effects = [e for e in env.pth_effects.get(base, []) if norm(posixpath.dirname(e.pth)) in kept_dirs]
        out[v] = t.resolve(env, creds[base], entries, effects, modules)
    return out


def flag_variants(ctx: Context, env: Environment) -> dict[str, list[PathEntry]]:
    """identity -> path, plus ``<identity> with -s/-I/-E`` when the entrypoint runs this env so.

    ``-s``/``-I`` turn the user site off; on Fedora/RHEL that also drops /usr/local's site dirs
    (patch 00251); ``-I``/``-E`` ignore PYTHONPATH, PYTHONHOME and PYTHONNOUSERSITE."""
    return {name: entries for name, (entries, _effects) in _flag_paths(ctx, env).items()}


_FlagPath = tuple[list[PathEntry], "list[PthEffect] | None"]


def _flag_paths(ctx: Context, env: Environment) -> dict[str, _FlagPath]:
    """:func:`flag_variants` with each variant's .pth import lines (with their effects) when they
    were computed (None: take the identity's own, cut down to the dirs kept)."""
    out: dict[str, _FlagPath] = {name: (entries, None) for name, entries in env.sys_path.items()}
    ep = ctx.inventory.entrypoint
    if ep is None or not ep.flags or not _runs_env(ctx, ep.interpreter, env):
        return out
    flags = set(ep.flags)
    no_user = bool(flags & {"-s", "-I"})
    no_pp = bool(flags & {"-E", "-I"})
    if not (no_user or no_pp):
        return out
    tag = " ".join(sorted(f for f in flags if f in {"-s", "-I", "-E"}))
    identities = {i.name: i for i in ctx.inventory.identities}
    for ident, entries in env.sys_path.items():
        identity = identities.get(ident)
        if identity is not None:
            # The path is computed again rather than cut down: ignoring the environment can
            # also add dirs (PYTHONNOUSERSITE ignored brings the user site and Fedora's
            # /usr/local back; a site dir PYTHONPATH named first is a site dir again), and
            # with them their .pth files
            sp = compute_sys_path(ctx.fs, env.interpreter, env.executable, identity, ctx.image.config,
                                  sorted(flags & {"-s", "-I", "-E"}))
            out[f"{ident} with {tag}"] = (sp.entries, sp.pth_effects)
            continue
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
        out[f"{ident} with {tag}"] = (kept, None)
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


def strategy_for(ctx: Context) -> Strategy:
    """The image's build strategy (which fix text fits), computed once per audit."""
    return ctx.derived.strategy


def layer_label(ctx: Context, layer: int | None, width: int = 70) -> str:
    """``layer 3 (RUN pip install ...)``: how findings name a layer, with its created_by."""
    if layer is None:
        return "an unknown layer"
    created = next((li.created_by for li in ctx.fs.layers if li.index == layer), None)
    if not created:
        return f"layer {layer}"
    return f"layer {layer} ({short_command(created, width)})"


# ---- identities, as the permission checks group them ---------------------------------------


def engine(ctx: Context) -> Permissions:
    """The filesystem's one permission engine (shared with the inventory's import model)."""
    return fs_engine(ctx.fs)


def identities(ctx: Context) -> list[Identity]:
    """The identities to judge (see :attr:`Derived.identities`)."""
    return ctx.derived.identities


def image_user(ctx: Context) -> Identity | None:
    return next((i for i in identities(ctx) if i.name == "image-user"), None)


def cred_key(identity: Identity) -> tuple[int, int, tuple[int, ...], str | None]:
    return (identity.uid, identity.gid, tuple(sorted(set(identity.groups))), identity.home)


def groups_of(idents: Iterable[Identity]) -> list[list[Identity]]:
    """Identities grouped by identical credentials and HOME, in first-seen order."""
    out: dict[tuple[int, int, tuple[int, ...], str | None], list[Identity]] = {}
    for i in idents:
        out.setdefault(cred_key(i), []).append(i)
    return list(out.values())


def identity_evidence(group: list[Identity]) -> dict[str, object]:
    first = group[0]
    ev: dict[str, object] = {
        "identity": first.name,
        "identities": [i.name for i in group],
        "uid": first.uid,
        "gid": first.gid,
        "groups": list(first.groups),
        "home": first.home,
    }
    return ev


def describe(identity: Identity) -> str:
    who = f"uid {identity.uid} gid {identity.gid}"
    extra = [g for g in identity.groups if g != identity.gid]
    if extra:
        who += " groups " + ",".join(str(g) for g in extra)
    if identity.username:
        who = f"{identity.username} ({who})"
    return f"{identity.name} [{who}]"


def cannot_start(ctx: Context, env: Environment, ident: Identity) -> bool:
    """The identity cannot run the environment's launcher at all: exec denied, or start-up
    aborts (the inventory's one answer, :func:`sitelens.inventory.import_truth.cannot_start`)."""
    if ctx.fs.resolve(env.executable) is None:
        return False  # a dangling launcher is SL110's story; the dirs it would use are still judged
    if ident.name in env.imports:
        return env.imports[ident.name] is None
    from ..inventory.import_truth import cannot_start as why_not

    return why_not(ctx.fs, env, ident) is not None


def sys_path_for(env: Environment, identity: Identity) -> list[PathEntry]:
    return list(env.sys_path.get(identity.name, []))
