"""Venvs and scripts that point at interpreters the image does not have: SL110, SL111, SL112.

Venvs are found both from the inventory and from every ``pyvenv.cfg`` the index captured, so a
venv whose interpreter is gone (and which the inventory may therefore not model as an
environment) is still examined.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from ..findings import Finding, finding
from ..fs import Filesystem
from .base import Context, check
from .helpers import layer_label, listed, remedy

_PYVER = re.compile(r"python(\d+\.\d+)")
_SITE = re.compile(r"/(?:lib|lib64)/python(\d+\.\d+)/(?:site|dist)-packages$")


def _major_minor(v: str | None) -> str | None:
    m = re.match(r"^(\d+)\.(\d+)", v or "")
    return f"{m.group(1)}.{m.group(2)}" if m else None


def interpreter_versions(ctx: Context) -> set[str]:
    """Every CPython X.Y the image can run (see :attr:`Derived.interpreter_versions`)."""
    return ctx.derived.interpreter_versions


def _is_python_file(fs: Filesystem, path: str) -> bool:
    node = fs.lookup(path)
    return node is not None and node.kind in ("file", "hardlink")


# ---- SL110 broken-venv -------------------------------------------------------------------------

SL110_FIX = {
    "multi-stage": "The venv was built against another interpreter ({home}). Build it in a stage "
    "whose Python is the same as the final image's (same path and X.Y), or create "
    "the venv in the final image.",
    "default": "Recreate the venv in this image with its own interpreter "
    "(`python3 -m venv --clear {prefix}` then reinstall), or install Python {version} "
    "at {home}.",
}


@check("SL110")
def broken_venv(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    for prefix, cfg in sorted(ctx.inventory.venv_configs.items()):
        cfg_path = cfg.cfg_path
        home = cfg.home
        version = _major_minor(cfg.version)
        problems: list[str] = []
        if home:
            real_home = fs.resolve(home)
            if real_home is None:
                problems.append(f"home {home} does not exist")
            elif not any(
                n.startswith("python") and _is_python_file(fs, posixpath.join(real_home, n))
                for n in fs.listdir(real_home)
            ):
                problems.append(f"home {home} holds no python executable")
        else:
            problems.append("pyvenv.cfg has no home key")
        exe_version: str | None = None
        links = [posixpath.join(prefix, "bin", n) for n in ("python", "python3")]
        if version:
            links.append(posixpath.join(prefix, "bin", f"python{version}"))
        present = [p for p in links if fs.get(p) is not None]
        if not present:
            problems.append(f"{prefix}/bin/python is missing")
        for p in present:
            node = fs.get(p)
            real = fs.resolve(p)
            if real is None:
                target = node.entry.link if node is not None else None
                problems.append(f"{p} -> {target} dangles")
                continue
            m = _PYVER.search(posixpath.basename(real))
            if m and exe_version is None:
                exe_version = m.group(1)
        if version and exe_version and version != exe_version:
            problems.append(
                f"pyvenv.cfg says version {cfg.version} "
                f"but bin/python runs Python {exe_version}"
            )
        if not problems:
            continue
        node = fs.get(cfg_path)
        layer = node.layer if node is not None else None
        yield finding(
            "SL110",
            f"venv {prefix} is broken",
            f"The venv {prefix} ({cfg_path}, {layer_label(ctx, layer)}) cannot start: "
            + "; ".join(problems)
            + ". Anything run with its python or its scripts fails "
            "before importing a single module.",
            {
                "paths": [cfg_path, *present],
                "layers": [layer],
                "versions": [version, exe_version],
                "interpreter": home,
            },
            remedy(
                ctx,
                {k: t.format(home=home, prefix=prefix, version=version or "?") for k, t in SL110_FIX.items()},
            ),
            key=(prefix,),
        )


# ---- SL111 stale-shebang ----------------------------------------------------------------------

SL111_FIX = {
    "multi-stage": "The scripts were written by pip in a build stage where the venv lived at "
    "another path. Create the venv at the same path in the build stage as in the "
    "final image (e.g. /opt/venv in both) before copying it.",
    "default": "Reinstall the scripts' distributions with the interpreter that will run them "
    "(pip install --force-reinstall), or create the venv at its final path.",
}


@check("SL111")
def stale_shebang(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    path_dirs = ctx.image.config.path_env if ctx.image is not None else ["/usr/local/bin", "/usr/bin", "/bin"]
    missing: dict[str, list[tuple[str, int]]] = {}
    for script in ctx.inventory.scripts:
        interp, args = script.interpreter, script.argument.split()
        name = posixpath.basename(interp)
        if name == "env":
            rest = [a for a in args if not a.startswith("-") and "=" not in a]
            if not rest or not rest[0].startswith(("python", "pypy")):
                continue
            target = rest[0]
            if any(_is_python_file(fs, posixpath.join(d, target)) for d in path_dirs):
                continue
            label = f"{target} (via /usr/bin/env on PATH)"
        else:
            if not name.startswith(("python", "pypy")):
                continue
            if _is_python_file(fs, interp):
                continue
            label = interp
        missing.setdefault(label, []).append((script.path, script.layer))
    for interp, scripts in sorted(missing.items()):
        scripts.sort()
        paths = [p for p, _ in scripts]
        layers = sorted({layer for _, layer in scripts})
        yield finding(
            "SL111",
            f"{len(paths)} script(s) run a missing interpreter {interp}",
            f"{listed(paths, 6)} start with #!{interp.split(' ')[0]}, which does not exist in the "
            f"image ({', '.join(layer_label(ctx, layer) for layer in layers)}): running them fails "
            f"with 'No such file or directory' (bad interpreter).",
            {"paths": paths, "layers": layers, "interpreter": interp},
            remedy(ctx, SL111_FIX),
            key=(interp,),
        )


# ---- SL112 dead-site-packages ------------------------------------------------------------------

SL112_FIX = {
    "multi-stage": "The copied tree was built for Python {version}: build it in a stage with the "
    "final image's Python, or copy the matching interpreter too; otherwise drop "
    "{site} from the image.",
    "default": "Nothing in the image can import {site}: install those distributions for the "
    "image's Python ({have}) or remove the directory.",
}


@check("SL112")
def dead_site_packages(ctx: Context) -> Iterator[Finding]:
    fs = ctx.fs
    have = interpreter_versions(ctx)
    candidates: set[str] = set(posixpath.normpath(p) for p in ctx.inventory.site_dirs)
    for node in fs.nodes():
        if node.kind == "dir" and _SITE.search(node.entry.path):
            candidates.add(node.entry.path)
    for site in sorted(candidates):
        m = _SITE.search(site) or _PYVER.search(site)
        if m is None or m.group(1) in have:
            continue
        kids = fs.listdir(site)
        dists = [k for k in kids if k.endswith((".dist-info", ".egg-info"))]
        if not dists and not any(k.endswith(".py") or "." not in k for k in kids):
            continue
        size = 0
        layers: set[int] = set()
        real = fs.resolve(site)
        for n in fs.walk(real) if real else []:
            size += n.size if n.kind == "file" else 0
            if n.kind == "file":
                layers.add(n.layer)
        yield finding(
            "SL112",
            f"{site} is for Python {m.group(1)}, which the image does not have",
            f"{site} holds {len(dists)} distribution(s) ({listed(sorted(dists), 5)}; {size} bytes, "
            f"{', '.join(layer_label(ctx, layer) for layer in sorted(layers)) or 'no files'}) for "
            f"Python {m.group(1)}, but the image only has Python "
            f"{', '.join(sorted(have)) or 'none'}: nothing imports them.",
            {"paths": [site], "layers": sorted(layers), "bytes": size, "versions": sorted(have)},
            remedy(
                ctx,
                {
                    k: t.format(version=m.group(1), site=site, have=", ".join(sorted(have)))
                    for k, t in SL112_FIX.items()
                },
            ),
            key=(site,),
        )
