"""SL201: can each runtime identity read the dirs and files its import path holds?

Every answer comes from the permission engine (``sitelens.permissions``) on the merged
filesystem, per identity (image-user, arbitrary-uid, root, ``--user``). Evidence names the
identity, the first path component that denies, its mode and owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from ..permissions import Access, Cred, mode_str
from .base import Context, check
from .helpers import (
    GROUP0_FIX,
    MAX_EXAMPLES,
    cannot_start,
    describe,
    engine,
    groups_of,
    identities,
    identity_evidence,
    sys_path_for,
)

if TYPE_CHECKING:
    from ..fs import Node
    from ..inventory.model import Environment, Identity


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


# links are judged where they point; device nodes and fifos are not imported
_NOT_OPENED = frozenset(("symlink", "char", "block", "fifo"))


def _unreadable_below(ctx: Context, top: str, cred: Cred) -> tuple[list[Node], int]:
    """Files under a listable import dir that ``cred`` cannot read, and dirs it cannot list.

    Descends only into directories it can list (a denied dir hides everything under it, and it
    is reported itself). Returns (examples, total count).
    """
    allows = engine(ctx).allows
    fs = ctx.fs
    real = fs.resolve(top)
    bad: list[Node] = []
    count = 0
    if real is None:
        return bad, 0
    stack = [real]
    while stack:
        for node in fs.children(stack.pop()):
            kind = node.entry.kind
            if kind in _NOT_OPENED:
                continue
            is_dir = kind == "dir"
            if allows(node, cred, 5 if is_dir else 4) is not None:
                count += 1
                if len(bad) < MAX_EXAMPLES:
                    bad.append(node)
            elif is_dir:
                stack.append(node.entry.path)
    return bad, count


@check("SL201")
def unreadable_import_path(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    # (kind, dir, identities) -> (group, access or unreadable nodes, count, interpreters)
    found: dict[tuple[str, str, tuple[str, ...]], tuple[list[Identity], object, int, list[str]]]
    found = {}
    clean: set[tuple[str, tuple[str, ...]]] = set()
    for env in ctx.inventory.environments:
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
        "SL201", f"{ident.name} cannot use import path directory {path}",
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
        "SL201", f"{ident.name} cannot read {count} installed path(s) under {path}",
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
