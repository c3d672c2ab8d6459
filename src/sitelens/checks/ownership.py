"""Who owns each file, and whether the files still match: SL103, SL104, SL106, SL107, SL109.

Owners are the OS package databases (dpkg md5sums, rpm/apk digests, conda's PrefixRecord
sha256s) and the RECORDs of distributions no OS package installed. conda counts as OS-like here:
it records every file it linked, so pip over a conda package is two owners of one tree.
A distro's own RECORD is not evidence of pip and a distro
RECORD that does not verify is not tampering (Debian ships some that never matched): for
OS-owned files the package database's digest is the truth, RECORDs are checked only where no OS
package explains the file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from ..findings import Finding, finding
from ..fs import DELETED, Filesystem
from ..inventory.attribution import actual_digest
from ..inventory.model import Distribution, Environment, Interpreter, Inventory, OsPackage, OwnedFile
from .base import Context, check
from .helpers import installer_label, is_os_owned, layer_label, listed, norm, owner_label, remedy

# Paths images routinely strip to save space; a deleted doc is not an altered package.
_STRIPPED = (
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/locale/",
    "/usr/share/info/",
    "/usr/share/lintian/",
    "/usr/share/doc-base/",
    "/usr/share/i18n/",
)
_META = re.compile(r"/([^/]+?)-[^/-]*\.(dist-info|egg-info)(/|$)")


def _all_dists(inv: Inventory) -> list[Distribution]:
    """Every distribution in the image, on an import path or not: ownership is about files."""
    return inv.all_distributions()


def _record_claims(ctx: Context) -> dict[str, list[Distribution]]:
    """path -> non-OS distributions whose RECORD lists it (RECORD itself and .pyc excluded)."""
    return ctx.derived.record_claims


def _os_owners(ctx: Context) -> dict[str, list[OsPackage]]:
    return ctx.derived.os_owners


def _canonical(fs: Filesystem, path: str) -> str:
    """The path with its parent's symlinks resolved (usrmerge: /bin/x is /usr/bin/x)."""
    return fs.canonical(path) or path


def _deleted_in(fs: Filesystem, path: str) -> int | None:
    """The layer that deleted a now-missing path (None: it was never there, e.g. path-exclude)."""
    for p in (path, _canonical(fs, path)):
        hist = fs.history(p)
        if hist and hist[-1].action == DELETED:
            before = hist[-2].entry if len(hist) > 1 else None
            if before is not None and before.kind == "dir":
                return None  # a directory dpkg lists: its files tell the story
            return hist[-1].layer
    return None


def _pkg_dist_name(pkg: OsPackage) -> str | None:
    """The Python distribution an OS package ships, from its metadata dir's name."""
    for f in pkg.files:
        m = _META.search(f.path)
        if m:
            return canonicalize_name(m.group(1))
    return None


@dataclass
class _Altered:
    pkg: OsPackage
    changed: list[tuple[OwnedFile, int]] = field(default_factory=list)  # (file, layer)
    deleted: list[tuple[OwnedFile, int]] = field(default_factory=list)


# ---- SL103 altered-os-file ---------------------------------------------------------------------

SL103_FIX = {
    "venv": "Install {dist} into the venv instead of the system site, so the OS package's files "
    "stay as {pkg} shipped them.",
    "system": "Do not let pip replace files of {pkg}: install {dist} into a venv (python3 -m venv "
    "/opt/venv) or remove {pkg} with the package manager before `pip install`, so the "
    "package database stays true. Debian/Ubuntu's own pip keeps dpkg files; a pip "
    "upgraded with `pip install -U pip` deletes them.",
    "default": "Change {pkg}'s files only through the package manager: reinstall {pkg}, and install "
    "other versions outside the OS-managed directories (a venv).",
}
# conda's own files, whatever the image's style: the fix is a conda command
SL103_CONDA = (
    "Let conda alone own {dist} in {prefix}: install the version you need with conda (`conda install "
    "-p {prefix} {pkg}=VERSION`, or mamba/micromamba/pixi) instead of pip. When only PyPI has it, remove "
    "conda's package first (`conda remove -p {prefix} --force {pkg}`) and then `pip install --no-deps "
    "{dist}`, so conda-meta no longer lists files pip rewrote or deleted."
)


def conda_prefix(pkg: OsPackage) -> str | None:
    """The environment a conda package is installed in (its record is ``PREFIX/conda-meta/X.json``)."""
    if pkg.manager != "conda" or not pkg.ref:
        return None
    return posixpath.dirname(posixpath.dirname(pkg.ref)) or "/"


def package_text(pkg: OsPackage) -> str:
    """``dpkg package python3-jinja2 3.1.2``; a conda package names its environment."""
    prefix = conda_prefix(pkg)
    return f"{pkg.manager} package {pkg.name} {pkg.version}" + (f" in {prefix}" if prefix else "")


@check("SL103")
def altered_os_file(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    claims = _record_claims(ctx)
    dists = _all_dists(ctx.inventory)
    for db in ctx.inventory.package_dbs:
        for pkg in db.packages:
            alt = _Altered(pkg)
            for f in pkg.files:
                if f.is_dir or f.is_ghost or f.is_config:
                    continue
                node = fs.lookup(f.path)
                if node is None:
                    if f.path.startswith(_STRIPPED):
                        continue
                    layer = _deleted_in(fs, f.path)
                    if layer is not None:
                        alt.deleted.append((f, layer))
                    continue
                if node.kind not in ("file", "hardlink") or f.digest is None:
                    continue
                actual = actual_digest(node, f.algo)
                if actual is None or actual == f.digest:
                    continue
                alt.changed.append((f, node.layer))
            if alt.changed or alt.deleted:
                yield _sl103(ctx, alt, claims, dists)


def _sl103(ctx: Context, alt: _Altered, claims: dict[str, list[Distribution]], dists: list[Distribution]) -> Finding:
    pkg = alt.pkg
    pyname = _pkg_dist_name(pkg)
    claimants: dict[str, Distribution] = {}
    for f, _ in alt.changed:
        for d in claims.get(norm(f.path), []) + claims.get(norm(_canonical(ctx.fs, f.path)), []):
            claimants[d.metadata_path] = d
    layers = sorted({layer for _, layer in alt.changed + alt.deleted})
    # Deleted files: the distribution of the same name that the deleting layer installed.
    replacements: dict[str, Distribution] = {}
    if alt.deleted and pyname:
        del_layers = {layer for _, layer in alt.deleted}
        for d in dists:
            if d.name == pyname and d.layer in del_layers and not is_os_owned(d):
                replacements.setdefault(d.metadata_path, d)
    parts = []
    if alt.changed:
        parts.append(
            f"{len(alt.changed)} file(s) no longer match the {pkg.manager} database "
            f"({listed([f.path for f, _ in alt.changed], 5)})"
        )
    if alt.deleted:
        parts.append(f"{len(alt.deleted)} file(s) were deleted ({listed([f.path for f, _ in alt.deleted], 5)})")
    where = "; ".join(layer_label(ctx, layer) for layer in layers)
    msg = f"{package_text(pkg)}: " + " and ".join(parts) + f", in {where}."
    if claimants:
        msg += " The changed files are now claimed by " + _dists_text(ctx, claimants) + "."
    if replacements:
        msg += (
            " The same layer uninstalled it and installed "
            + _dists_text(ctx, replacements)
            + " (pip removes an OS package's files when it upgrades a distribution it can see)."
        )
    msg += (
        f" {pkg.manager} still lists these files for {pkg.name}, so a later upgrade or removal "
        f"of the package will overwrite or delete them."
    )
    files = alt.changed + alt.deleted
    claimants.update(replacements)
    dist_name = pyname or (next(iter(claimants.values())).name if claimants else None)
    prefix = conda_prefix(pkg)
    if prefix is not None:
        msg += f" `conda list -p {prefix}` still reports {pkg.name} {pkg.version}."
        fix = SL103_CONDA.format(pkg=pkg.name, dist=dist_name or pkg.name, prefix=prefix)
    else:
        fix = remedy(ctx, {k: t.format(pkg=pkg.name, dist=dist_name or pkg.name) for k, t in SL103_FIX.items()})
    return finding(
        "SL103",
        f"files of {pkg.manager} package {pkg.name} were changed outside the package manager",
        msg,
        {
            "distribution": dist_name,
            "versions": [pkg.version, *[d.version for d in claimants.values()]],
            "paths": [f.path for f, _ in files],
            "changed": [f.path for f, _ in alt.changed],
            "deleted": [f.path for f, _ in alt.deleted],
            "layers": layers,
            "owners": [pkg.owner_id, *[owner_label(d) for d in claimants.values()]],
        },
        fix,
        # conda names are unique per environment only: its record path is the key
        key=(pkg.manager, pkg.ref or pkg.name),
    )


def _dists_text(ctx: Context, dists: dict[str, Distribution]) -> str:
    return "; ".join(
        f"{d.raw_name or d.name} {d.version} ({installer_label(d)}, {d.metadata_path}, {layer_label(ctx, d.layer)})"
        for d in dists.values()
    )


# ---- SL104 doubly-owned-file -------------------------------------------------------------------

SL104_FIX = {
    "default": "Let one installer own each file: remove the OS package before installing the pip "
    "copy (or the other way round), or install the pip copy into a venv; for two "
    "RECORDs, uninstall one of the distributions.",
}
SL104_CONDA = (
    "Let one installer own each file of the conda environment: install the package with conda "
    "(`conda install`, mamba, micromamba, pixi) instead of pip, or remove conda's package first "
    "(`conda remove --force NAME`) and then `pip install --no-deps NAME` into the env's own "
    "site-packages; `pip install --target SITE --upgrade` over a conda env leaves conda's files listed."
)


_INSTALL_FILES = frozenset(("RECORD", "INSTALLER", "REQUESTED"))  # each copy has its own


@check("SL104")
def doubly_owned_file(ctx: Context) -> Iterator[Finding]:
    claims = _record_claims(ctx)
    os_owners = _os_owners(ctx)
    os_claimed = ctx.derived.os_claimed
    groups: dict[tuple[str, ...], list[str]] = {}
    for path, dists in claims.items():
        if len(dists) == 1 and path not in os_claimed:
            continue  # one RECORD and no package database: a single owner (nearly every file)
        if path.endswith(".pyc") or path[path.rfind("/") + 1:] in _INSTALL_FILES:
            continue
        by_label = {owner_label(d): d for d in dists}
        # two copies of one distribution in one dir are SL105's story
        by_dir_name: dict[tuple[str, str], str] = {}
        for label, d in sorted(by_label.items()):
            by_dir_name.setdefault((norm(d.site_dir), d.name), label)
        labels = set(by_dir_name.values())
        for p in {path, _canonical(ctx.fs, path)}:
            for pkg in os_owners.get(p, []):
                labels.add(pkg.owner_id)
        if len(labels) >= 2:
            groups.setdefault(tuple(sorted(labels)), []).append(path)
    for owners, paths in sorted(groups.items()):
        paths.sort()
        yield finding(
            "SL104",
            f"{len(paths)} file(s) claimed by {len(owners)} owners",
            f"{len(paths)} file(s) are claimed by {' and '.join(owners)}: {listed(paths, 5)}. Removing "
            f"or upgrading either owner deletes or rewrites files the other relies on.",
            {"paths": paths, "owners": list(owners)},
            SL104_CONDA if any(o.startswith("conda:") for o in owners) else remedy(ctx, SL104_FIX),
            key=owners,
        )


# ---- SL106 record-integrity ---------------------------------------------------------------------

SL106_FIX = {
    "venv": "Reinstall {name} in the venv (`pip install --force-reinstall {name}=={version}`) instead "
    "of editing installed files in a later layer; patch the source and build a wheel.",
    "default": "Do not edit or delete installed files of {name} in later layers: reinstall it "
    "(`pip install --force-reinstall {name}=={version}`) or ship a patched wheel.",
}


@check("SL106")
def record_integrity(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    os_owned = ctx.derived.os_owned
    for d in _all_dists(ctx.inventory):
        # A RECORD with no INSTALLER is a distro's build artefact (Debian ships some that never
        # verified): only installers that wrote and own their RECORD are held to it.
        if is_os_owned(d) or not d.record or d.installer_name == "unknown":
            continue
        missing: list[str] = []
        bad: list[tuple[str, str, int]] = []
        for r in d.record:
            path = norm(r.path)
            if os_owned(path):
                continue  # SL103/SL104 tell that story with the package database's digest
            node = fs.get(path)
            if node is None or node.entry.kind == "symlink":
                node = fs.lookup(path)  # an alias through a link: the full lookup
            if node is None:
                wanted = r.digest is not None or not path.endswith(".pyc")
                if wanted and posixpath.basename(path) != "RECORD":
                    missing.append(path)
                continue
            if node.entry.kind not in ("file", "hardlink"):
                continue
            if (
                r.algo == "sha256"
                and r.digest is not None
                and node.entry.sha256 is not None
                and node.entry.sha256 != r.digest
            ):
                bad.append((path, "sha256 differs", node.layer))
            elif r.size is not None and r.digest is not None and node.size != r.size:
                bad.append((path, f"size {node.size} != {r.size}", node.layer))
        if not missing and not bad:
            continue
        parts = []
        if bad:
            parts.append("changed: " + listed([f"{p} ({why}, {layer_label(ctx, layer)})" for p, why, layer in bad], 4))
        if missing:
            parts.append("missing: " + listed(missing, 4))
        layers = sorted({layer for _, _, layer in bad} | ({d.layer} if d.layer is not None else set()))
        yield finding(
            "SL106",
            f"installed files of {d.name} {d.version} do not match its RECORD",
            f"RECORD of {d.raw_name or d.name} {d.version} ({d.metadata_path}, {installer_label(d)}, "
            f"{layer_label(ctx, d.layer)}) does not match the image and no OS package explains it; "
            + "; ".join(parts)
            + ".",
            {
                "distribution": d.name,
                "versions": [d.version],
                "paths": [p for p, _, _ in bad] + missing,
                "missing": missing,
                "changed": [p for p, _, _ in bad],
                "layers": layers,
                "owners": [owner_label(d)],
            },
            remedy(ctx, {k: t.format(name=d.name, version=d.version) for k, t in SL106_FIX.items()}),
            key=(d.metadata_path,),
        )


# ---- SL107 orphan-files -------------------------------------------------------------------------

_SKIP_NAMES = {
    "__pycache__",
    "_virtualenv.py",
    "README",
    "README.txt",
    "site.py",
    "sitecustomize.py",
    "usercustomize.py",
}
_EXT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[^.]+)*\.(so|pyd)$")
_MOD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.(py|pyc)$")

SL107_FIX = {
    "default": "Install {name} as a distribution (build a wheel, even a local one) instead of "
    "copying it into {site}, or put the application code outside site-packages and "
    "on PYTHONPATH / WorkingDir so it is not mistaken for an installed package.",
}


def _site_dirs_on_paths(inv: Inventory) -> list[str]:
    out: set[str] = set()
    for env in inv.environments:
        for entries in env.sys_path.values():
            for e in entries:
                if e.site_dir and e.exists:
                    out.add(norm(e.path))
    return sorted(out)


@check("SL107")
def orphan_files(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    claimed: dict[str, set[str]] = {}  # site dir -> first path components someone claims
    sites = _site_dirs_on_paths(ctx.inventory)
    site_set = set(sites)

    walked: set[str] = set()  # dirs whose way up is already done (files share parents)

    def claim(path: str) -> None:
        parent = path
        while True:
            cut = parent.rfind("/")
            nxt = parent[:cut] or "/"
            if nxt in site_set:
                claimed.setdefault(nxt, set()).add(parent[cut + 1 :])
                return
            if nxt == parent or nxt == "/" or nxt in walked:
                return
            walked.add(nxt)
            parent = nxt

    # only a path under a site dir can claim a name there (and the dirs a walk up from any
    # other path passes are below no site dir): the rest is skipped before the call
    under_site = tuple(s.rstrip("/") + "/" for s in sites)
    for path in _os_owners(ctx):
        if path.startswith(under_site):
            claim(path)
    for d in _all_dists(ctx.inventory):
        for r in d.record or []:
            path = norm(r.path)
            if path.startswith(under_site):
                claim(path)
        for top in d.top_level:
            claimed.setdefault(norm(d.site_dir), set()).update({top, top + ".py"})
    for site in sites:
        names = claimed.get(site, set())
        for child in fs.listdir(site):
            if child in names or child in _SKIP_NAMES or child.startswith((".", "__editable__")):
                continue
            if child.endswith((".dist-info", ".egg-info", ".pth", ".egg-link", ".egg", ".txt")):
                continue
            path = posixpath.join(site, child)
            node = fs.lookup(path)
            if node is None:
                continue
            modname = None
            if node.kind == "dir":
                kids = fs.listdir(path)
                if child.isidentifier() and any(k.endswith((".py", ".so")) for k in kids):
                    modname = child
            else:
                m = _MOD.match(child) or _EXT.match(child)
                if m:
                    modname = m.group(1)
            if modname is None or modname in names:
                continue
            yield finding(
                "SL107",
                f"{modname} in {site} belongs to no package",
                f"{path} is importable as `{modname}` ({'package' if node.kind == 'dir' else 'module'}, "
                f"{layer_label(ctx, node.layer)}) but no OS package and no RECORD claims it: pip "
                f"cannot upgrade, uninstall or report it, and `pip list` does not show it.",
                {"paths": [path], "layers": [node.layer], "owners": []},
                remedy(ctx, {k: t.format(name=modname, site=site) for k, t in SL107_FIX.items()}),
                key=(path,),
            )


# ---- SL109 externally-managed-bypassed -----------------------------------------------------------

SL109_FIX = {
    "system": "The interpreter is marked EXTERNALLY-MANAGED (PEP 668) and pip was forced past it: "
    "create a venv (python3 -m venv /opt/venv) and install there, or install the "
    "distro's packages ({pkgs}) with the package manager.",
    "user": "`pip install --user --break-system-packages` still mixes with the OS packages: create "
    "a venv (python3 -m venv /opt/venv) and install there.",
    "default": "Install into a venv rather than forcing pip past EXTERNALLY-MANAGED.",
}


def pip_scheme_dirs(interp: Interpreter) -> set[str]:
    """Where a plain ``pip install`` into the system environment writes: purelib and platlib of
    sysconfig's default scheme, with the distributions' patches (Debian's ``posix_local`` scheme;
    Fedora's ``/usr/local`` outside rpmbuild)."""
    v, libdirs = interp.version, {interp.platlibdir, "lib"}
    if interp.flavor == "debian":
        return {norm(f"{interp.prefix}/local/lib/python{v}/dist-packages")}
    prefix = "/usr/local" if interp.flavor == "fedora" and interp.prefix == "/usr" else interp.prefix
    return {norm(f"{prefix}/{d}/python{v}/site-packages") for d in libdirs}


def _pep668_checked_dirs(env: Environment) -> set[str]:
    """The site dirs pip refuses to write without --break-system-packages: the scheme dirs and
    every identity's user site (``--user`` is checked too). ``--target``, ``--prefix`` and
    ``--root`` skip the check (pip's install command), and they land elsewhere: a dir on
    PYTHONPATH, reached by a ``.pth`` line, or another of the interpreter's site dirs."""
    user_sites = {norm(e.path) for entries in env.sys_path.values() for e in entries
                  if e.origin == "user-site"}
    return pip_scheme_dirs(env.interpreter) | user_sites


@check("SL109")
def externally_managed_bypassed(ctx: Context) -> Iterator[Finding]:
    for env in ctx.inventory.environments:
        if env.kind != "system" or not env.interpreter.externally_managed:
            continue
        on_path = {norm(e.path) for entries in env.sys_path.values() for e in entries if e.exists}
        checked = _pep668_checked_dirs(env)
        by_site: dict[str, list[Distribution]] = {}
        for d in env.distributions:
            if is_os_owned(d) or d.installer_name not in ("pip", "uv", "poetry", "pdm"):
                continue
            if norm(d.site_dir) not in on_path or norm(d.site_dir) not in checked:
                continue
            by_site.setdefault(norm(d.site_dir), []).append(d)
        for site, dists in sorted(by_site.items()):
            dists.sort(key=lambda d: d.name)
            names = [f"{d.raw_name or d.name} {d.version}" for d in dists]
            installers = ", ".join(sorted({d.installer for d in dists}))
            layers_text = listed(sorted({layer_label(ctx, d.layer) for d in dists}), 3)
            yield finding(
                "SL109",
                f"{len(dists)} distribution(s) pip-installed into externally managed {env.interpreter.path}",
                f"{env.interpreter.stdlib or env.interpreter.prefix}/EXTERNALLY-MANAGED marks "
                f"{env.interpreter.path} as managed by the OS, yet {installers} "
                f"installed {listed(names)} into {site} ({layers_text}), "
                f"i.e. with --break-system-packages or PIP_BREAK_SYSTEM_PACKAGES.",
                {
                    "distribution": dists[0].name if len(dists) == 1 else None,
                    "distributions": [d.name for d in dists],
                    "versions": [d.version for d in dists],
                    "paths": [d.metadata_path for d in dists],
                    "layers": sorted({d.layer for d in dists if d.layer is not None}),
                    "owners": [owner_label(d) for d in dists],
                    "interpreter": env.executable,
                },
                remedy(
                    ctx,
                    {k: t.format(pkgs=", ".join("python3-" + d.name for d in dists[:3])) for k, t in SL109_FIX.items()},
                ),
                key=(env.executable, site),
            )
