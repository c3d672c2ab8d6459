"""What the check tests share: contexts over small real layer tars and hand-built inventories."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, build
from sitelens.checks.base import Context
from sitelens.fs import Filesystem
from sitelens.image import ImageConfig
from sitelens.inventory.identities import resolve_identities
from sitelens.inventory.model import Distribution, Environment, Interpreter, Inventory, PathEntry
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from tests.helpers import fs_from_spec, image_from_built

LOCAL = "/usr/local/lib/python3.12/site-packages"
LIB64 = "/usr/lib64/python3.12/site-packages"


def ctx_for(layers: list[LayerSpec], inv: Inventory, **opts: object) -> Context:
    image = image_from_built(build(ImageSpec(layers=layers), None))
    indexes = load_indexes(image, LayerCache(None, enabled=False))
    fs = Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])
    return Context(fs, inv, image, indexes, dict(opts))


def dist(
    name: str,
    version: str,
    site: str,
    installer: str = "pip",
    layer: int = 1,
    requires: list[str] | None = None,
    owner: str | None = None,
) -> Distribution:
    return Distribution(
        name=name,
        raw_name=name,
        version=version,
        metadata_path=f"{site}/{name}-{version}.dist-info",
        kind="dist-info",
        site_dir=site,
        installer=installer,
        owner_package=owner,
        layer=layer,
        requires=requires or [],
    )


def fedora_env(dists: list[Distribution]) -> Environment:
    interp = Interpreter(
        "/usr/bin/python3.12", "/usr/bin/python3.12", "3.12", "fedora", "/usr", "/usr", platlibdir="lib64"
    )
    path = [PathEntry(LOCAL, "site", site_dir=True), PathEntry(LIB64, "site", site_dir=True)]
    return Environment(
        "/usr/bin/python3.12",
        "system",
        interp,
        "/usr",
        sys_path={"image-user": path, "arbitrary-uid": list(path)},
        distributions=dists,
    )


# ---- the permission rules on a one-layer image ------------------------------------------

SITE = "/usr/local/lib/python3.11/site-packages"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\napp:x:1001:1001::/home/app:/bin/sh\n"


def run_rules(entries, config: ImageConfig, sys_path=None, rules=None, identities=True,  # type: ignore[no-untyped-def]
              entrypoint=None):
    """Every registered check of ``rules`` on a one-layer image of ``entries`` with /etc/passwd."""
    import sitelens.checks  # noqa: F401
    from sitelens.checks.base import REGISTRY, Context
    from sitelens.image import Image

    fs = fs_from_spec(ImageSpec([LayerSpec([File("/etc/passwd", PASSWD), *entries])]))
    idents = resolve_identities(fs, config) if identities else []
    interp = Interpreter("/usr/local/bin/python3", "/usr/local/bin/python3.11", "3.11",
                         "upstream", "/usr/local", "/usr/local")
    env = Environment("/usr/local/bin/python3", "system", interp, "/usr/local")
    for i in idents or resolve_identities(fs, config):
        env.sys_path[i.name] = [PathEntry(p, origin, True, origin == "site")
                                for p, origin in (sys_path or [(SITE, "site")])]
    inv = Inventory(identities=idents, interpreters=[interp], environments=[env], entrypoint=entrypoint)
    ctx = Context(fs, inv, Image("t", None, config, []), [])
    out = []
    for rc in REGISTRY:
        if rules is None or set(rc.rules) & rules:
            out.extend(rc.fn(ctx))
    return out


def site_entries(mode: int = 0o755, gid: int = 0, **kw):  # type: ignore[no-untyped-def]
    return [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, mode, 0, gid),
            File(f"{SITE}/mod.py", b"x = 1\n", kw.get("file_mode", 0o644), 0, kw.get("file_gid", 0),
                 pax=kw.get("pax"))]

