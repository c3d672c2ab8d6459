"""Extension modules built for another CPython or libc than the interpreter that imports them: SL113.

Two independent signals, both read from names and captured metadata only:
- the extension's filename tag (``foo.cpython-39-x86_64-linux-gnu.so``): CPython 3.11 only loads
  ``cpython-311`` (and ``abi3``) suffixes, so a ``cpython-39`` module is invisible to it and the
  import fails or silently falls back to a slow pure-Python path; ``-linux-musl`` vs
  ``-linux-gnu`` and the architecture tell the libc and machine;
- the wheel's ``Tag:`` lines in ``WHEEL`` (``musllinux_1_1`` vs ``manylinux``) against the C
  library the image actually has (``/lib/ld-musl-*`` vs glibc's loader).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from ..findings import Finding, finding
from ..inventory.model import Distribution, Environment
from .base import Context, check
from .helpers import env_label, installer_label, layer_label, listed, norm, owner_label, remedy

_EXT = re.compile(r"\.cpython-(\d)(\d+)([a-z]*)-([a-z0-9_]+)-linux-(gnu|musl)[a-z]*\.so$")
_ARCH = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "386": "i386",
    "ppc64le": "powerpc64le",
    "s390x": "s390x",
    "arm": "arm",
    "riscv64": "riscv64",
}


def image_libc(ctx: Context) -> str | None:
    """``musl``, ``glibc``, or None when neither loader is present."""
    fs = ctx.fs
    musl = glibc = False
    for d in ("/lib", "/usr/lib", "/lib64", "/usr/lib64"):
        for n in fs.listdir(d):
            if n.startswith("ld-musl-"):
                musl = True
            if n.startswith(("ld-linux", "ld64.so")):
                glibc = True
    if not glibc:
        for d in (
            "/lib/x86_64-linux-gnu",
            "/lib/aarch64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
        ):
            if any(n.startswith("libc.so.6") for n in fs.listdir(d)):
                glibc = True
    if glibc and not musl:
        return "glibc"
    if musl and not glibc:
        return "musl"
    return None


SL113_FIX = {
    "venv": "Reinstall {name} in the venv with the image's own interpreter (`pip install "
    "--force-reinstall {name}`) so pip picks the wheel for Python {version} / {libc}.",
    "multi-stage": "The build stage ran another Python or libc than the final image: build the "
    "wheels/venv in a stage FROM the same base (same Python X.Y, same libc).",
    "default": "Reinstall {name} with the interpreter that imports it (`python{version} -m pip "
    "install --force-reinstall {name}`); never copy site-packages between images with "
    "different Python versions or libcs, or pass matching --python-version/--platform "
    "to pip download.",
}


@check("SL113")
def abi_mismatch(ctx: Context) -> Iterator[Finding]:
    libc = image_libc(ctx)
    arch = _ARCH.get(ctx.image.config.architecture if ctx.image is not None else "amd64")
    done: set[tuple[str, str]] = set()
    for env in ctx.inventory.environments:
        want = env.version.replace(".", "")
        sites = sorted({norm(e.path) for entries in env.sys_path.values() for e in entries if e.exists and e.site_dir})
        owners: dict[str, str] | None = None  # built for the first mismatch: most envs have none
        bad: dict[str, list[tuple[str, str]]] = {}  # owner key -> [(path, why)]
        for site in sites:
            real = ctx.fs.resolve(site)
            if real is None:
                continue
            for node in ctx.fs.walk(real):
                path = node.entry.path
                if not path.endswith(".so") or ".cpython-" not in path:
                    continue  # the regex only for the names it can match
                m = _EXT.search(path)
                if m is None or node.kind not in ("file", "hardlink"):
                    continue
                tag = m.group(1) + m.group(2)
                why = []
                if tag != want:
                    why.append(f"built for CPython {m.group(1)}.{m.group(2)}")
                ext_libc = "musl" if m.group(5) == "musl" else "glibc"
                if libc is not None and ext_libc != libc:
                    why.append(f"built for {ext_libc} on a {libc} image")
                if arch and m.group(4) != arch and not (arch == "i386" and m.group(4).startswith("i")):
                    why.append(f"built for {m.group(4)}")
                if why:
                    if owners is None:
                        owners = _record_owner_map(env)
                    bad.setdefault(owners.get(node.entry.path, "?" + site), []).append(
                        (node.entry.path, ", ".join(why))
                    )
        by_meta = {d.metadata_path: d for d in env.distributions}
        for d in env.distributions:
            tags = d.wheel_tags
            if not tags or libc is None:
                continue
            musl_tags = [t for t in tags if "musllinux" in t]
            gnu_tags = [t for t in tags if "manylinux" in t or t.endswith("linux_" + (arch or "x86_64"))]
            if libc == "glibc" and musl_tags and not gnu_tags:
                bad.setdefault(d.metadata_path, []).append(
                    (
                        posixpath.join(d.metadata_path, "WHEEL"),
                        f"wheel tag {musl_tags[0]} on a glibc image",
                    )
                )
            elif libc == "musl" and gnu_tags and not musl_tags:
                bad.setdefault(d.metadata_path, []).append(
                    (
                        posixpath.join(d.metadata_path, "WHEEL"),
                        f"wheel tag {gnu_tags[0]} on a musl image",
                    )
                )
        for owner, items in sorted(bad.items()):
            key = (env.version, owner)
            if key in done:
                continue
            done.add(key)
            dist = by_meta.get(owner)
            yield _sl113(ctx, env, dist, owner, items, libc)


def _record_owner_map(env: Environment) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in env.distributions:
        for r in d.record or []:
            out[norm(r.path)] = d.metadata_path
    return out


def _sl113(
    ctx: Context,
    env: Environment,
    dist: Distribution | None,
    owner: str,
    items: list[tuple[str, str]],
    libc: str | None,
) -> Finding:
    items = sorted(set(items))
    reasons = sorted({why for _, why in items})
    paths = [p for p, _ in items]
    if dist is not None:
        who = (
            f"{dist.raw_name or dist.name} {dist.version} ({dist.metadata_path}, "
            f"{installer_label(dist)}, {layer_label(ctx, dist.layer)})"
        )
        name = dist.name
    else:
        who = f"unowned files in {owner.lstrip('?')}"
        name = posixpath.basename(paths[0]).split(".")[0]
    node = ctx.fs.lookup(paths[0])
    return finding(
        "SL113",
        f"{name}: extension modules do not match Python {env.version}" + (f"/{libc}" if libc else ""),
        f"{who} ships {listed(paths, 4)}: {'; '.join(reasons)}. {env_label(env)} cannot load them: "
        f"the import fails, or the package silently falls back to a slower pure-Python path.",
        {
            "distribution": dist.name if dist else None,
            "versions": [dist.version] if dist else [],
            "paths": paths,
            "layers": [dist.layer if dist else (node.layer if node else None)],
            "owners": [owner_label(dist)] if dist else [],
            "interpreter": env.executable,
        },
        remedy(
            ctx,
            {k: t.format(name=name, version=env.version, libc=libc or "its libc") for k, t in SL113_FIX.items()},
        ),
        key=(env.version, dist.name if dist else owner),
    )
