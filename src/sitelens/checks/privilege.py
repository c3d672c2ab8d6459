"""SL206, SL207: does the image run as root, and which files carry setuid/setgid or capabilities?"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, finding
from ..permissions import CAPABILITY_XATTR, is_setid, mode_str
from .base import Context, check
from .helpers import image_user


@check("SL206")
def runs_as_root(ctx: Context) -> Iterator[Finding]:
    img = image_user(ctx)
    user = ctx.image.config.user
    if img is None or img.uid != 0:
        return
    how = "sets no User" if not user else f"sets User {user!r}, which is uid 0"
    yield finding(
        "SL206", "the image runs as root",
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
        if not e.mode & 0o6000 and not e.xattrs:
            continue  # neither bit nor capabilities: nearly every file, decided without a call
        caps = bool(e.xattrs and CAPABILITY_XATTR in e.xattrs) and e.kind in ("file", "hardlink")
        if not is_setid(e) and not caps:
            continue
        bits = [b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if e.mode & m]
        if caps:
            bits.append("file capabilities")
        what = " and ".join(bits)
        yield finding(
            "SL207", f"{what} file {node.path}",
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
