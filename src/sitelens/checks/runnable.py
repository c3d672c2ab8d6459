"""SL205: can each runtime identity run the interpreter and read its ``pyvenv.cfg``?"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from .base import Context, check
from .helpers import describe, engine, groups_of, identities, identity_evidence

if TYPE_CHECKING:
    from ..inventory.model import Environment


# ---- SL205 interpreter-not-executable ---------------------------------------------------------


@check("SL205")
def interpreter_not_executable(ctx: Context) -> Iterator[Finding]:
    perms = engine(ctx)
    targets: list[tuple[str, str]] = []
    ep = ctx.inventory.entrypoint
    if ep is not None and ep.interpreter:
        targets.append((ep.interpreter, "the entrypoint's interpreter"))
    for env in ctx.inventory.environments:
        if env.kind in ("venv", "conda") and env.executable not in (t for t, _ in targets):
            targets.append((env.executable, f"the {env.kind} python"))
    for env in ctx.inventory.environments:
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
                "SL205", f"{ident.name} cannot execute {path}",
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
            "SL205", f"{ident.name} cannot start {env.executable}: {cfg} is unreadable",
            f"{describe(ident)} can see but not read {cfg} ({acc.reason()}). Python's site "
            f"module opens it at start-up, so {env.executable} aborts with \"Fatal Python error: "
            "init_import_site\" / PermissionError for this identity, before any user code runs.",
            {**identity_evidence(group), "interpreter": env.executable, "paths": [cfg],
             "access": acc.evidence()},
            f"Make it world-readable: `chmod 0644 {cfg}` (pyvenv.cfg holds no secret), e.g. "
            f"`chmod -R a+rX {env.venv.prefix}` after creating the venv.",
            key=("pyvenv.cfg", cfg, ident.name),
        )
