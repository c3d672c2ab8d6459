"""Helpers the permission checks share: the engine per context, identity groups, app dirs.

Identities that share credentials and HOME get the same answer from the kernel, so a finding is
built once per group and names every identity in it (``identity`` is the first, ``identities``
all of them), instead of repeating the same fact for ``image-user`` and ``root``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..permissions import Permissions
from ..permissions import engine as fs_engine

if TYPE_CHECKING:
    from ..inventory.model import Environment, Identity, PathEntry
    from .base import Context

APP_ORIGINS = ("script-dir", "pythonpath")  # the application's own code dirs, not installs


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
