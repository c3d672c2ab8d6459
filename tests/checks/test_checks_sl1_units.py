"""SL1xx logic on hand-built inventories over small real layer tars (no Debian root needed)."""

from __future__ import annotations

import hashlib

from fixtures.imagebuilder import File, ImageSpec, LayerSpec, build
from sitelens.checks.base import Context
from sitelens.checks.ownership import altered_os_file, doubly_owned_file, pip_scheme_dirs, record_integrity
from sitelens.checks.requirements import requirement_not_effective, unmet_requirement
from sitelens.checks.resolution import context_dependent_import, duplicate_metadata, shadowed_distribution
from sitelens.checks.venv_integrity import dead_site_packages, stale_shebang
from sitelens.fs import Filesystem
from sitelens.inventory.import_truth import fill_imports
from sitelens.inventory.model import (
    Distribution,
    Entrypoint,
    Environment,
    Identity,
    Interpreter,
    Inventory,
    OsPackage,
    OsPackageDb,
    OwnedFile,
    PathEntry,
    RecordEntry,
)
from sitelens.inventory.requirement_files import parse_lock, parse_requirements_txt
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from tests.helpers import image_from_built

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


def test_fedora_local_site_vanishes_under_dash_s() -> None:
    new, old = b"__version__ = '2.32.0'\n", b"__version__ = '2.28.1'\n"
    pip = dist("requests", "2.32.0", LOCAL)
    pip.top_level = ["requests"]
    pip.record = [RecordEntry(f"{LOCAL}/requests/__init__.py", "requests/__init__.py", "sha256",
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


def test_same_dir_is_duplicate_metadata_not_shadowing() -> None:
    dists = [dist("jinja2", "2.6", LIB64, "rpm", 0), dist("jinja2", "2.8", LIB64)]
    ctx = ctx_for([LayerSpec([File("/x", b"")])], Inventory(environments=[fedora_env(dists)]))
    assert list(shadowed_distribution(ctx)) == []
    (f,) = list(duplicate_metadata(ctx))
    assert f.evidence["versions"] == ["2.6", "2.8"]


def test_os_file_changed_by_later_layer() -> None:
    path = "/usr/lib/python3/dist-packages/foo/__init__.py"
    orig = b"VERSION = 1\n"
    layers = [
        LayerSpec([File(path, orig)], "apt-get install python3-foo"),
        LayerSpec([File(path, b"VERSION = 2\n")], "RUN sed -i s/1/2/ foo/__init__.py"),
    ]
    pkg = OsPackage("dpkg", "python3-foo", "1.0-1", files=[OwnedFile(path, "md5", hashlib.md5(orig).digest())])
    inv = Inventory(package_dbs=[OsPackageDb("dpkg", "/var/lib/dpkg/status", 0, [pkg])])
    (f,) = list(altered_os_file(ctx_for(layers, inv)))
    assert f.evidence["changed"] == [path] and f.evidence["layers"] == [1]
    assert "python3-foo" in f.message and "sed" in f.message
    # near-miss: the later layer re-ships identical bytes
    layers[1] = LayerSpec([File(path, orig)], "RUN touch")
    assert list(altered_os_file(ctx_for(layers, inv))) == []


def test_unmet_requirement_uses_winner_and_markers() -> None:
    app = dist(
        "app", "1.0", LOCAL, requires=["requests>=2.30", "tomli>=1; python_version < '3.11'", "idna; extra == 'socks'"]
    )
    dists = [app, dist("requests", "2.28.1", LOCAL), dist("requests", "2.32.0", LIB64)]
    ctx = ctx_for([LayerSpec([File("/x", b"")])], Inventory(environments=[fedora_env(dists)]))
    (f,) = list(unmet_requirement(ctx))
    # a satisfying 2.32.0 exists, but 2.28.1 resolves first
    assert f.evidence["versions"] == ["1.0", "2.28.1"] and "requests>=2.30" in f.message


def test_requirement_parsers() -> None:
    txt = (
        "# app\nJinja2==3.1.4 \\\n    --hash=sha256:abc\n-r base.txt\n-e .\n"
        "flask>=3; python_version >= '3.8'\nhttps://example.com/x.whl\n"
    )
    got = parse_requirements_txt(txt, "/app/requirements.txt", include={"/app/base.txt": "six<2\n"})
    assert [(w.name, str(w.spec)) for w in got] == [("jinja2", "==3.1.4"), ("six", "<2"), ("flask", ">=3")]
    uv = (
        'version = 1\n[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\n'
        '[[package]]\nname = "Jinja2"\nversion = "3.1.4"\n'
    )
    assert [(w.name, str(w.spec), w.must_exist) for w in parse_lock(uv, "/app/uv.lock")] == [
        ("jinja2", "==3.1.4", False)
    ]
    pipfile = '{"default": {"jinja2": {"version": "==3.1.4"}}, "develop": {"pytest": {"version": "==8"}}}'
    assert [w.name for w in parse_lock(pipfile, "/app/Pipfile.lock")] == ["jinja2"]


def test_requirements_option_and_near_miss() -> None:
    dists = [dist("jinja2", "3.1.2", LIB64, "rpm", 0)]
    inv = Inventory(environments=[fedora_env(dists)])
    ctx = ctx_for([LayerSpec([File("/x", b"")])], inv, requirements=[("req.txt", "jinja2>=3.1.3\n")])
    (f,) = list(requirement_not_effective(ctx))
    assert f.evidence["source"] == "req.txt" and f.evidence["identity"] == ["arbitrary-uid", "image-user"]
    ok = ctx_for([LayerSpec([File("/x", b"")])], inv, requirements=[("req.txt", "jinja2>=3.1,<4\n")])
    assert list(requirement_not_effective(ok)) == []


def test_rpm_sha256_overwritten_by_pip_names_both_owners() -> None:
    """The seed's SCL image: rpm's Jinja2 2.6 egg-info beside pip's 2.8 dist-info, pip's files
    over rpm's (rpm records sha256)."""
    site = "/opt/rh/python27/root/usr/lib/python2.7/site-packages"
    init = f"{site}/jinja2/__init__.py"
    old, new = b"__version__ = '2.6'\n", b"__version__ = '2.8'\n"
    layers = [
        LayerSpec(
            [File(init, old), File(f"{site}/Jinja2-2.6-py2.7.egg-info/PKG-INFO", b"Name: Jinja2\n")],
            "yum install -y python27",
        ),
        LayerSpec([File(init, new), File(f"{site}/Jinja2-2.8.dist-info/RECORD", b"")], "RUN pip install -U Jinja2"),
    ]
    pkg = OsPackage(
        "rpm",
        "python27-python-jinja2",
        "2.6-11.el7",
        files=[
            OwnedFile(init, "sha256", hashlib.sha256(old).digest()),
            OwnedFile(
                f"{site}/Jinja2-2.6-py2.7.egg-info/PKG-INFO", "sha256", hashlib.sha256(b"Name: Jinja2\n").digest()
            ),
        ],
    )
    rpm_dist = Distribution(
        "jinja2",
        "Jinja2",
        "2.6",
        f"{site}/Jinja2-2.6-py2.7.egg-info",
        "egg-info",
        site,
        installer="rpm",
        owner_package="rpm:python27-python-jinja2",
        layer=0,
    )
    pip_dist = Distribution(
        "jinja2",
        "Jinja2",
        "2.8",
        f"{site}/Jinja2-2.8.dist-info",
        "dist-info",
        site,
        installer="pip",
        layer=1,
        record=[RecordEntry(init, "jinja2/__init__.py", "sha256", hashlib.sha256(new).digest(), len(new))],
    )
    interp = Interpreter(
        "/opt/rh/python27/root/usr/bin/python",
        "/opt/rh/python27/root/usr/bin/python",
        "2.7",
        "scl",
        "/opt/rh/python27/root/usr",
        "/opt/rh/python27/root/usr",
    )
    env = Environment(
        interp.path,
        "system",
        interp,
        interp.prefix,
        sys_path={"image-user": [PathEntry(site, "site", site_dir=True)]},
        distributions=[rpm_dist, pip_dist],
    )
    inv = Inventory(package_dbs=[OsPackageDb("rpm", "/var/lib/rpm/Packages", 0, [pkg])], environments=[env])
    ctx = ctx_for(layers, inv)
    (f,) = list(altered_os_file(ctx))
    assert f.evidence["changed"] == [init]
    assert f.evidence["owners"] == ["rpm:python27-python-jinja2", f"pip:{site}/Jinja2-2.8.dist-info"]
    assert "pip install -U Jinja2" in f.message
    (d,) = list(doubly_owned_file(ctx))
    assert d.evidence["paths"] == [init]
    (m,) = list(duplicate_metadata(ctx))
    assert m.evidence["versions"] == ["2.6", "2.8"]
    assert list(record_integrity(ctx)) == []  # the RECORD matches; rpm explains the rest


def test_stale_shebang_env_lookup_and_near_miss() -> None:
    layers = [
        LayerSpec(
            [
                File("/usr/bin/python3.11", b"\x7fELF", 0o755),
                File("/usr/local/bin/ok", b"#!/usr/bin/python3.11\n", 0o755),
                File("/usr/local/bin/viaenv", b"#!/usr/bin/env python3.11\n", 0o755),
                File("/usr/local/bin/gone", b"#!/usr/bin/env python3.9\n", 0o755),
                File("/app/venv/bin/tool", b"#!/build/venv/bin/python\n", 0o755),
            ]
        )
    ]
    ctx = ctx_for(layers, Inventory())
    found = {f.evidence["interpreter"]: f.evidence["paths"] for f in stale_shebang(ctx)}
    assert found == {
        "/build/venv/bin/python": ["/app/venv/bin/tool"],
        "python3.9 (via /usr/bin/env on PATH)": ["/usr/local/bin/gone"],
    }


def test_dead_site_packages_needs_a_missing_interpreter() -> None:
    sp = "/usr/local/lib/python3.9/site-packages"
    files = [File(f"{sp}/six-1.16.0.dist-info/METADATA", b"Name: six\n"), File(f"{sp}/six.py", b"")]
    (f,) = list(dead_site_packages(ctx_for([LayerSpec(files)], Inventory())))
    assert f.evidence["paths"] == [sp]
    with_39 = [*files, File("/usr/local/bin/python3.9", b"\x7fELF", 0o755)]
    assert list(dead_site_packages(ctx_for([LayerSpec(with_39)], Inventory()))) == []


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


def test_pip_scheme_dirs_follow_each_distributions_sysconfig() -> None:
    """Where a plain `pip install` writes (the dirs SL109 judges; --target/--prefix land elsewhere)."""
    def interp(flavor: str, prefix: str, platlibdir: str = "lib") -> Interpreter:
        return Interpreter(f"{prefix}/bin/python3", f"{prefix}/bin/python3.12", "3.12", flavor,
                           prefix, prefix, platlibdir=platlibdir)

    assert pip_scheme_dirs(interp("debian", "/usr")) == {"/usr/local/lib/python3.12/dist-packages"}
    assert pip_scheme_dirs(interp("alpine", "/usr")) == {"/usr/lib/python3.12/site-packages"}
    assert pip_scheme_dirs(interp("fedora", "/usr", "lib64")) == {
        "/usr/local/lib/python3.12/site-packages", "/usr/local/lib64/python3.12/site-packages"}
