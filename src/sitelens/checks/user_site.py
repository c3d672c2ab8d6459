"""SL202, SL203: can each runtime identity reach its user site and write its HOME?"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, finding
from .base import Context, check
from .helpers import GROUP0_FIX, describe, engine, groups_of, identities, identity_evidence, image_user

if TYPE_CHECKING:
    from ..inventory.model import Identity


# ---- SL202 unreachable-user-site ----------------------------------------------------------------

_USER_SITE = re.compile(r"^(?P<base>/.*)/lib/python(?P<ver>\d+\.\d+)/site-packages$")
_DIST_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth", ".py")


def _user_sites(ctx: Context) -> list[tuple[str, str, str, list[str]]]:
    """(site dir, user base, version, distributions) for user sites holding something."""
    userbase = ctx.image.config.env.get("PYTHONUSERBASE") or None
    out = []
    for node in ctx.fs.nodes():
        if node.entry.kind != "dir" or not node.entry.path.endswith("/site-packages"):
            continue  # the regex only for the dirs it can match
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
    ep = ctx.inventory.entrypoint
    flags = set(ep.flags) if ep is not None else set()
    # -E and -I make the interpreter ignore PYTHONNOUSERSITE (seen with the real interpreter)
    disabled = bool(env.get("PYTHONNOUSERSITE")) and not flags & {"-E", "-I"}
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
            "SL202", f"user site {site} is not used by {who}",
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
                "SL203", f"{ident.name}: {label} {path} is {state}",
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
