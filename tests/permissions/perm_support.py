"""Support for the permission tests: a real Debian root with planted modes and owners, the same
root as sitelens sees it (a layer tar indexed by the real indexer), and an oracle that runs the
root's own Python in a chroot as an identity, privileges dropped before exec."""

from __future__ import annotations

import json
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sitelens.fs import Filesystem
from sitelens.image import ImageConfig
from sitelens.inventory.model import Identity
from sitelens.layers.index import build_index

PY = "3.11"
SITE = f"lib/python{PY}/site-packages"
PYTHONPATH = "/opt/private:/opt/private2:/app:/opt/nopyc"
CONFIG = ImageConfig(
    user="app",
    env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": PYTHONPATH},
    workdir="/app",
    entrypoint=["/opt/venv/bin/python"],
    cmd=["/app/main.py"],
)
# module name -> the file that provides it
MODULES = {
    "venvmod": f"/opt/venv/{SITE}/venvmod.py",
    "venv2mod": f"/opt/venv2/{SITE}/venv2mod.py",
    "usermod": f"/root/.local/{SITE}/usermod.py",
    "buildmod": f"/home/app/.local/{SITE}/buildmod.py",
    "wwmod": f"/usr/local/lib/python{PY}/dist-packages/wwmod.py",
    "appmod": "/app/appmod.py",
    "privmod": "/opt/private/privmod.py",
    "xpkg": "/opt/private2/xpkg/__init__.py",
}
INTERPRETERS = ("/usr/bin/python3", "/opt/venv/bin/python", "/opt/venv2/bin/python")


def _w(path: Path, text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _chown_r(top: Path, uid: int, gid: int) -> None:
    os.chown(top, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            os.chown(os.path.join(dirpath, n), uid, gid, follow_symlinks=False)


def plant(root: Path) -> None:
    """The planted image: each pitfall the issue names, on a real Debian 12 root."""
    from fixtures.debian_root import run_in_root

    with open(root / "etc/passwd", "a") as fh:
        fh.write("app:x:1001:1001::/home/app:/bin/sh\n")
    with open(root / "etc/group", "a") as fh:
        fh.write("app:x:1001:\n")
    for venv in ("/opt/venv", "/opt/venv2"):
        proc = run_in_root(root, ["/usr/bin/python3", "-m", "venv", "--without-pip", venv])
        assert proc.returncode == 0, proc.stderr
    # a venv made by build uid 1001, mode 0700
    _w(root / f"opt/venv/{SITE}/venvmod.py", "X = 'venv'\n")
    _chown_r(root / "opt/venv", 1001, 1001)
    os.chmod(root / "opt/venv", 0o700)
    # a venv whose pyvenv.cfg only root can read
    _w(root / f"opt/venv2/{SITE}/venv2mod.py", "X = 'venv2'\n")
    os.chmod(root / "opt/venv2/pyvenv.cfg", 0o600)
    # pip install --user as root: /root is 0700
    _w(root / f"root/.local/{SITE}/usermod.py", "X = 'user'\n")
    _w(root / f"root/.local/{SITE}/usermod-1.0.dist-info/METADATA",
       "Metadata-Version: 2.1\nName: usermod\nVersion: 1.0\n")
    # pip install --user as build uid 1001 into its 0700 home
    home = root / "home/app"
    _w(home / SITE.replace("lib/", ".local/lib/", 1) / "buildmod.py", "X = 'build'\n")
    _w(home / SITE.replace("lib/", ".local/lib/", 1) / "buildmod-2.0.dist-info/METADATA",
       "Metadata-Version: 2.1\nName: buildmod\nVersion: 2.0\n")
    _chown_r(home, 1001, 1001)
    os.chmod(home, 0o700)
    # a world-writable site dir
    ww = root / f"usr/local/lib/python{PY}/dist-packages"
    _w(ww / "wwmod.py", "X = 'ww'\n")
    os.chmod(ww, 0o777)
    # the app dir built the OpenShift way: chgrp -R 0 && chmod -R g=u
    _w(root / "app/main.py", "import appmod\n", 0o644, 1001, 0)
    _w(root / "app/appmod.py", "X = 'app'\n", 0o644, 1001, 0)
    _w(root / "app/pyc_app.py", "X = 'pyc'\n", 0o644, 1001, 0)
    os.chown(root / "app", 1001, 0)
    for p in [root / "app", *(root / "app").iterdir()]:
        m = os.stat(p).st_mode & 0o777
        os.chmod(p, (m & ~0o070) | ((m >> 3) & 0o070))
    # a PYTHONPATH dir only root may read, and one whose package is search-only
    _w(root / "opt/private/privmod.py", "X = 'priv'\n")
    os.chmod(root / "opt/private", 0o750)
    _w(root / "opt/private2/xpkg/__init__.py", "X = 'x'\n")
    _w(root / "opt/private2/xpkg/sub.py", "X = 'sub'\n")
    os.chmod(root / "opt/private2/xpkg", 0o711)
    # a root-owned dir without bytecode
    _w(root / "opt/nopyc/pyc_no.py", "X = 'nopyc'\n")
    # setuid files beyond Debian's own
    _w(root / "usr/local/bin/suid-helper", "#!/bin/sh\n", 0o4755)


OS_APP = "/opt/app-root/src"
OS_CONFIG = ImageConfig(
    user="1001",
    env={"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "HOME": OS_APP},
    workdir=OS_APP,
    entrypoint=["/opt/venv/bin/python", f"{OS_APP}/app.py"],
)
OS_MODULES = {
    "osvenvmod": f"/opt/venv/{SITE}/osvenvmod.py",
    "oslocalmod": f"/usr/local/lib/python{PY}/dist-packages/oslocalmod.py",
}


def plant_openshift(root: Path) -> None:
    """An image built the OpenShift way: code installed by root and read-only, the app dir
    ``chgrp -R 0 && chmod -R g=u`` and owned by USER 1001, HOME pointing at it."""
    from fixtures.debian_root import run_in_root

    with open(root / "etc/passwd", "a") as fh:
        fh.write(f"default:x:1001:0:Default Application User:{OS_APP}:/sbin/nologin\n")
    proc = run_in_root(root, ["/usr/bin/python3", "-m", "venv", "--without-pip", "/opt/venv"])
    assert proc.returncode == 0, proc.stderr
    _w(root / OS_MODULES["osvenvmod"].lstrip("/"), "X = 1\n")
    _w(root / OS_MODULES["oslocalmod"].lstrip("/"), "X = 2\n")
    app = root / OS_APP.lstrip("/")
    _w(app / "app.py", "import osvenvmod\n", 0o644, 1001, 0)
    (app / "data").mkdir()
    for p in [app, *app.rglob("*")]:
        os.chown(p, 1001, 0)
        m = os.stat(p).st_mode & 0o777
        os.chmod(p, (m & ~0o070) | ((m >> 3) & 0o070))


ARB_VENV = "/opt/app-root"
ARB_SITE = f"{ARB_VENV}/{SITE}"
ARB_CONFIG = ImageConfig(
    user="1001",
    env={"PATH": f"{ARB_VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": f"{ARB_VENV}/src"},
    workdir=f"{ARB_VENV}/src",
    entrypoint=[f"{ARB_VENV}/bin/python", f"{ARB_VENV}/src/app.py"],
)


def plant_arbitrary_uid_venv(root: Path) -> None:
    """An image built for arbitrary UIDs the way OpenShift's s2i images are: a venv with a real
    wheel installed by its own pip, then ``chgrp -R 0 && chmod -R g=u`` over the whole venv (code
    included), USER 1001 with primary group 0. All steps run in the chroot."""
    from fixtures.debian_root import run_in_root
    from fixtures.sl1_images import wheel_file

    with open(root / "etc/passwd", "a") as fh:
        fh.write(f"default:x:1001:0:Default Application User:{ARB_VENV}/src:/sbin/nologin\n")
    wheel = wheel_file("six-")
    (root / "tmp" / wheel.name).write_bytes(wheel.read_bytes())
    script = (
        f"python3 -m venv {ARB_VENV} && {ARB_VENV}/bin/pip install -q --no-index "
        f"--disable-pip-version-check /tmp/{wheel.name} && rm /tmp/{wheel.name} && "
        f"mkdir -p {ARB_VENV}/src && printf 'import six\\n' > {ARB_VENV}/src/app.py && "
        f"chown -R 1001:0 {ARB_VENV}/src && chgrp -R 0 {ARB_VENV} && chmod -R g=u {ARB_VENV}"
    )
    proc = run_in_root(root, ["/bin/sh", "-ec", script])
    assert proc.returncode == 0, proc.stderr


def fs_from_root(root: Path, work: Path) -> Filesystem:
    """Index the root the way an image layer is indexed: a real tar through the real indexer."""
    tar_path = work / "layer.tar"

    def skip(ti: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = ti.name.split("/")
        if len(parts) > 1 and parts[1] in ("proc", "sys", "dev"):
            return None
        ti.uname = ti.gname = ""
        return ti

    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=skip)
    with open(tar_path, "rb") as fh:
        index = build_index(fh, "sha256:" + "0" * 64, "planted root")
    tar_path.unlink()
    return Filesystem.from_indexes([index])


@dataclass
class Planted:
    root: Path
    fs: Filesystem
    identities: list[Identity]
    config: ImageConfig = CONFIG

    def ident(self, name: str) -> Identity:
        return next(i for i in self.identities if i.name == name)

    def run(self, identity: Identity, argv: list[str], env: dict[str, str] | None = None):
        from fixtures.debian_root import run_in_root

        # the container's environment: the image config's Env plus HOME as the runtime sets it
        full = {"PATH": "/usr/local/bin:/usr/bin:/bin", **self.config.env,
                "HOME": identity.home or "/"}
        full.update(env or {})
        return run_in_root(self.root, argv, userspec=f"{identity.uid}:{identity.gid}", env=full)

    def probe(self, identity: Identity, interpreter: str, code: str) -> dict:
        proc = self.run(identity, [interpreter, "-P", "-c", code])
        if proc.returncode != 0:
            return {"exec_error": proc.returncode, "stderr": proc.stderr}
        return json.loads(proc.stdout)


SYS_PATH_PROBE = r"""
import json, sys
print(json.dumps({"sys_path": sys.path[1:] if sys.path and sys.path[0] == "" else sys.path,
                  "prefix": sys.prefix}))
"""


def _origin(path: str, venv_prefix: str | None, pythonpath: list[str]) -> tuple[str, bool]:
    if path in pythonpath:
        return "pythonpath", False
    if "/.local/" in path:
        return "user-site", True
    if venv_prefix and path.startswith(venv_prefix + "/") and path.endswith("site-packages"):
        return "venv-site", True
    if path.endswith(("site-packages", "dist-packages")):
        return "site", True
    if path.endswith("lib-dynload"):
        return "lib-dynload", False
    return "stdlib", False


def inventory_from_reality(planted: Planted, config: ImageConfig, interpreters: list[str],
                           entrypoint: list[str] | None = None):
    """An Inventory whose import paths are what the real interpreter prints for each identity
    (until the inventory builder computes them from files, this is the ground truth)."""
    from sitelens.inventory.model import Entrypoint, Environment, Interpreter, Inventory, PathEntry, Venv

    base = Interpreter(path="/usr/bin/python3", real_path="/usr/bin/python3.11", version=PY,
                       flavor="debian", prefix="/usr", exec_prefix="/usr")
    pythonpath = [p for p in config.env.get("PYTHONPATH", "").split(":") if p]
    envs = []
    for exe in interpreters:
        prefix = posixpath.dirname(posixpath.dirname(exe))
        cfg = f"{prefix}/pyvenv.cfg"
        venv = None
        if (planted.root / cfg.lstrip("/")).exists():
            venv = Venv(prefix=prefix, cfg_path=cfg, home="/usr/bin",
                        include_system_site_packages=False, version=PY,
                        base_executable="/usr/bin/python3.11")
        env = Environment(executable=exe, kind="venv" if venv else "system", interpreter=base,
                          prefix=prefix if venv else "/usr", venv=venv)
        for ident in planted.identities:
            proc = planted.run(ident, [exe, "-P", "-c", SYS_PATH_PROBE])
            paths = json.loads(proc.stdout)["sys_path"] if proc.returncode == 0 else []
            entries = []
            for p in paths:
                origin, site_dir = _origin(p, venv.prefix if venv else None, pythonpath)
                entries.append(PathEntry(p, origin, (planted.root / p.lstrip("/")).exists(),
                                         site_dir))
            env.sys_path[ident.name] = entries
        envs.append(env)
    ep = None
    if entrypoint:
        ep = Entrypoint(argv=entrypoint, interpreter=entrypoint[0],
                        script=entrypoint[1] if len(entrypoint) > 1 else None)
    return Inventory(identities=list(planted.identities), interpreters=[base],
                     environments=envs, entrypoint=ep)


def run_checks(fs: Filesystem, inventory, config: ImageConfig, rules: set[str]) -> list:
    import sitelens.checks  # noqa: F401  (registers every check)
    from sitelens.checks.base import REGISTRY, Context
    from sitelens.image import Image

    image = Image("planted", None, config, [])
    ctx = Context(fs=fs, inventory=inventory, image=image, indexes=[])
    out = []
    for rc in REGISTRY:
        if set(rc.rules) & rules:
            out.extend(rc.fn(ctx))
    return out


TRY = r"""
import json, os, sys
def ok(op, p):
    try:
        if op == "list":
            os.listdir(p); os.stat(os.path.join(p, "."))
        elif op == "read":
            open(p, "rb").close()
        elif op == "create":
            q = os.path.join(p, ".probe-%d" % os.getuid())
            os.close(os.open(q, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)); os.unlink(q)
        return True
    except OSError:
        return False
print(json.dumps([ok(op, p) for op, p in json.loads(sys.argv[1])]))
"""


def kernel(planted: Planted, ident: Identity, questions: list[tuple[str, str]]) -> list[bool]:
    """What the kernel answers to list/read/create on each path for ``ident``, in the chroot."""
    proc = planted.run(ident, ["/usr/bin/python3", "-c", TRY, json.dumps(questions)])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
