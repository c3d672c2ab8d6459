"""SL201–SL207: can each runtime identity run and import what the image installed, and who else
could change it?

Every answer comes from the permission engine (``sitelens.permissions``) on the merged
filesystem, per identity (image-user, arbitrary-uid, root, ``--user``). Evidence names the
identity, the first path component that denies, its mode and owner.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from ..permissions import CAPABILITY_XATTR, Access, Cred, acl_of, is_setid, mode_str
from ._identity_scope import (
    APP_ORIGINS,
    cannot_start,
    describe,
    engine,
    groups_of,
    identities,
    identity_evidence,
    image_user,
    sys_path_for,
)
from .base import Context, check

if TYPE_CHECKING:
    from ..fs import Filesystem, Node
    from ..inventory.model import Environment, Identity

GROUP0_FIX = "chgrp -R 0 {d} && chmod -R g=u {d}"
MAX_EXAMPLES = 10


def _envs(ctx: Context) -> list[Environment]:
    return list(ctx.inventory.environments)


def _reference_entries(env: Environment) -> list[str]:
    """Directories the environment is meant to import from, whoever runs it: root's path (root
    reaches everything) or, without it, the union of every identity's — user sites excluded."""
    names = ["root"] if "root" in env.sys_path else list(env.sys_path)
    out: list[str] = []
    for name in names:
        for e in env.sys_path.get(name, []):
            if e.exists and e.origin != "user-site" and e.path not in out:
                out.append(e.path)
    return out


# ---- SL201 unreadable-import-path ---------------------------------------------------------------


def _unreadable_below(ctx: Context, top: str, cred: Cred) -> tuple[list[Node], int]:
    """Files under a listable import dir that ``cred`` cannot read, and dirs it cannot list.

    Descends only into directories it can list (a denied dir hides everything under it, and it
    is reported itself). Returns (examples, total count).
    """
    perms = engine(ctx)
    real = ctx.fs.resolve(top)
    bad: list[Node] = []
    count = 0
    if real is None:
        return bad, 0
    stack = [real]
    while stack:
        d = stack.pop()
        for name in ctx.fs.listdir(d, follow=False):
            p = d.rstrip("/") + "/" + name
            node = ctx.fs.get(p)
            if node is None or node.kind in ("symlink", "char", "block", "fifo"):
                continue
            want = 5 if node.kind == "dir" else 4
            if perms.allows(node, cred, want) is not None:
                count += 1
                if len(bad) < MAX_EXAMPLES:
                    bad.append(node)
            elif node.kind == "dir":
                stack.append(p)
    return bad, count


@check("SL201")
def unreadable_import_path(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    # (kind, dir, identities) -> (group, access or unreadable nodes, count, interpreters)
    found: dict[tuple[str, str, tuple[str, ...]], tuple[list[Identity], object, int, list[str]]]
    found = {}
    clean: set[tuple[str, tuple[str, ...]]] = set()
    for env in _envs(ctx):
        reference = _reference_entries(env)
        for group in groups_of(identities(ctx)):
            ident = group[0]
            if ident.uid == 0:
                continue  # root reads everything
            names = tuple(i.name for i in group)
            cred = Cred.of(ident)
            if cannot_start(ctx, env, ident):
                continue  # SL205 says the interpreter does not run at all for this identity
            own = [e.path for e in sys_path_for(env, ident) if e.exists]
            for path in dict.fromkeys(reference + own):
                if (path, names) in clean:
                    continue
                known = found.get(("dir", path, names)) or found.get(("files", path, names))
                if known is not None:
                    if env.executable not in known[3]:
                        known[3].append(env.executable)
                    continue
                acc = perms.list(ident, path)
                if not acc.allowed:
                    if acc.exists:
                        found[("dir", path, names)] = (group, acc, 1, [env.executable])
                    continue
                bad, count = _unreadable_below(ctx, path, cred)
                if count:
                    found[("files", path, names)] = (group, bad, count, [env.executable])
                else:
                    clean.add((path, names))  # shared dirs (the stdlib) are walked once
    for (kind, path, _), (group, what, count, interps) in found.items():
        if kind == "dir":
            assert isinstance(what, Access)
            yield _sl201_dir(interps, group, path, what)
        else:
            assert isinstance(what, list)
            yield _sl201_files(interps, group, path, what, count)


def _sl201_dir(interps: list[str], group: list[Identity], path: str, acc: Access) -> Finding:
    ident = group[0]
    d = acc.denied_by
    reason = d.describe() if d else acc.reason()
    return finding(
        "SL201", "critical",
        f"{ident.name} cannot use import path directory {path}",
        f"{describe(ident)} cannot list {path}, which is on the import path of "
        f"{', '.join(interps)}: {reason}. Modules there raise ModuleNotFoundError for this "
        "identity (CPython skips the directory silently).",
        {**identity_evidence(group), "interpreter": interps[0], "interpreters": interps,
         "paths": [path], "access": acc.evidence()},
        _fix_readable(d.path if d else path),
        key=("dir", path, ident.name),
    )


def _sl201_files(
    interps: list[str], group: list[Identity], path: str, bad: list[Node], count: int
) -> Finding:
    ident = group[0]
    examples = [
        {"path": n.path, "kind": n.kind, "mode": mode_str(n.mode), "owner": f"{n.uid}:{n.gid}"}
        for n in bad
    ]
    first = examples[0]
    return finding(
        "SL201", "critical",
        f"{ident.name} cannot read {count} installed path(s) under {path}",
        f"{describe(ident)} cannot read {count} file(s) or directories under {path} (on the "
        f"import path of {', '.join(interps)}), e.g. {first['path']} ({first['kind']}, mode "
        f"{first['mode']}, owner {first['owner']}): a directory it cannot list hides its "
        "submodules (ModuleNotFoundError), a file it cannot read fails with PermissionError.",
        {**identity_evidence(group), "interpreter": interps[0], "interpreters": interps,
         "paths": [path], "unreadable": examples, "count": count},
        _fix_readable(path),
        key=("files", path, ident.name),
    )


def _fix_readable(path: str) -> str:
    return (
        f"Install as the runtime user or make the files readable: `chmod -R a+rX {path}` (keep "
        f"them root-owned and not writable); for arbitrary UIDs `{GROUP0_FIX.format(d=path)}` "
        "also works but makes them group-writable."
    )


# ---- SL202 unreachable-user-site ----------------------------------------------------------------

_USER_SITE = re.compile(r"^(?P<base>/.*)/lib/python(?P<ver>\d+\.\d+)/site-packages$")
_DIST_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth", ".py")


def _user_sites(ctx: Context) -> list[tuple[str, str, str, list[str]]]:
    """(site dir, user base, version, distributions) for user sites holding something."""
    userbase = ctx.image.config.env.get("PYTHONUSERBASE") or None
    out = []
    for node in ctx.fs.nodes():
        if node.kind != "dir":
            continue
        m = _USER_SITE.match(node.path)
        if not m:
            continue
        base = m.group("base")
        if not (base.endswith("/.local") or base == userbase):
            continue
        items = [n for n in ctx.fs.listdir(node.path, follow=False) if n.endswith(_DIST_SUFFIXES)]
        if items:
            out.append((node.path, base, m.group("ver"), items))
    return out


def _user_base_of(ctx: Context, ident: Identity) -> str:
    env = ctx.image.config.env
    if env.get("PYTHONUSERBASE"):
        return env["PYTHONUSERBASE"]
    home = ident.home if ident.home is not None else "/"
    home = home.rstrip("/")
    return f"{home}/.local"


@check("SL202")
def unreachable_user_site(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    env = ctx.image.config.env
    disabled = bool(env.get("PYTHONNOUSERSITE"))
    ep = ctx.inventory.entrypoint
    flags = set(ep.flags) if ep is not None else set()
    versions = {i.version for i in ctx.inventory.interpreters}
    img = image_user(ctx)
    for site, base, ver, items in _user_sites(ctx):
        unable: list[dict[str, object]] = []
        able: list[str] = []
        for group in groups_of(identities(ctx)):
            ident = group[0]
            # The "root" identity is a debugging aid; it counts only when it is the image's user.
            names = [i.name for i in group]
            if names == ["root"] and img is not None and img.uid != 0:
                continue
            reason: str | None = None
            denial: dict[str, object] | None = None
            mine = _user_base_of(ctx, ident)
            if disabled:
                reason = "PYTHONNOUSERSITE is set in the image config: the user site is disabled"
            elif flags & {"-s", "-I"}:
                reason = f"the entrypoint runs Python with {' '.join(sorted(flags & {'-s', '-I'}))}"
            elif versions and ver not in versions:
                reason = f"no Python {ver} interpreter in the image"
            elif ctx.fs.resolve(mine) != ctx.fs.resolve(base):
                reason = (f"its user base is {mine} (HOME={ident.home!r}), not {base}")
            else:
                acc = perms.list(ident, site)
                if not acc.allowed:
                    denial = acc.evidence()
                    reason = acc.reason()
            if reason is None:
                able.extend(names)
            else:
                entry: dict[str, object] = {"identities": names, "uid": ident.uid,
                                            "gid": ident.gid, "home": ident.home,
                                            "reason": reason}
                if denial:
                    entry["access"] = denial
                unable.append(entry)
        if not unable:
            continue
        first = unable[0]
        who = ", ".join(n for u in unable for n in u["identities"])  # type: ignore[attr-defined]
        dists = sorted(i for i in items if i.endswith((".dist-info", ".egg-info")))
        what = f"{len(dists)} distribution(s)" if dists else f"{len(items)} module(s)"
        yield finding(
            "SL202", "high",
            f"user site {site} is not used by {who}",
            f"{what} ({', '.join(dists[:5] or items[:5])}) sit in the user site {site}, which "
            f"{who} will not import: "
            f"{first['reason']}. "
            + (f"It works only for {', '.join(able)}." if able else "No identity imports it."),
            {"identity": first["identities"][0], "paths": [site],  # type: ignore[index]
             "unable": unable, "able": able, "distributions": dists},
            "Do not install with `pip install --user` (or as a build user into its HOME): install "
            "into a virtual environment or the system site-packages that every runtime identity "
            "can read (e.g. `python -m venv /opt/venv && /opt/venv/bin/pip install ...`, then "
            "`chmod -R a+rX /opt/venv`).",
            key=("user-site", site),
        )


# ---- SL203 unwritable-home ------------------------------------------------------------------


@check("SL203")
def unwritable_home(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    workdir = ctx.image.config.workdir
    for group in groups_of(identities(ctx)):
        ident = group[0]
        targets: dict[str, list[str]] = {}  # one finding when HOME is the WorkingDir
        if ident.home is not None:
            targets.setdefault(ident.home or "/", []).append("HOME")
        if workdir:
            targets.setdefault(workdir, []).append("WorkingDir")
        for path, whats in targets.items():
            label = " and ".join(whats)
            acc = perms.write(ident, path)
            if acc.allowed:
                continue
            if not acc.exists:
                if "WorkingDir" in whats:
                    problem = (f"WorkingDir {path} does not exist: the runtime creates it owned by "
                               "root, so only root can write there")
                    if ident.uid == 0:
                        continue
                else:
                    problem = f"HOME={path} does not exist"
            elif len(whats) > 1:
                problem = f"HOME and WorkingDir {path} is not writable: {acc.reason()}"
            else:
                problem = f"{label} {path} is not writable: {acc.reason()}"
            state = "missing" if not acc.exists else "not writable"
            yield finding(
                "SL203", "medium",
                f"{ident.name}: {label} {path} is {state}",
                f"For {describe(ident)}, {problem}. Programs that write to HOME or the working "
                "directory (pip caches, ~/.cache, ~/.config, matplotlib, .pyc of the app, log and "
                "pid files) fail or fall back silently.",
                {**identity_evidence(group), "paths": [path], "what": whats,
                 "access": acc.evidence()},
                f"Create the directory and give the runtime identity write access; for arbitrary "
                f"UIDs (group 0): `mkdir -p {path} && {GROUP0_FIX.format(d=path)}`"
                + (f", and set `ENV HOME={path}`" if "HOME" in whats else "") + ".",
                key=(label, path, ident.name),
            )


# ---- SL204 writable-import-path -------------------------------------------------------------


@dataclass(frozen=True)
class Writer:
    who: str  # "any user (world-writable)" | "group N" | "owner uid N" | "acl user:N" ...
    severity: str


@dataclass(frozen=True)
class RuntimeIds:
    """The uids and gids whose write access is not injection: root's, and those of every
    runtime identity (image user, arbitrary UID, ``--user``), supplementary groups included.
    Group 0 is root's group and the arbitrary UID's primary group: ``chgrp -R 0 && chmod -R g=u``
    gives the runtime user its own access, as OpenShift intends (reference §6)."""

    uids: frozenset[int]
    gids: frozenset[int]

    @classmethod
    def of(cls, idents: list[Identity]) -> RuntimeIds:
        uids = {0, *(i.uid for i in idents)}
        gids = {0, *(i.gid for i in idents), *(g for i in idents for g in i.groups)}
        return cls(frozenset(uids), frozenset(gids))


def _writers(node: Node, ids: RuntimeIds) -> list[Writer]:
    """Who besides root and the runtime identities may change ``node``."""
    out: list[Writer] = []
    e = node.entry
    if e.kind == "symlink":
        return out
    mode = e.mode
    if mode & 0o002:
        out.append(Writer("any user (world-writable)", "high"))
    else:  # (a world-writable path needs no owner or group story)
        if mode & 0o020 and e.gid not in ids.gids:
            out.append(Writer(f"group {e.gid}", "high"))
        if mode & 0o200 and e.uid not in ids.uids:
            out.append(Writer(f"owner uid {e.uid}", "high"))
    acl = acl_of(e)
    if acl:
        mask = next((a.perms for a in acl if a.tag == "mask"), 7)
        for a in acl:
            if a.tag in ("user", "group") and a.perms & mask & 2:
                if a.qualifier in (ids.uids if a.tag == "user" else ids.gids):
                    continue
                out.append(Writer(f"acl {a.tag}:{a.qualifier}", "high"))
    return out


def _walk_below(fs: Filesystem, top: str, stops: set[str]) -> Iterator[Node]:
    """Every node under ``top`` (exclusive), not descending into other import dirs: a nested
    one (site-packages inside the stdlib dir) gets its own finding."""
    stack = [top]
    while stack:
        d = stack.pop()
        for name in fs.listdir(d, follow=False):
            p = d.rstrip("/") + "/" + name
            node = fs.get(p)
            if node is None or p in stops:
                continue
            yield node
            if node.kind == "dir":
                stack.append(p)


def _ancestors(path: str) -> list[str]:
    out = []
    cur = posixpath.dirname(path)
    while True:
        out.append(cur)
        if cur == "/":
            break
        cur = posixpath.dirname(cur)
    return out


@check("SL204")
def writable_import_path(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    img = image_user(ctx)
    image_uid = img.uid if img else None
    ids = RuntimeIds.of(identities(ctx))
    # every existing import dir, with whether it is the application's own dir
    dirs: dict[str, tuple[bool, list[str]]] = {}
    for env in _envs(ctx):
        for entries in env.sys_path.values():
            for e in entries:
                if not e.exists:
                    continue
                real = fs.resolve(e.path)
                if real is None:
                    continue
                app = e.origin in APP_ORIGINS
                old = dirs.get(real)
                interp = old[1] if old else []
                if env.executable not in interp:
                    interp.append(env.executable)
                dirs[real] = ((old[0] and app) if old else app, interp)
    reported_ancestors: set[str] = set()
    reported: set[str] = set()  # nested import dirs (lib-dynload in the stdlib) count once
    for top, (app, interps) in sorted(dirs.items()):
        hits: list[tuple[str, Node, Writer]] = []
        # The dir's ancestors: a writable parent lets anyone rename it and plant a replacement.
        for anc in _ancestors(top):
            node = fs.get(anc)
            if node is None or anc in reported_ancestors or anc in dirs:
                continue  # an ancestor that is an import dir itself has its own finding
            if node.entry.mode & 0o1000:
                continue  # sticky: only the owner of a child may rename it
            for w in _writers(node, ids):
                hits.append(("ancestor", node, w))
                reported_ancestors.add(anc)
        node = fs.get(top)
        if node is not None:
            for w in _writers(node, ids):
                hits.append(("dir", node, w))
        if not app:
            # Installed code: every file and directory below matters (.py, .pth, __pycache__).
            for sub in _walk_below(fs, top, set(dirs)):
                if sub.path in reported:
                    continue
                reported.add(sub.path)
                for w in _writers(sub, ids):
                    hits.append(("content", sub, w))
        if hits:
            yield from _sl204(top, app, interps, hits, image_uid, ids)


def _sl204_fix(who: str, top: str, first: str) -> str:
    where = top if top == first else f"{top} (and {first})"
    if who.startswith("group "):
        how = (f"`chgrp -R 0 {where}` if the runtime user should write there (arbitrary UIDs run "
               f"in group 0), else `chmod -R g-w {where}`")
    elif who.startswith("owner uid "):
        how = f"`chown -R 0:0 {where}` (or to the runtime user, if it should write there)"
    elif who.startswith("acl "):
        how = f"drop the ACL entry: `setfacl -R -x {who[4:]} {where}`"
    else:
        how = f"`chmod -R o-w {where}`"
    return (
        f"Installed code should be writable only by root and the runtime user: {how}. Give "
        f"write access to data directories only (`{GROUP0_FIX.format(d='/path/to/data')}` "
        "for arbitrary UIDs)."
    )


def _sl204(top: str, app: bool, interps: list[str], hits: list[tuple[str, Node, Writer]],
           image_uid: int | None, ids: RuntimeIds) -> Iterator[Finding]:
    by_writer: dict[str, list[tuple[str, Node, Writer]]] = {}
    for h in hits:
        by_writer.setdefault(h[2].who, []).append(h)
    for who, items in by_writer.items():
        sev = items[0][2].severity
        special = [n.path for _, n, _ in items if n.path.endswith(".pth")
                   or posixpath.basename(n.path) in ("__pycache__", "sitecustomize.py",
                                                     "usercustomize.py")]
        examples = [{"path": n.path, "where": where, "kind": n.kind, "mode": mode_str(n.mode),
                     "owner": f"{n.uid}:{n.gid}"} for where, n, _ in items[:MAX_EXAMPLES]]
        first = items[0][1]
        why = (
            "Whoever can write there can plant a module that shadows an installed one, a `.pth` "
            "file (executed at every interpreter start), `sitecustomize.py`, or a sourceless "
            "`.pyc`/poisoned `__pycache__` entry, and the code runs in every Python process of "
            "the container."
        )
        fix = _sl204_fix(who, top, first.path)
        yield finding(
            "SL204", sev,
            f"import path {top} is writable by {who}",
            f"{len(items)} path(s) on or above the import path {top} are writable by {who}, e.g. "
            f"{first.path} (mode {mode_str(first.mode)}, owner {first.uid}:{first.gid})"
            + (f", including {', '.join(special[:3])}" if special else "") + ". " + why,
            {"identity": "a uid/gid that is neither root nor a runtime identity", "writer": who,
             "paths": [top], "interpreter": interps[0], "interpreters": interps,
             "writable": examples, "count": len(items), "image_uid": image_uid,
             "runtime_uids": sorted(ids.uids), "runtime_gids": sorted(ids.gids), "app_dir": app},
            fix,
            key=("writable", top, who),
        )


# ---- SL205 interpreter-not-executable ---------------------------------------------------------


@check("SL205")
def interpreter_not_executable(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    targets: list[tuple[str, str]] = []
    ep = ctx.inventory.entrypoint
    if ep is not None and ep.interpreter:
        targets.append((ep.interpreter, "the entrypoint's interpreter"))
    for env in _envs(ctx):
        if env.kind in ("venv", "conda") and env.executable not in (t for t, _ in targets):
            targets.append((env.executable, f"the {env.kind} python"))
    for env in _envs(ctx):
        if env.venv is not None and env.venv.cfg_path:
            yield from _unreadable_cfg(ctx, env)
    for path, role in targets:
        for group in groups_of(identities(ctx)):
            ident = group[0]
            acc = perms.execute(ident, path)
            if acc.allowed or ctx.fs.resolve(path) is None:
                continue  # a missing or dangling interpreter is another rule's business
            culprit = acc.denied_by.path if acc.denied_by else path
            yield finding(
                "SL205", "critical",
                f"{ident.name} cannot execute {path}",
                f"{role.capitalize()} {path} cannot be executed by {describe(ident)}: "
                f"{acc.reason()}. The container fails to start (or the venv cannot be used) "
                "with 'Permission denied' for this identity.",
                {**identity_evidence(group), "interpreter": path, "paths": [path],
                 "access": acc.evidence()},
                "Make the interpreter and every directory above it searchable by the runtime "
                f"identity: e.g. `chmod 0755 {culprit}`; for a "
                "venv created by a build user, `chmod -R a+rX` it or create it as root.",
                key=("exec", path, ident.name),
            )


def _unreadable_cfg(ctx: Context, env: Environment) -> Iterator[Finding]:
    """A pyvenv.cfg the identity can stat but not read kills the venv's python at start-up:
    ``site.venv()`` opens it once ``isfile`` says it exists, and the PermissionError is fatal
    ("Fatal Python error: init_import_site", seen on CPython 3.11)."""
    assert env.venv is not None
    perms = engine(ctx)
    cfg = env.venv.cfg_path
    for group in groups_of(identities(ctx)):
        ident = group[0]
        if not perms.stat(ident, cfg).allowed:
            continue  # not even visible: getpath and site do not see a venv (SL201 covers it)
        acc = perms.read(ident, cfg)
        if acc.allowed:
            continue
        yield finding(
            "SL205", "critical",
            f"{ident.name} cannot start {env.executable}: {cfg} is unreadable",
            f"{describe(ident)} can see but not read {cfg} ({acc.reason()}). Python's site "
            f"module opens it at start-up, so {env.executable} aborts with \"Fatal Python error: "
            "init_import_site\" / PermissionError for this identity, before any user code runs.",
            {**identity_evidence(group), "interpreter": env.executable, "paths": [cfg],
             "access": acc.evidence()},
            f"Make it world-readable: `chmod 0644 {cfg}` (pyvenv.cfg holds no secret), e.g. "
            f"`chmod -R a+rX {env.venv.prefix}` after creating the venv.",
            key=("pyvenv.cfg", cfg, ident.name),
        )


# ---- SL206 runs-as-root ---------------------------------------------------------------------


@check("SL206")
def runs_as_root(ctx: Context) -> Iterator[Finding]:
    img = image_user(ctx)
    user = ctx.image.config.user
    if img is None or img.uid != 0:
        return
    how = "sets no User" if not user else f"sets User {user!r}, which is uid 0"
    yield finding(
        "SL206", "info",
        "the image runs as root",
        f"The image config {how}: Python and everything it imports run as root unless the "
        "runtime overrides the user (Kubernetes runAsNonRoot refuses such an image).",
        {"identity": "image-user", "uid": 0, "user": user},
        "Add a non-root user and switch to it at the end of the Dockerfile "
        "(`RUN useradd -u 1001 -g 0 -d /app app` ... `USER 1001`), with numeric uid so "
        "runAsNonRoot can verify it.",
        key=("root",),
    )


# ---- SL207 setuid-file ----------------------------------------------------------------------


@check("SL207")
def setuid_files(ctx: Context) -> Iterator[Finding]:
    for node in ctx.fs.nodes():
        e = node.entry
        caps = bool(e.xattrs and CAPABILITY_XATTR in e.xattrs) and e.kind in ("file", "hardlink")
        if not is_setid(e) and not caps:
            continue
        bits = [b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if e.mode & m]
        if caps:
            bits.append("file capabilities")
        what = " and ".join(bits)
        yield finding(
            "SL207", "low",
            f"{what} file {node.path}",
            f"{node.path} (mode {mode_str(e.mode)}, owner {e.uid}:{e.gid}, layer {node.layer}) is "
            f"{what}: running it raises privileges"
            + (f" to uid {e.uid}" if e.mode & 0o4000 else "")
            + (f" / gid {e.gid}" if e.mode & 0o2000 else "") + ".",
            {"paths": [node.path], "layers": [node.layer], "mode": mode_str(e.mode),
             "owner": f"{e.uid}:{e.gid}", "bits": bits},
            f"If the container does not need it, drop the bit in the Dockerfile: "
            f"`RUN chmod u-s,g-s {node.path}`"
            + (f" / `setcap -r {node.path}`" if caps else "")
            + " (or remove the package), and run with `--security-opt no-new-privileges`.",
            key=("setid", node.path),
        )
