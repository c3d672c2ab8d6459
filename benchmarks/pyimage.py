"""Generate the audit benchmark images: a Debian root with numpy/scipy/pandas, and its 4×/8× scale-ups.

The big image (written once under ``benchmarks/out/py/``) is what a data-science Dockerfile makes:

- layer 0: a real Debian 12 minbase root with python3, pip, venv (``fixtures.debian_root``:
           a dpkg database, the stdlib, /usr/bin);
- layer 1: ``pip install numpy scipy pandas`` (wheels from PyPI, their deps too) into
           ``/usr/local/lib/python3.11/dist-packages``, RECORDs and all;
- layer 2: the same wheels in a venv at ``/opt/venv`` (``pyvenv.cfg``, ``bin/python`` symlink),
           the usual second copy;
- layer 3: an app (``/app/app.py``, ``requirements.txt``).

Written as a docker-archive with plain layers (``big-docker.tar``) and an OCI layout with gzip
level-6 layers (``big-oci/``). ``scaled(k)`` writes a docker-archive with the big image's
layers plus k-1 copies of them re-rooted under ``/srv/copyN/`` (k = 8: 5.2 GB, 128 k files);
``scaled(k, apps=a)`` adds a layers, each a venv at ``/srv/appN/venv`` with Django, botocore, SymPy
and Babel (and their dependencies) pip-installed: many small files (≈ 8.6 k files, ≈ 100 MB per
venv), so ``scaled(6, apps=13)`` is the 5.2 GB, ≥ 200 k-file image of the RSS target, made of real
packages whose RECORDs the inventory reads. Needs mmdebstrap (Debian mirror) and PyPI once.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bigimage import _add_tree, _sha_file, _write_docker, _write_oci, gzip_layers  # noqa: E402

from fixtures.debian_root import debian_root  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "py"
WHEELS = ("numpy", "scipy", "pandas")
# pure-Python distributions of many small files (translations, service models, modules): what
# takes a real image's file count past its byte count's share
APP_WHEELS = ("django", "botocore", "sympy", "babel")
PY = "python3.11"


def _download(dest: Path, names: tuple[str, ...] = WHEELS) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", "3.11",
         "--platform", "manylinux_2_28_x86_64", "-d", str(dest), *names],
        check=True,
    )
    return sorted(dest.glob("*.whl"))


def _pip_target(wheels: list[Path], target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile",
         "--target", str(target), *map(str, wheels)],
        check=True,
    )


def _tar_tree(dest: Path, host: Path, image_root: str) -> int:
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        _, files = _add_tree(tar, str(host), image_root, 1 << 40)
    return files


def _layers(work: Path) -> tuple[list[Path], list[str]]:
    wheels = _download(work / "wheels")
    layers = work / "layers"
    layers.mkdir(exist_ok=True)
    root = debian_root()
    _tar_tree(layers / "0.tar", root, ".")
    sys_site = work / "sys-site"
    if not sys_site.exists():
        _pip_target(wheels, sys_site)
    _tar_tree(layers / "1.tar", sys_site, f"usr/local/lib/{PY}/dist-packages")
    venv_site = work / "venv-site"
    if not venv_site.exists():
        _pip_target(wheels, venv_site)
    with tarfile.open(layers / "2.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        _add_tree(tar, str(venv_site), f"opt/venv/lib/{PY}/site-packages", 1 << 40)
        _add_bytes(tar, "opt/venv/pyvenv.cfg",
                   b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")
        link = tarfile.TarInfo("opt/venv/bin/python")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, f"/usr/bin/{PY}", 0
        tar.addfile(link)
    with tarfile.open(layers / "3.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "app/requirements.txt", b"numpy>=2\nscipy>=1.13\npandas>=2.2\n")
        _add_bytes(tar, "app/app.py", b"import numpy, scipy, pandas\n")
    history = ["debootstrap bookworm (python3 python3-pip python3-venv)",
               f"RUN pip install {' '.join(WHEELS)}",
               f"RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install {' '.join(WHEELS)}",
               "COPY app /app"]
    return [layers / f"{i}.tar" for i in range(4)], history


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
    tar.addfile(ti, io.BytesIO(data))


def _config(diff_ids: list[str], history: list[str]) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"],
                   "Cmd": ["python3", "/app/app.py"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": c} for c in history],
    }, sort_keys=True).encode()


def _stats(tars: list[Path]) -> dict[str, int]:
    files = 0
    for t in tars:
        with tarfile.open(t) as tf:
            files += sum(1 for m in tf if m.isreg())
    return {"uncompressed_bytes": sum(t.stat().st_size for t in tars), "files": files, "layers": len(tars)}


def generate(out: Path = OUT, force: bool = False) -> dict[str, int]:
    """The big image in both forms; returns its stats (cached in out/stats.json)."""
    stats_path = out / "stats.json"
    if stats_path.exists() and not force:
        return dict(json.loads(stats_path.read_text()))
    out.mkdir(parents=True, exist_ok=True)
    tars, history = _layers(out)
    diff_ids = [_sha_file(t) for t in tars]
    gz = gzip_layers(tars)
    config = _config(diff_ids, history)
    _write_oci(out / "big-oci", config, gz)
    _write_docker(out / "big-docker.tar", config, tars, diff_ids)
    stats = {**_stats(tars), "gzip_bytes": sum(g.stat().st_size for g in gz)}
    stats_path.write_text(json.dumps(stats, indent=1))
    return stats


def _reroot(src: Path, dest: Path, prefix: str) -> None:
    """Copy a layer tar with every member moved under ``prefix`` (absolute symlinks too)."""
    with tarfile.open(src) as tin, tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin:
            m.name = f"{prefix}/{m.name.lstrip('./')}".rstrip("/")
            if m.issym() and m.linkname.startswith("/"):
                m.linkname = prefix + m.linkname if prefix.startswith("/") else f"/{prefix}{m.linkname}"
            if m.islnk():
                m.linkname = f"{prefix}/{m.linkname.lstrip('./')}"
            tout.addfile(m, tin.extractfile(m) if m.isreg() else None)


def _app_site(out: Path) -> Path:
    site = out / "app-site"
    if not site.exists():
        wheels = _download(out / "app-wheels", APP_WHEELS)
        tmp = out / "app-site.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _pip_target(wheels, tmp)
        os.replace(tmp, site)
    return site


def _app_layer(site: Path, dest: Path, root: str) -> None:
    """A venv at ``root`` holding the app packages: its own interpreter and import path to audit."""
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
        pass
    with tarfile.open(tmp.name, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_tree(tar, str(site), f"{root}/lib/{PY}/site-packages", 1 << 40)
        _add_bytes(tar, f"{root}/pyvenv.cfg",
                   b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")
        link = tarfile.TarInfo(f"{root}/bin/python")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, f"/usr/bin/{PY}", 0
        tar.addfile(link)
    os.replace(tmp.name, dest)


def scaled(k: int, out: Path = OUT, apps: int = 0) -> Path:
    """A docker-archive holding the big image plus k-1 re-rooted copies of its layers, then ``apps``
    app-venv layers."""
    generate(out)
    if k == 1 and not apps:
        return out / "big-docker.tar"
    dest = out / (f"big-x{k}+{apps}app-docker.tar" if apps else f"big-x{k}-docker.tar")
    if dest.exists():
        return dest
    base = [out / "layers" / f"{i}.tar" for i in range(4)]
    tars = list(base)
    history = [f"layer {i}" for i in range(4)]
    for c in range(1, k):
        for i, t in enumerate(base):
            copy = out / "layers" / f"copy{c}-{i}.tar"
            if not copy.exists():
                with tempfile.NamedTemporaryFile(dir=out / "layers", delete=False) as tmp:
                    pass
                _reroot(t, Path(tmp.name), f"srv/copy{c}")
                os.replace(tmp.name, copy)
            tars.append(copy)
            history.append(f"COPY copy {c} layer {i}")
    if apps:
        site = _app_site(out)
    for a in range(1, apps + 1):
        layer = out / "layers" / f"app{a}.tar"
        if not layer.exists():
            _app_layer(site, layer, f"srv/app{a}/venv")
        tars.append(layer)
        history.append(f"RUN python3 -m venv /srv/app{a}/venv && /srv/app{a}/venv/bin/pip install "
                       + " ".join(APP_WHEELS))
    diff_ids = [_sha_file(t) for t in tars]
    with tempfile.NamedTemporaryFile(dir=out, delete=False) as tmp:
        pass
    _write_docker(Path(tmp.name), _config(diff_ids, history), tars, diff_ids)
    os.replace(tmp.name, dest)
    return dest


def scaled_stats(k: int, apps: int = 0, out: Path = OUT) -> dict[str, int]:
    """Uncompressed bytes and regular files of ``scaled(k, apps=apps)``, from its layer tars."""
    tars = [out / "layers" / f"{i}.tar" for i in range(4)]
    tars += [out / "layers" / f"copy{c}-{i}.tar" for c in range(1, k) for i in range(4)]
    tars += [out / "layers" / f"app{a}.tar" for a in range(1, apps + 1)]
    return _stats(tars)


def clean_scaled(out: Path = OUT) -> None:
    """Delete the scaled archives and their layer copies (gigabytes each)."""
    for p in [*out.glob("big-x*-docker.tar"), *(out / "layers").glob("copy*-*.tar"),
              *(out / "layers").glob("app*.tar")]:
        p.unlink()


if __name__ == "__main__":
    if "--clean" in sys.argv:
        shutil.rmtree(OUT, ignore_errors=True)
    if "--clean-scaled" in sys.argv:
        clean_scaled()
        sys.exit()
    print(json.dumps(generate(force="--force" in sys.argv), indent=1))
