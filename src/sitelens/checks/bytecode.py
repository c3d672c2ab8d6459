"""SL115 no-bytecode: modules ship without ``.pyc`` and the identity cannot write them.

CPython looks for ``__pycache__/NAME.cpython-3XY.pyc`` beside each source; when it is missing it
compiles the source and tries to write the cache (``w+x`` on ``__pycache__``, or on the package
dir to create it). If that write is denied the failure is silent, so every process start
recompiles every module it imports. Images that delete ``.pyc`` to save space and then run as a
non-root (or arbitrary) UID pay this on every start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from ..permissions import Cred, W, X
from .base import Context, check
from .helpers import (
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
    from ..inventory.model import Environment, Identity



def cache_tag(env: Environment) -> str | None:
    if env.interpreter.flavor == "pypy":
        return None  # PyPy's tag and layout differ; not judged
    major, _, minor = env.version.partition(".")
    if not major.isdigit() or not minor.isdigit():
        return None
    return f"cpython-{major}{minor}"


def _missing_pyc(ctx: Context, top: str, tag: str, ident: Identity,
                 never_written: bool) -> tuple[int, int, list[dict[str, object]]]:
    """(sources without bytecode that ``ident`` cannot cache, sources seen, example dirs)."""
    perms = engine(ctx)
    allows = perms.allows
    fs = ctx.fs
    cred = Cred.of(ident)
    real = fs.resolve(top)
    if real is None:
        return 0, 0, []
    suffix = f".{tag}.pyc"
    # The walk descends only into dirs ``cred`` may list (r+x), so every dir it reaches is
    # searchable on the way down from ``real``: when ``real`` itself is reachable, whether the
    # identity may write a dir it reached is that dir's bits alone.
    reachable = not never_written and perms.stat(ident, real).allowed
    missing = total = 0
    examples: list[dict[str, object]] = []
    stack = [real]
    while stack:
        d = stack.pop()
        node = fs.get(d)
        if node is None or allows(node, cred, 5) is not None:
            continue  # unlistable: SL201's business
        prefix = d.rstrip("/") + "/"
        cache = prefix + "__pycache__"
        cache_node = fs.get(cache)
        cached = {n.entry.path[len(cache) + 1:] for n in fs.children(cache)} if cache_node else set()
        lacking: list[str] = []
        for child in fs.children(d):
            e = child.entry
            kind = e.kind
            if kind == "dir":
                if e.path != cache:
                    stack.append(e.path)
                continue
            name = e.path[len(prefix):]
            if not name.endswith(".py") or kind not in ("file", "hardlink"):
                continue
            total += 1
            if name[:-3] + suffix not in cached:
                lacking.append(name)
        if not lacking:
            continue
        target, target_node = (cache, cache_node) if cache_node else (d, node)
        if reachable and target_node.entry.kind == "dir":
            # what perms.write(ident, target) answers, without walking from the root; its
            # Access (the evidence) only for the dirs an example names
            if allows(target_node, cred, W | X) is None:
                continue
            if len(examples) >= MAX_EXAMPLES:
                missing += len(lacking)
                continue
        acc = None if never_written else perms.write(ident, target)
        if acc is not None and acc.allowed:
            continue
        missing += len(lacking)
        if len(examples) < MAX_EXAMPLES:
            ex: dict[str, object] = {"dir": d, "sources": len(lacking)}
            if acc is not None:
                ex["access"] = acc.evidence()
            examples.append(ex)
    return missing, total, examples


@check("SL115")
def no_bytecode(ctx: Context) -> Iterator[Finding]:
    never = bool(ctx.image.config.env.get("PYTHONDONTWRITEBYTECODE"))
    # A venv imports the stdlib of its base interpreter: one walk per (dir, tag, identity) serves
    # every environment that has the dir on its path.
    walked: dict[tuple[str, str, str], tuple[int, int, list[dict[str, object]]]] = {}
    for env in ctx.inventory.environments:
        tag = cache_tag(env)
        if tag is None:
            continue
        for group in groups_of(identities(ctx)):
            ident = group[0]
            if ident.uid == 0 and not never:
                continue  # root can always write the cache
            if cannot_start(ctx, env, ident):
                continue  # SL205: nothing is imported at all
            missing = total = 0
            examples: list[dict[str, object]] = []
            seen: set[str] = set()
            for entry in sys_path_for(env, ident):
                real = ctx.fs.resolve(entry.path) if entry.exists else None
                if real is None or any(real == s or real.startswith(s + "/") for s in seen):
                    continue
                seen.add(real)
                key = (real, tag, ident.name)
                if key not in walked:
                    walked[key] = _missing_pyc(ctx, real, tag, ident, never)
                m, t, ex = walked[key]
                missing += m
                total += t
                examples.extend(ex[: MAX_EXAMPLES - len(examples)])
            if not missing:
                continue
            why = ("PYTHONDONTWRITEBYTECODE is set in the image config" if never
                   else f"{describe(ident)} cannot write the __pycache__ directories")
            yield finding(
                "SL115", f"{ident.name}: {missing} module(s) of {env.executable} have no bytecode",
                f"{missing} of {total} Python source file(s) on the import path of "
                f"{env.executable} have no {tag} .pyc and {why}: every start recompiles each of "
                "them it imports (slower start, more CPU), silently.",
                {**identity_evidence(group), "interpreter": env.executable,
                 "paths": [str(e["dir"]) for e in examples], "examples": examples,
                 "count": missing, "sources": total},
                "Ship the bytecode: run `python -m compileall -q <site-packages dirs>` as the last "
                "install step (pip does it by default; do not delete __pycache__ or pass "
                "--no-compile), or keep PYTHONDONTWRITEBYTECODE unset where caches can be written.",
                key=("no-bytecode", env.executable, ident.name),
            )
