"""SL204: who besides the runtime identities could change what Python imports?"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from ..permissions import acl_of, may_have_acl, mode_str
from .base import Context, check
from .helpers import APP_ORIGINS, GROUP0_FIX, MAX_EXAMPLES, identities, image_user

if TYPE_CHECKING:
    from ..fs import Filesystem, Node
    from ..inventory.model import Identity


# ---- SL204 writable-import-path -------------------------------------------------------------


@dataclass(frozen=True)
class Writer:
    who: str  # "any user (world-writable)" | "group N" | "owner uid N" | "acl user:N" ...


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
    if not mode & 0o022 and (not mode & 0o200 or e.uid in ids.uids) and not may_have_acl(e):
        return out  # writable by its owner at most, a runtime one (0644 root:root: nearly all)
    if mode & 0o002:
        out.append(Writer("any user (world-writable)"))
    else:  # (a world-writable path needs no owner or group story)
        if mode & 0o020 and e.gid not in ids.gids:
            out.append(Writer(f"group {e.gid}"))
        if mode & 0o200 and e.uid not in ids.uids:
            out.append(Writer(f"owner uid {e.uid}"))
    acl = acl_of(e) if may_have_acl(e) else None
    if acl:
        mask = next((a.perms for a in acl if a.tag == "mask"), 7)
        for a in acl:
            if a.tag in ("user", "group") and a.perms & mask & 2:
                if a.qualifier in (ids.uids if a.tag == "user" else ids.gids):
                    continue
                out.append(Writer(f"acl {a.tag}:{a.qualifier}"))
    return out


def _walk_below(fs: Filesystem, top: str, stops: set[str]) -> Iterator[Node]:
    """Every node under ``top`` (exclusive), not descending into other import dirs: a nested
    one (site-packages inside the stdlib dir) gets its own finding."""
    stack = [top]
    while stack:
        for node in fs.children(stack.pop()):
            p = node.entry.path
            if p in stops:
                continue
            yield node
            if node.entry.kind == "dir":
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
    for env in ctx.inventory.environments:
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
    stops = set(dirs)
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
            for sub in _walk_below(fs, top, stops):
                if sub.entry.path in reported:
                    continue
                reported.add(sub.entry.path)
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
            "SL204", f"import path {top} is writable by {who}",
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
