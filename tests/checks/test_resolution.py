"""checks/resolution.py: SL101, SL102, SL105, SL114 on hand-built inventories over real layer tars."""

from __future__ import annotations

import hashlib

from fixtures.imagebuilder import File, LayerSpec
from sitelens.checks.resolution import context_dependent_import, duplicate_metadata, shadowed_distribution
from sitelens.inventory.import_truth import fill_imports
from sitelens.inventory.model import (
    Entrypoint,
    Identity,
    Inventory,
    OsPackage,
    OsPackageDb,
    OwnedFile,
    PathEntry,
    RecordEntry,
)
from tests.checks.check_support import LIB64, LOCAL, ctx_for, dist, fedora_env


def test_fedora_local_site_vanishes_under_dash_s() -> None:
    new, old = b"__version__ = '2.32.0'\n", b"__version__ = '2.28.1'\n"
    pip = dist("requests", "2.32.0", LOCAL)
    pip.top_level = ["requests"]
    pip.record = [RecordEntry(f"{LOCAL}/requests/__init__.py", "sha256",
                              hashlib.sha256(new).digest())]
    rpm = dist("requests", "2.28.1", LIB64, "rpm", 0, owner="rpm:python3-requests")
    rpm.top_level = ["requests"]
    pkg = OsPackage("rpm", "python3-requests", "2.28.1-1.fc38", files=[
        OwnedFile(f"{LIB64}/requests/__init__.py", "sha256", hashlib.sha256(old).digest())])
    inv = Inventory(
        package_dbs=[OsPackageDb("rpm", "/var/lib/rpm/rpmdb.sqlite", 0, [pkg])],
        identities=[Identity("image-user", 1000, 1000), Identity("arbitrary-uid", 1000620000, 0, [0])],
        environments=[fedora_env([pip, rpm])],
        entrypoint=Entrypoint(["python3", "-s", "app.py"], "/usr/bin/python3.12", ["-s"], "app.py"),
    )
    layers = [LayerSpec([File("/usr/bin/python3.12", b"\x7fELF", 0o755),
                         File(f"{LOCAL}/requests/__init__.py", new), File(f"{LIB64}/requests/__init__.py", old)])]
    ctx = ctx_for(layers, inv)
    fill_imports(ctx.fs, inv)
    (f,) = list(context_dependent_import(ctx))
    assert f.evidence["identity"]["image-user"] == f"{LOCAL}/requests/__init__.py"
    assert f.evidence["identity"]["image-user with -s"] == f"{LIB64}/requests/__init__.py"
    assert "2.32.0 from" in f.message and "2.28.1 from" in f.message
    (s,) = list(shadowed_distribution(ctx))
    assert s.severity == "high" and s.evidence["owners"] == [
        f"pip:{LOCAL}/requests-2.32.0.dist-info",
        "rpm:python3-requests",
    ]
    assert s.evidence["loaded_version"] == "2.32.0"  # the bytes in /usr/local are pip's 2.32.0
    # near-miss: the same image run without -s
    inv.entrypoint = Entrypoint(["python3", "app.py"], "/usr/bin/python3.12", [], "app.py")
    assert list(context_dependent_import(ctx_for(layers, inv))) == []


def test_fedora_local_site_comes_back_under_dash_E_despite_pythonnousersite() -> None:
    """PYTHONNOUSERSITE in the image config takes the user site and so Fedora's /usr/local off
    the plain path; ``-E`` ignores it, and the real interpreter then has /usr/local first again
    (tests/inventory_py/test_pyinv_fedora_flags.py): the ``with -E`` path cannot be the plain one
    with entries removed."""
    new, old = b"__version__ = '2.32.0'\n", b"__version__ = '2.28.1'\n"
    pip = dist("requests", "2.32.0", LOCAL)
    pip.top_level = ["requests"]
    rpm = dist("requests", "2.28.1", LIB64, "rpm", 0)
    rpm.top_level = ["requests"]
    env = fedora_env([pip, rpm])
    plain = [PathEntry(LIB64, "site", site_dir=True)]  # what the inventory computed with PYTHONNOUSERSITE
    env.sys_path = {"image-user": plain, "arbitrary-uid": list(plain)}
    inv = Inventory(
        identities=[Identity("image-user", 1000, 1000, home="/home/app"),
                    Identity("arbitrary-uid", 1000620000, 0, [0], home="/")],
        environments=[env],
        entrypoint=Entrypoint(["python3", "-E", "app.py"], "/usr/bin/python3.12", ["-E"], "app.py"),
    )
    layers = [LayerSpec([File("/usr/bin/python3.12", b"\x7fELF", 0o755),
                         File(f"{LOCAL}/requests/__init__.py", new), File(f"{LIB64}/requests/__init__.py", old)])]
    ctx = ctx_for(layers, inv)
    ctx.image.config.env["PYTHONNOUSERSITE"] = "1"
    fill_imports(ctx.fs, inv)
    (f,) = list(context_dependent_import(ctx))
    assert f.evidence["identity"]["image-user"] == f"{LIB64}/requests/__init__.py"
    assert f.evidence["identity"]["image-user with -E"] == f"{LOCAL}/requests/__init__.py"
    assert f.evidence["identity"]["arbitrary-uid with -E"] == f"{LOCAL}/requests/__init__.py"
    # near-miss: -I ignores PYTHONNOUSERSITE too, but turns the user site off itself
    inv.entrypoint = Entrypoint(["python3", "-I", "app.py"], "/usr/bin/python3.12", ["-I"], "app.py")
    ctx = ctx_for(layers, inv)
    ctx.image.config.env["PYTHONNOUSERSITE"] = "1"
    assert list(context_dependent_import(ctx)) == []


def test_dash_E_variant_runs_the_pth_files_of_the_dirs_it_brings_back() -> None:
    """The .pth files of /usr/local (back under -E despite PYTHONNOUSERSITE) run for the
    ``with -E`` path: an editable finder there maps ``finder`` to its project."""
    finder = "__editable___finder_0_1_finder"
    pip = dist("finder", "0.1", LOCAL)
    pip.top_level = ["finder"]
    env = fedora_env([pip])
    plain = [PathEntry(LIB64, "site", site_dir=True)]
    env.sys_path = {"image-user": plain}
    inv = Inventory(
        identities=[Identity("image-user", 1000, 1000, home="/home/app")],
        environments=[env],
        entrypoint=Entrypoint(["python3", "-E", "app.py"], "/usr/bin/python3.12", ["-E"], "app.py"),
    )
    layers = [LayerSpec([
        File("/usr/bin/python3.12", b"\x7fELF", 0o755),
        File(f"{LIB64}/other.py", b""),
        File(f"{LOCAL}/__editable__.finder-0.1.pth", f"import {finder}; {finder}.install()\n".encode()),
        File(f"{LOCAL}/{finder}.py", b"MAPPING = {'finder': '/src/finder'}\n"),
        File("/src/finder/__init__.py", b""),
    ])]
    ctx = ctx_for(layers, inv)
    ctx.image.config.env["PYTHONNOUSERSITE"] = "1"
    fill_imports(ctx.fs, inv)
    (f,) = [f for f in context_dependent_import(ctx) if "import finder " in f.title]
    assert f.evidence["identity"]["image-user with -E"] == "/src/finder/__init__.py"


def test_same_dir_is_duplicate_metadata_not_shadowing() -> None:
    dists = [dist("jinja2", "2.6", LIB64, "rpm", 0), dist("jinja2", "2.8", LIB64)]
    ctx = ctx_for([LayerSpec([File("/x", b"")])], Inventory(environments=[fedora_env(dists)]))
    assert list(shadowed_distribution(ctx)) == []
    (f,) = list(duplicate_metadata(ctx))
    assert f.evidence["versions"] == ["2.6", "2.8"]


def test_site_dir_without_interpreter_is_still_inventoried_and_checked() -> None:
    """A python3.9 site-packages left behind (no 3.9 interpreter): its distributions are in the
    inventory, and two metadata dirs for one name there are still SL105."""
    from sitelens.inventory.builder import build_inventory

    old = "/usr/lib/python3.9/site-packages"
    layers = [LayerSpec([
        File(f"{old}/attrs-21.0.dist-info/METADATA", b"Name: attrs\nVersion: 21.0\n"),
        File(f"{old}/attrs-23.1.dist-info/METADATA", b"Name: attrs\nVersion: 23.1\n"),
        File(f"{old}/attr/__init__.py", b""),
    ])]
    ctx = ctx_for(layers, Inventory())
    ctx.inventory = build_inventory(ctx.fs, ctx.image)
    assert ctx.inventory.environments == []
    assert sorted(d.version or "" for d in ctx.inventory.unattached) == ["21.0", "23.1"]
    (f,) = list(duplicate_metadata(ctx))
    assert f.evidence["versions"] == ["21.0", "23.1"]


def test_sl101_names_the_installing_layer_not_a_later_chmod() -> None:
    meta_new, meta_old = b"Name: requests\nVersion: 2.32.0\n", b"Name: requests\nVersion: 2.28.1\n"
    pip = dist("requests", "2.32.0", LOCAL, layer=2)  # the chmod layer last wrote its metadata
    rpm = dist("requests", "2.28.1", LIB64, "rpm", 0, owner="rpm:python3-requests")
    layers = [
        LayerSpec([File(f"{LIB64}/requests-2.28.1.dist-info/METADATA", meta_old)], "dnf install python3-requests"),
        LayerSpec([File(f"{LOCAL}/requests-2.32.0.dist-info/METADATA", meta_new)], "pip install requests"),
        LayerSpec([File(f"{LOCAL}/requests-2.32.0.dist-info/METADATA", meta_new, 0o664, 0, 0)], "chmod -R g=u /usr"),
    ]
    ctx = ctx_for(layers, Inventory(environments=[fedora_env([pip, rpm])]))
    (f,) = list(shadowed_distribution(ctx))
    assert f.evidence["layers"] == [1, 0] and f.evidence["last_touched_layers"] == [2, 0]
    assert "installed in layer 1" in f.message and "last touched in layer 2" in f.message
