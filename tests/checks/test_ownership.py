"""checks/ownership.py: SL103, SL104, SL106, SL107, SL109 on hand-built inventories over real layer tars."""

from __future__ import annotations

import hashlib

from fixtures.imagebuilder import File, LayerSpec
from sitelens.checks.ownership import altered_os_file, doubly_owned_file, pip_scheme_dirs, record_integrity
from sitelens.checks.resolution import duplicate_metadata
from sitelens.inventory.model import (
    Distribution,
    Environment,
    Interpreter,
    Inventory,
    OsPackage,
    OsPackageDb,
    OwnedFile,
    PathEntry,
    RecordEntry,
)
from tests.checks.check_support import ctx_for


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
        record=[RecordEntry(init, "sha256", hashlib.sha256(new).digest(), len(new))],
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


def test_pip_scheme_dirs_follow_each_distributions_sysconfig() -> None:
    """Where a plain `pip install` writes (the dirs SL109 judges; --target/--prefix land elsewhere)."""
    def interp(flavor: str, prefix: str, platlibdir: str = "lib") -> Interpreter:
        return Interpreter(f"{prefix}/bin/python3", f"{prefix}/bin/python3.12", "3.12", flavor,
                           prefix, prefix, platlibdir=platlibdir)

    assert pip_scheme_dirs(interp("debian", "/usr")) == {"/usr/local/lib/python3.12/dist-packages"}
    assert pip_scheme_dirs(interp("alpine", "/usr")) == {"/usr/lib/python3.12/site-packages"}
    assert pip_scheme_dirs(interp("fedora", "/usr", "lib64")) == {
        "/usr/local/lib/python3.12/site-packages", "/usr/local/lib64/python3.12/site-packages"}
