"""Waste figures on an image made of a real Debian 12 root (mmdebstrap): real apt lists, real
site-packages, a real pip wheel as the cached download, real bytecode. The dive block must equal
the real dive's figures; sitelens's own figures must equal what the Dockerfile steps did."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from waste_specs import MIB
from waste_support import run_dive_ci, run_dive_json, write_archive

from fixtures.debian_root import RootUnavailable, debian_root
from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink, Whiteout, tree_entries
from sitelens.checks.base import Context
from sitelens.checks.derived import Derived
from sitelens.checks.waste import low_efficiency, metadata_only_copy, package_caches
from sitelens.inventory.model import Inventory
from sitelens.pipeline import load
from sitelens.waste import compute_waste

SITE = "usr/lib/python3/dist-packages"
LISTS = "var/lib/apt/lists"


def _files_bytes(top: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(top):
        for n in names:
            p = Path(dirpath, n)
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


def _parents(path: str) -> list[Dir]:
    parts = path.strip("/").split("/")
    return [Dir("/" + "/".join(parts[: i + 1])) for i in range(len(parts))]


@pytest.fixture(scope="module")
def debian_image(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    try:
        root = debian_root()
    except RootUnavailable as exc:
        pytest.skip(str(exc))
    base = [*_parents("etc"), File("/etc/os-release", (root / "etc/os-release").read_bytes())]
    base += [*_parents("usr/bin"), File("/usr/bin/python3.11",
                                        (root / "usr/bin/python3.11").read_bytes(), 0o755)]
    base += [*_parents("usr/lib/python3.11"),
             File("/usr/lib/python3.11/os.py", (root / "usr/lib/python3.11/os.py").read_bytes())]
    base += [*_parents(SITE), *tree_entries(root / SITE, "/" + SITE)]
    base += [*_parents("var/lib/dpkg"),
             File("/var/lib/dpkg/status", (root / "var/lib/dpkg/status").read_bytes())]
    base += [*_parents(LISTS), *tree_entries(root / LISTS, "/" + LISTS)]
    # chown -R 1001:0 over site-packages: every file re-shipped, content unchanged
    chown = [replace(e, uid=1001) if hasattr(e, "uid") else e
             for e in [*_parents(SITE)[-1:], *tree_entries(root / SITE, "/" + SITE)]]
    # rm -rf /var/lib/apt/lists/*: one whiteout per entry, as overlayfs diffs record it
    rm_lists = [*_parents(LISTS), *(Whiteout(f"/{LISTS}/{n}") for n in sorted(os.listdir(root / LISTS)))]
    status = (root / "var/lib/dpkg/status").read_bytes() + b"\n"
    wheel = next((root / "usr/share/python-wheels").glob("pip-*.whl"))
    pyc = next((root / SITE / "jinja2" / "__pycache__").glob("*.cpython-311.pyc"))
    pip_layer = [
        *_parents("root/.cache/pip/wheels/ab"),
        File(f"/root/.cache/pip/wheels/ab/{wheel.name}", wheel.read_bytes()),
        *_parents("app/__pycache__"),
        File("/app/__pycache__/" + pyc.name.replace("cpython-311", "cpython-39"), pyc.read_bytes()),
        *_parents("var/lib/dpkg"), File("/var/lib/dpkg/status", status),
    ]
    spec = ImageSpec([
        LayerSpec(base, "RUN apt-get update && apt-get install -y python3-jinja2 python3-pip"),
        LayerSpec(chown, "RUN chown -R 1001:0 /usr/lib/python3/dist-packages"),
        LayerSpec(rm_lists, "RUN rm -rf /var/lib/apt/lists/*"),
        LayerSpec(pip_layer, "RUN pip install --break-system-packages app && dpkg --configure -a"),
    ])
    tmp = tmp_path_factory.mktemp("debian-waste")
    archive = write_archive(spec, tmp / "image.tar")
    return root, archive, wheel.stat().st_size


def test_debian_dive_block_equals_dive(debian_image, tmp_path: Path) -> None:
    root, archive, _ = debian_image
    dive = run_dive_json(archive, tmp_path)
    with load(f"docker-archive:{archive}", use_cache=False) as loaded:
        report = compute_waste(loaded.fs, loaded.indexes, loaded.image)
    assert report.dive.layer_sizes == dive.layer_sizes
    assert report.dive.efficiency == dive.efficiency
    assert report.dive.inefficient_bytes == dive.inefficient_bytes
    assert report.dive.user_wasted_percent == dive.user_wasted_percent
    ours = sorted((r.path, r.count, r.size_bytes) for r in report.dive.file_references)
    assert ours == dive.file_references


def test_debian_own_figures_match_the_steps(debian_image) -> None:
    root, archive, wheel_size = debian_image
    site_bytes = _files_bytes(root / SITE)
    list_bytes = _files_bytes(root / LISTS)
    status_bytes = (root / "var/lib/dpkg/status").stat().st_size
    assert site_bytes > 5 * MIB and list_bytes > 20 * MIB  # a real root, not a toy
    with load(f"docker-archive:{archive}", use_cache=False) as loaded:
        report = compute_waste(loaded.fs, loaded.indexes, loaded.image)
        ctx = Context(fs=loaded.fs, inventory=Inventory(), image=loaded.image,
                      indexes=loaded.indexes, options={"waste": {}},
                      derived=Derived(loaded.fs, Inventory(), loaded.image, loaded.indexes, waste=report))
        by_cause = report.hidden.by_cause
        assert by_cause["metadata"] == site_bytes
        assert by_cause.get("deleted", 0) + by_cause.get("deleted-with-dir", 0) == list_bytes
        assert by_cause["overwritten"] == status_bytes
        assert report.wasted_bytes == site_bytes + list_bytes + status_bytes
        layers = report.hidden.layers
        assert layers[1].metadata_bytes == site_bytes and layers[1].files_modified == 0
        assert layers[2].hidden_from_below == list_bytes
        assert report.python.versions == ["3.11"]
        kinds = {g.kind: g for g in report.python.caches}
        assert kinds["pip-cache"].bytes == wheel_size
        assert kinds["pycache-foreign"].detail == "3.9"
        assert report.python.toolchain_source == "packages" and report.python.toolchain == []
        sl302 = list(metadata_only_copy(ctx))
        assert len(sl302) == 1 and sl302[0].evidence["paths"] == ["/" + SITE]
        assert "chown -R 1001:0" in sl302[0].message
        assert {f.evidence["paths"][0] for f in package_caches(ctx)} == {"/root/.cache/pip", "/app"}
        gate = list(low_efficiency(ctx))  # defaults: dive's CI defaults + 20 MiB floor
        assert report.wasted_bytes > 20 * MIB
    ci = run_dive_ci(archive, archive.parent)  # dive's defaults: 0.9 / disabled / 0.1
    assert bool(gate) == (not ci.passed)


TOOLCHAIN = {"libc-dev-bin", "libc6-dev", "libcrypt-dev", "libexpat1-dev", "libnsl-dev",
             "libtirpc-dev", "linux-libc-dev", "make"}


@pytest.fixture(scope="module")
def toolchain_image(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real root with `make` and `-dev` packages (and their real dpkg database): the image
    holds the database and every file those packages own, plus one runtime library."""
    try:
        root = debian_root(("python3", "libexpat1-dev", "make"))
    except RootUnavailable as exc:
        pytest.skip(str(exc))
    entries: list = [Symlink(f"/{d}", f"usr/{d}") for d in ("bin", "lib", "lib64", "sbin")
                     if (root / d).is_symlink()]
    entries += [*_parents(SITE[: SITE.index("/dist")]), File("/usr/bin/python3.11",
                (root / "usr/bin/python3.11").read_bytes(), 0o755)]
    entries += [*_parents("var/lib/dpkg"), *tree_entries(root / "var/lib/dpkg", "/var/lib/dpkg")]
    expected = 0
    seen: set[str] = set()
    for pkg in sorted(TOOLCHAIN) + ["libexpat1"]:
        listed = next((root / "var/lib/dpkg/info").glob(f"{pkg}*.list"))
        for line in listed.read_text().splitlines():
            host = root / line.lstrip("/")
            if line in ("/.", "") or host.is_dir() and not host.is_symlink():
                continue
            real = "/" + str(host.resolve().relative_to(root.resolve())) if not host.is_symlink() \
                else line
            if real in seen:
                continue
            seen.add(real)
            entries += _parents(real.rsplit("/", 1)[0])
            if host.is_symlink():
                entries.append(Symlink(real, os.readlink(host)))
            elif host.is_file():
                entries.append(File(real, host.read_bytes(), host.stat().st_mode & 0o7777))
                if pkg != "libexpat1":
                    expected += host.stat().st_size
    spec = ImageSpec([LayerSpec(entries, "RUN apt-get install -y libexpat1-dev make")])
    archive = write_archive(spec, tmp_path_factory.mktemp("toolchain") / "image.tar")
    return archive, expected


def test_toolchain_from_a_real_dpkg_database(toolchain_image) -> None:
    archive, expected = toolchain_image
    with load(f"docker-archive:{archive}", use_cache=False) as loaded:
        py = compute_waste(loaded.fs, loaded.indexes, loaded.image).python
    assert py.toolchain_source == "packages"
    owners = {t.owner.split(":", 1)[1]: t for t in py.toolchain}
    assert set(owners) == TOOLCHAIN  # gcc-12-base, libgcc-s1, libexpat1 are runtime packages
    assert owners["make"].bytes > 100_000 and owners["libc6-dev"].files > 100
    assert py.toolchain_bytes == expected


def test_audit_reports_the_real_toolchain(toolchain_image) -> None:
    from typer.testing import CliRunner

    from sitelens.cli import app

    archive, expected = toolchain_image
    res = CliRunner().invoke(app, ["audit", f"docker-archive:{archive}", "--format", "json",
                                   "--no-cache", "--fail-on", "none"], catch_exceptions=False)
    doc = json.loads(res.stdout)
    sl305 = [f for f in doc["findings"] if f["rule"] == "SL305"]
    assert len(sl305) == 1 and sl305[0]["severity"] == "info"
    assert {o.split(":", 1)[1] for o in sl305[0]["evidence"]["owners"]} == TOOLCHAIN
    assert sl305[0]["evidence"]["bytes"] == expected
