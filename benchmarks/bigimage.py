"""Generate the big benchmark image from real files on this machine.

Four layers (≥ 600 MB uncompressed, ≥ 20 000 files), written once under ``benchmarks/out/``:

- layer 0: ``/usr/share``                        (docs, locales, data: many small text files)
- layer 1: ``/usr/lib/x86_64-linux-gnu``         (shared libraries: big binaries)
- layer 2: a CPython 3.11 ``lib/python3.11`` tree with its site-packages, placed at
           ``/usr/local/lib/python3.11`` (tens of thousands of .py/.pyc files)
- layer 3: what Dockerfiles do next: ``chmod -R`` of a site-packages subtree (metadata-only
           copies), ``rm -rf`` of some layer-1 dirs (whiteouts), an opaque dir, new files.

The content is whatever those host directories hold, so figures from two machines are not
byte-for-byte comparable; the ratios against the floor and the peers, measured on the same
files in the same run, are what the README reports.

Outputs: ``layers/N.tar`` (plain), ``big-docker.tar`` (docker save legacy layout, plain
layers), ``big-oci/`` (OCI image layout, gzip layers, tag ``latest``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

MB = 1 << 20

SOURCES: list[tuple[str, str, int]] = [
    # (host dir, image dir, byte cap)
    ("/usr/share", "usr/share", 190 * MB),
    ("/usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", 230 * MB),
    ("/root/.pyenv/versions/3.11.7/lib/python3.11", "usr/local/lib/python3.11", 240 * MB),
]


def _walk(host: str) -> Iterator[tuple[str, os.stat_result]]:
    for dirpath, dirnames, filenames in os.walk(host):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            yield full, st


def _info(name: str, st: os.stat_result, host: str) -> tarfile.TarInfo | None:
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    ti.uname = ti.gname = ""
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(host)
    elif stat.S_ISREG(st.st_mode):
        ti.size = st.st_size
    else:
        return None
    return ti


def _add_tree(tar: tarfile.TarFile, host_root: str, image_root: str, cap: int,
              mode_override: int | None = None) -> tuple[int, int]:
    """Add a host tree under image_root; stop adding files past ``cap`` bytes."""
    total = files = 0
    parts = image_root.split("/")
    for i in range(1, len(parts)):
        d = tarfile.TarInfo("/".join(parts[:i]))
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(d)
    for full, st in _walk(host_root):
        rel = os.path.relpath(full, host_root)
        name = f"{image_root}/{rel}"
        ti = _info(name, st, full)
        if ti is None:
            continue
        if mode_override is not None and ti.type != tarfile.SYMTYPE:
            ti.mode = mode_override if ti.type != tarfile.DIRTYPE else 0o775
        if ti.isreg():
            if total + ti.size > cap:
                continue
            try:
                with open(full, "rb") as f:
                    tar.addfile(ti, f)
            except OSError:
                continue
            total += ti.size
            files += 1
        else:
            tar.addfile(ti)
    return total, files


def _tweaks_layer(tar: tarfile.TarFile) -> None:
    site = "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages"
    # chmod -R g+w on two package trees: every file re-shipped with new metadata only
    for pkg in ("pip", "setuptools"):
        host = os.path.join(site, pkg)
        if os.path.isdir(host):
            _add_tree(tar, host, f"usr/local/lib/python3.11/site-packages/{pkg}", 80 * MB, 0o664)
    # rm -rf of some library dirs from layer 1
    lib = "/usr/lib/x86_64-linux-gnu"
    gone = sorted(d for d in os.listdir(lib) if os.path.isdir(os.path.join(lib, d)))[:5]
    for d in gone:
        ti = tarfile.TarInfo(f"usr/lib/x86_64-linux-gnu/.wh.{d}")
        ti.mtime = 0
        tar.addfile(ti, io.BytesIO(b""))
    # replace /usr/share/doc wholesale (opaque) with one file
    for name, data in (("usr/share/doc/.wh..wh..opq", b""), ("usr/share/doc/README", b"docs removed\n")):
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.size = 0, len(data)
        tar.addfile(ti, io.BytesIO(data))
    # an app with a requirements file
    for name, data in (("app/requirements.txt", b"jinja2>=3.1\n"), ("app/app.py", b"print('hi')\n" * 1000)):
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.size = 0, len(data)
        tar.addfile(ti, io.BytesIO(data))


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MB):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def gzip_layers(tars: list[Path]) -> list[Path]:
    """The OCI layout's blobs: each tar gzipped at level 6, like Docker's default."""
    gz = []
    for t in tars:
        g = t.with_suffix(".tar.gz")
        with open(g, "wb") as f:
            subprocess.run(["gzip", "-6", "-n", "-c", str(t)], stdout=f, check=True)
        gz.append(g)
    return gz


def generate(out: Path, force: bool = False) -> dict:
    """Write the layers and both image forms; returns the stats (cached in out/stats.json)."""
    out.mkdir(parents=True, exist_ok=True)
    stats_path = out / "stats.json"
    if stats_path.exists() and not force:
        return json.loads(stats_path.read_text())
    layers_dir = out / "layers"
    layers_dir.mkdir(exist_ok=True)
    created_by = []
    n_files = 0
    for i, (host, image_root, cap) in enumerate(SOURCES):
        with tarfile.open(layers_dir / f"{i}.tar", "w", format=tarfile.PAX_FORMAT) as tar:
            _, files = _add_tree(tar, host, image_root, cap)
        n_files += files
        created_by.append(f"COPY {host} /{image_root}")
    with tarfile.open(layers_dir / "3.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        _tweaks_layer(tar)
    created_by.append("RUN chmod -R g+w site-packages/pip ... && rm -rf ... (tweaks)")
    tars = [layers_dir / f"{i}.tar" for i in range(4)]
    diff_ids = [_sha_file(t) for t in tars]
    gz = gzip_layers(tars)
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["python3", "/app/app.py"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": c} for c in created_by],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    _write_oci(out / "big-oci", config_bytes, gz)
    _write_docker(out / "big-docker.tar", config_bytes, tars, diff_ids)
    stats = {
        "uncompressed_bytes": sum(t.stat().st_size for t in tars),
        "gzip_bytes": sum(g.stat().st_size for g in gz),
        "files": _count_files(tars),
        "layers": len(tars),
    }
    stats_path.write_text(json.dumps(stats, indent=1))
    return stats


def _count_files(tars: list[Path]) -> int:
    n = 0
    for t in tars:
        with tarfile.open(t) as tf:
            n += sum(1 for m in tf if m.isreg())
    return n


def _write_oci(dest: Path, config: bytes, gz: list[Path]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    cdig = "sha256:" + hashlib.sha256(config).hexdigest()
    (blobs / cdig[7:]).write_bytes(config)
    layers = []
    for g in gz:
        d = _sha_file(g)
        os.link(g, blobs / d[7:]) if not (blobs / d[7:]).exists() else None
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d,
                       "size": g.stat().st_size})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig,
                   "size": len(config)},
        "layers": layers,
    }).encode()
    mdig = "sha256:" + hashlib.sha256(manifest).hexdigest()
    (blobs / mdig[7:]).write_bytes(manifest)
    (dest / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig,
                       "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    }))


def _write_docker(dest: Path, config: bytes, tars: list[Path], diff_ids: list[str]) -> None:
    chex = hashlib.sha256(config).hexdigest()
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as out:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 0
            out.addfile(ti, io.BytesIO(data))

        paths = []
        parent = ""
        for t, d in zip(tars, diff_ids, strict=True):
            lid = hashlib.sha256(f"{parent}{d}".encode()).hexdigest()
            ti = tarfile.TarInfo(lid)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            out.addfile(ti)
            add(f"{lid}/VERSION", b"1.0")
            add(f"{lid}/json", json.dumps({"id": lid, **({"parent": parent} if parent else {})}).encode())
            out.add(str(t), arcname=f"{lid}/layer.tar")
            paths.append(f"{lid}/layer.tar")
            parent = lid
        add(f"{chex}.json", config)
        add("manifest.json", json.dumps(
            [{"Config": f"{chex}.json", "RepoTags": ["sitelens/bench:latest"], "Layers": paths}]).encode())
        add("repositories", json.dumps({"sitelens/bench": {"latest": parent}}).encode())


if __name__ == "__main__":
    import sys

    print(json.dumps(generate(Path(__file__).parent / "out", force="--force" in sys.argv), indent=1))
