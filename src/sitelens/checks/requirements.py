"""Requirements held against the copy that actually wins: SL108, SL116.

Markers are evaluated for the image's interpreter (its version, Linux, the image's
architecture), never for the machine running sitelens. A requirement is met only by the copy
that resolves first on the identity's import path: a satisfying copy shadowed by an older one
does not count, which is exactly what pip's "Requirement already satisfied" hides.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..findings import Finding, finding
from ..inventory.builder import environment_for
from ..inventory.model import Distribution, Environment, Wanted
from ..inventory.requirement_files import parse_requirement_file
from .base import Context, check
from .helpers import (
    env_label,
    import_text,
    installer_label,
    layer_label,
    listed,
    loaded_copy,
    marker_environment,
    owner_label,
    primary_module,
    remedy,
    winners,
)


def _satisfies(spec: SpecifierSet, version: str | None) -> bool | None:
    """True/False, or None when the installed version cannot be parsed."""
    if version is None:
        return None
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return None


def _marker_ok(marker: Marker | None, env: dict[str, str]) -> bool:
    if marker is None:
        return True
    try:
        return marker.evaluate(env)
    except (UndefinedComparison, UndefinedEnvironmentName, InvalidMarker):
        return True


def _requirement(raw: str) -> Requirement | None:
    try:
        return Requirement(raw)
    except InvalidRequirement:
        return None


# ---- SL108 unmet-requirement ---------------------------------------------------------------------

SL108_FIX = {
    "venv": "Install {req} into the venv (add it to the requirements you install there), or pin "
    "{name} to a version whose requirements the venv satisfies.",
    "system": "Install {req} so that the copy first on the path satisfies it (pip install "
    "'{req}'), without --no-deps; or move the application into a venv where pip "
    "resolves all requirements together.",
    "default": "Install {req} in the environment that imports {name}, or pin {name} to a version "
    "compatible with what is installed.",
}


@dataclass
class _Unmet:
    dist: Distribution
    req: Requirement
    have: Distribution | None
    identities: list[str] = field(default_factory=list)


@check("SL108")
def unmet_requirement(ctx: Context) -> Iterator[Finding]:
    arch = ctx.image.config.architecture if ctx.image is not None else "amd64"
    # Every identity's winners mostly are the same copies: each Requires-Dist line is parsed
    # once per audit and its marker evaluated once per environment.
    parsed: dict[str, Requirement | None] = {}
    for env in ctx.inventory.environments:
        menv = marker_environment(env, arch)
        applies: dict[str, bool] = {}
        problems: dict[tuple[str, str], _Unmet] = {}
        for ident, entries in env.sys_path.items():
            if env.imports.get(ident, {}) is None:
                continue  # this identity cannot start the interpreter (SL205)
            win = winners(env, entries)
            for dist in win.values():
                for raw in dist.requires:
                    if raw not in parsed:
                        parsed[raw] = _requirement(raw)
                    req = parsed[raw]
                    if req is None:
                        continue
                    if raw not in applies:
                        applies[raw] = _marker_ok(req.marker, menv)
                    if not applies[raw]:
                        continue
                    name = canonicalize_name(req.name)
                    have = win.get(name)
                    if have is not None:
                        ok = _satisfies(req.specifier, have.version)
                        if ok is None or ok:
                            continue
                    problems.setdefault((dist.name, name), _Unmet(dist, req, have)).identities.append(ident)
        for (dname, rname), p in sorted(problems.items()):
            dist, req, have, idents = p.dist, p.req, p.have, p.identities
            req_text = str(req).split(";")[0].strip()
            who = f"{dist.raw_name or dist.name} {dist.version} ({dist.site_dir}, {installer_label(dist)})"
            if have is None:
                state = f"but {rname} is not importable"
            else:
                state = (
                    f"but the copy that resolves first is {have.version} in {have.site_dir} "
                    f"({installer_label(have)}, {layer_label(ctx, have.layer)})"
                )
            marker = f" (marker `{req.marker}` is true for Python {env.version})" if req.marker else ""
            yield finding(
                "SL108",
                f"{dname} requires {req_text}: " + ("missing" if have is None else f"{have.version} found"),
                f"{who} requires {req_text}{marker} on {env_label(env)}, {state} for {', '.join(idents)}.",
                {
                    "distribution": dname,
                    "requirement": str(req),
                    "versions": [dist.version, have.version if have else None],
                    "paths": [dist.metadata_path] + ([have.metadata_path] if have else []),
                    "layers": [dist.layer] + ([have.layer] if have else []),
                    "owners": [owner_label(dist)] + ([owner_label(have)] if have else []),
                    "identity": idents,
                    "interpreter": env.executable,
                },
                remedy(ctx, {k: t.format(req=req_text, name=dname) for k, t in SL108_FIX.items()}),
                key=(env.executable, dname, rname),
            )


# ---- SL116 requirement-not-effective ---------------------------------------------------------------



def _wanted(ctx: Context) -> list[Wanted]:
    """What the image's requirement and lock files declare (parsed by the inventory), then the
    ``--requirements`` files given on the command line (their ``-r`` may name an image file)."""
    given = [(str(name), str(text)) for name, text in ctx.options.get("requirements") or []]
    siblings = dict([*ctx.inventory.requirement_files, *given])
    return [*ctx.inventory.declared, *(w for path, text in given for w in parse_requirement_file(path, text, siblings))]


def _target_envs(ctx: Context) -> list[Environment]:
    envs = ctx.inventory.environments
    ep = ctx.inventory.entrypoint
    if ep is not None and ep.interpreter:
        # the inventory's one launch-path -> environment rule (venv launchers, links such as
        # pyenv's versions/X/bin/python -> python3.11), as the other checks use it
        target = environment_for(ctx.inventory, ep.interpreter, ctx.fs)
        if target is not None:
            return [target]
    # No resolvable entrypoint: the first python3 on the image's PATH, as `python3 app.py` would.
    if ctx.image is not None:
        for d in ctx.image.config.path_env:
            for name in ("python3", "python"):
                exe = posixpath.join(d, name)
                real = ctx.fs.resolve(exe)
                if real is None:
                    continue
                hit = [
                    e for e in envs if exe == e.executable or real in (e.interpreter.real_path,) and e.kind == "system"
                ]
                venv_hit = [e for e in envs if e.executable == exe]
                if venv_hit:
                    return venv_hit
                if hit:
                    return hit[:1]
    return list(envs)


SL116_FIX = {
    "venv": "Install the requirements into a fresh venv (`python -m venv /opt/venv && /opt/venv/bin/pip "
    "install -r {src}`) so no pre-installed copy can satisfy them first.",
    "system": "pip reported 'Requirement already satisfied' for {name} because another copy was "
    "already importable. Install the application's requirements into a venv, or remove "
    "the pre-installed copy (OS package) before `pip install -r {src}`, or pass "
    "--upgrade / pin the exact version.",
    "user": "`pip install --user -r {src}` put {name} only in the build user's site: install it "
    "system-wide or into a venv that every runtime identity uses.",
    "default": "Install {src} so that the copy first on the import path matches it (a venv, or "
    "remove the conflicting copy), then check with `python -c 'import importlib.metadata as "
    'm; print(m.version("{name}"))\'` as the runtime user.',
}


@dataclass
class _Seen:
    """What one identity gets for a requirement: the code that loads, and what metadata says."""

    text: str  # in words, for the message
    code: str | None  # version of the code that loads (None: unknown or nothing loads)
    meta: str | None  # importlib.metadata.version()
    dists: list[Distribution]  # the copies involved, for evidence
    bad: bool


def _seen_for(ctx: Context, env: Environment, ident: str, w: Wanted, anywhere: set[str]) -> _Seen | None:
    mods = env.imports.get(ident)
    copies = {d.metadata_path: d for d in env.distributions if d.name == w.name}
    module = primary_module(env, w.name)
    mi = mods.get(module) if mods and module else None
    if mi is not None:
        loaded = loaded_copy(list(copies.values()), mi)
        meta_d = copies.get(mi.metadata_path or "")
        dists = [d for d in (loaded, meta_d) if d is not None]
        if mi.error is not None or mi.file is None:
            return _Seen(import_text(ctx, mi), None, mi.metadata_version, dists, True)
        code_ok = _satisfies(w.spec, mi.version)
        meta_ok = _satisfies(w.spec, mi.metadata_version)
        text = import_text(ctx, mi)
        if code_ok is not False and meta_ok is False:
            text += (f", but importlib.metadata (pip, `pip check`, your app's version checks) reports "
                     f"{mi.metadata_version} from {mi.metadata_path}")
        elif code_ok is False and mi.metadata_version and mi.metadata_version != mi.version:
            text += f" while importlib.metadata reports {mi.metadata_version}"
        return _Seen(text, mi.version, mi.metadata_version, dists, code_ok is False or meta_ok is False)
    # No importable module is known for it (a metadata-only distribution): metadata decides.
    entries = env.sys_path.get(ident, [])
    have = winners(env, entries).get(w.name)
    if have is None:
        if w.must_exist or w.name in anywhere:
            return _Seen("not installed on the import path", None, None, [], True)
        return None
    ok = _satisfies(w.spec, have.version)
    where = f"{have.site_dir} ({installer_label(have)}, {layer_label(ctx, have.layer)})"
    return _Seen(f"finds {have.version} in {where}", have.version, have.version, [have], ok is False)


@check("SL116")
def requirement_not_effective(ctx: Context) -> Iterator[Finding]:
    wanted = _wanted(ctx)
    if not wanted:
        return
    arch = ctx.image.config.architecture if ctx.image is not None else "amd64"
    seen_keys: set[tuple[str, str, str]] = set()
    for env in _target_envs(ctx):
        menv = marker_environment(env, arch)
        anywhere = {d.name for d in env.distributions}
        for w in wanted:
            if not _marker_ok(w.marker, menv):
                continue
            per_ident: dict[str, _Seen] = {}
            for ident in env.sys_path:
                if env.imports.get(ident, {}) is None:
                    continue  # cannot start this interpreter: SL205
                got = _seen_for(ctx, env, ident, w, anywhere)
                if got is not None:
                    per_ident[ident] = got
            bad = {i: v for i, v in per_ident.items() if v.bad}
            if not bad:
                continue
            if all(v.code is None and v.meta is None for v in bad.values()) and not w.must_exist and \
                    not any(not v.bad for v in per_ident.values()):
                continue
            key = (w.source, w.name, env.executable)
            if key in seen_keys:
                continue
            seen_keys.add(key)
            groups: dict[str, list[str]] = {}
            for ident, v in per_ident.items():
                groups.setdefault(v.text, []).append(ident)
            parts = [f"{', '.join(ids)}: {text}" for text, ids in sorted(groups.items(), key=lambda kv: kv[1][0])]
            where = f"{w.source}" + (f" line {w.line}" if w.line else "")
            first = next(iter(bad.values()))
            if first.code is not None and _satisfies(w.spec, first.code) is False:
                title = f"{w.source} asks for {w.text}, but {w.name} {first.code} is imported"
            elif first.code is not None:
                title = f"{w.source} asks for {w.text}; the code matches but importlib.metadata reports {first.meta}"
            else:
                title = f"{w.source} asks for {w.text}, but {w.name} is not importable"
            dists = {d.metadata_path: d for v in per_ident.values() for d in v.dists}
            yield finding(
                "SL116",
                title,
                f"{where} asks for `{w.text}`, but on {env_label(env)} " + "; ".join(parts)
                + ". The requirement had no effect for " + ", ".join(sorted(bad))
                + ' (pip\'s "Requirement already satisfied", or an install they do not see).',
                {
                    "distribution": w.name,
                    "requirement": w.text,
                    "source": w.source,
                    "versions": sorted({v.code for v in per_ident.values() if v.code}),
                    "metadata_versions": sorted({v.meta for v in per_ident.values() if v.meta}),
                    "paths": [w.source, *dists],
                    "layers": sorted({d.layer for d in dists.values() if d.layer is not None}),
                    "owners": [owner_label(d) for d in dists.values()],
                    "identity": sorted(bad),
                    "interpreter": env.executable,
                },
                remedy(ctx, {k: t.format(src=w.source, name=w.name) for k, t in SL116_FIX.items()}),
                key=(w.source, w.name),
            )
    yield from _lock_artefacts(ctx, wanted)


# ---- SL116 for a lock's hashes: the installed copy is not an artefact the lock vouches for -----------

_SDIST = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
SL116_ARTEFACT_FIX = {
    "default": "Install from the lock with hash checking (`poetry install`, `pdm sync`, `uv sync --locked`, "
    "`pip install --require-hashes -r`), and do not reinstall {name} from a local file afterwards; if "
    "the new file is intended, re-lock so the lock records its hash.",
}


def artefact_mismatch(w: Wanted, d: Distribution) -> str | None:
    """Why the installed copy ``d`` is not one of the files the lock lists for ``w`` (None: it is
    one, or the image does not say).

    A lock hashes the wheel or sdist *file*; RECORD hashes the files the wheel unpacked to, so the
    two never compare. What does compare: the archive hash pip writes into ``direct_url.json`` for a
    file or URL install, and the wheel's tags against the wheel file names the lock lists.
    """
    files = w.files
    if d.archive_hashes:
        algos = {f.algo for f in files} & set(d.archive_hashes)
        if not algos:
            return None
        if any(d.archive_hashes.get(f.algo) == f.digest for f in files):
            return None
        algo = sorted(algos)[-1]
        return (f"was installed from {d.archive_url or 'a local file'} ({algo}:{d.archive_hashes[algo]}), "
                f"a file whose hash is not among the {len(files)} {w.source} lists for it")
    names = [f.filename for f in files]
    wheels = [n for n in names if n.endswith(".whl")]
    if not d.wheel_tags or not wheels or any(not n or n.endswith(_SDIST) for n in names):
        return None  # an sdist could have been built into this wheel: nothing to compare
    tags = set(d.wheel_tags)
    for fname in wheels:
        try:
            _, _, _, ftags = parse_wheel_filename(fname)
        except InvalidWheelFilename:
            return None
        if tags & {str(t) for t in ftags}:
            return None
    return (f"comes from a wheel tagged {listed(sorted(tags))}, and {w.source} lists no wheel with that tag "
            f"and no sdist it could have been built from")


def _lock_artefacts(ctx: Context, wanted: list[Wanted]) -> Iterator[Finding]:
    arch = ctx.image.config.architecture if ctx.image is not None else "amd64"
    locked = [w for w in wanted if w.files]  # a lock, or pip's hash-checking mode (--hash)
    for env in _target_envs(ctx):
        menv = marker_environment(env, arch)
        for w in locked:
            if not _marker_ok(w.marker, menv):
                continue
            hits: dict[str, tuple[Distribution, str, list[str]]] = {}
            for ident, entries in env.sys_path.items():
                if env.imports.get(ident, {}) is None:
                    continue
                d = winners(env, entries).get(w.name)
                if d is None or not _satisfies(w.spec, d.version):
                    continue  # absent or another version: the version finding above says so
                why = artefact_mismatch(w, d)
                if why is not None:
                    hits.setdefault(d.metadata_path, (d, why, []))[2].append(ident)
            for d, why, idents in hits.values():
                yield finding(
                    "SL116",
                    f"{w.source} locks {w.text} by hash, but the installed {d.raw_name or d.name} is not a locked file",
                    f"{w.source} locks `{w.text}` with {len(w.files)} file hashes; {d.raw_name or d.name} "
                    f"{d.version} in {d.site_dir} ({installer_label(d)}, {layer_label(ctx, d.layer)}) {why}. "
                    f"It is what {', '.join(idents)} import on {env_label(env)}.",
                    {
                        "distribution": w.name,
                        "requirement": w.text,
                        "source": w.source,
                        "versions": [d.version],
                        "archive_hashes": dict(d.archive_hashes),
                        "wheel_tags": list(d.wheel_tags),
                        "locked_files": [f"{f.filename} {f.algo}:{f.digest}" for f in w.files],
                        "paths": [w.source, d.metadata_path],
                        "layers": [d.layer] if d.layer is not None else [],
                        "owners": [owner_label(d)],
                        "identity": sorted(idents),
                        "interpreter": env.executable,
                    },
                    remedy(ctx, {k: t.format(name=w.name) for k, t in SL116_ARTEFACT_FIX.items()}),
                    key=(w.source, w.name, "artefact"),
                    severity="medium",
                )
