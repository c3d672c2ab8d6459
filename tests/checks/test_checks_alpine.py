"""Alpine / musl images (``fixtures/alpine_image.py``): apk's database written to its documented
format from real wheels' files, pip over ``py3-*`` packages, manylinux vs musllinux wheels.

There is no musl interpreter on this machine and no apk-tools: everything here is checked
statically, against the apk database the fixture wrote and the real wheels' bytes, not against a
running interpreter or ``apk audit`` (see the fixture's docstring for what is from spec)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fixtures.alpine_image import SITE, AlpineImage, alpine_image
from sitelens.checks.interpreter_abi import image_libc
from sitelens.inventory.attribution import Attributor
from tests.checks.sl1_harness import Audited, audit

RULES = ("SL101", "SL103", "SL104", "SL106", "SL107", "SL109", "SL113")
_cache: dict[tuple[bool, bool], tuple[AlpineImage, Audited]] = {}


def audited(tmp: Path, usr_merged: bool = False, musl_wheel: bool = False) -> tuple[AlpineImage, Audited]:
    key = (usr_merged, musl_wheel)
    if key not in _cache:
        img = alpine_image(tmp / f"alpine-{usr_merged}-{musl_wheel}", usr_merged, musl_wheel)
        _cache[key] = (img, audit(img.built, RULES))
    return _cache[key]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alpine")


@pytest.mark.parametrize("usr_merged", [False, True], ids=["lib", "usr-merged"])
def test_apk_database_read_from_either_spelling(work: Path, usr_merged: bool) -> None:
    img, a = audited(work, usr_merged)
    (db,) = a.inventory.package_dbs
    assert db.manager == "apk"
    assert db.path == "/usr/lib/apk/db/installed" if usr_merged else "/lib/apk/db/installed"
    pkgs = {p.name: p for p in db.packages}
    assert set(pkgs) == set(img.apk_files)
    for name, files in img.apk_files.items():
        got = {f.path: f for f in pkgs[name].files if not f.is_dir}
        assert set(got) == set(files)
        for path, content in files.items():
            assert (got[path].algo, got[path].digest) == ("sha1", hashlib.sha1(content).digest())
    # the layer index hashes apk's python tree with sha1, so apk's claims there are verifiable
    six_py = a.fs.lookup(f"{SITE}/six.py")
    assert six_py is not None and six_py.entry.sha1 == hashlib.sha1(img.apk_files["py3-six"][f"{SITE}/six.py"]).digest()


def test_interpreter_is_alpine_flavour_on_musl(work: Path) -> None:
    _, a = audited(work)
    assert image_libc(a.ctx) == "musl"
    (env,) = [e for e in a.inventory.environments if e.executable == "/usr/bin/python3.11"]
    assert env.interpreter.flavor == "alpine"
    assert [e.path for e in env.sys_path["root"] if e.site_dir] == [SITE]


def test_pip_over_py3_package_is_sl103_with_verified_sha1(work: Path) -> None:
    """Planted: pip replaced py3-idna's files in place. Near-miss: py3-six, untouched, whose
    sha1s all match, stays silent (before the index kept sha1s both were 'unverified')."""
    img, a = audited(work)
    (f,) = a.rule("SL103")
    assert f.evidence["owners"][0] == "apk:py3-idna"
    assert f.evidence["distribution"] == "idna"
    changed = set(f.evidence["changed"])
    assert f"{SITE}/idna/core.py" in changed and f"{SITE}/idna/idnadata.py" in changed
    # files identical in 3.6 and 3.7 match apk's sha1 and are not reported
    same = [p for p, c in img.apk_files["py3-idna"].items()
            if (n := a.fs.lookup(p)) is not None and n.entry.sha1 == hashlib.sha1(c).digest()]
    assert same and not changed & set(same)
    assert f"{SITE}/idna-3.7.dist-info/RECORD" in f.evidence["deleted"]
    assert "3.6" in f.message
    att = Attributor(a.fs, [d for e in a.inventory.environments for d in e.distributions],
                     [p for db in a.inventory.package_dbs for p in db.packages])
    six = att.file(f"{SITE}/six.py")
    assert [c.owner for c in six.matches] == ["apk:py3-six"] and not six.unverified
    core = att.file(f"{SITE}/idna/core.py")
    assert [c.owner for c in core.mismatches] == ["apk:py3-idna"]
    assert [c.version for c in core.matches] == ["3.6"]


def test_manylinux_wheel_on_musl_is_sl113(work: Path) -> None:
    _, a = audited(work)
    (f,) = a.rule("SL113")
    assert f.evidence["distribution"] == "markupsafe"
    assert "on a musl image" in f.message and "glibc" in f.message
    assert any(p.endswith("_speedups.cpython-311-x86_64-linux-gnu.so") for p in f.evidence["paths"])


def test_musllinux_wheel_on_musl_is_silent(work: Path) -> None:
    _, a = audited(work, musl_wheel=True)
    assert a.rule("SL113") == []
    ms = [d for e in a.inventory.environments for d in e.distributions if d.name == "markupsafe"]
    assert ms and all(any("musllinux" in t for t in d.wheel_tags or []) for d in ms)


def test_py3_packages_are_apk_owned_not_pip(work: Path) -> None:
    _, a = audited(work)
    (env,) = [e for e in a.inventory.environments if e.executable == "/usr/bin/python3.11"]
    by = {d.name: d for d in env.distributions}
    assert (by["six"].installer, by["six"].owner_package) == ("apk", "apk:py3-six")
    assert by["idna"].installer == "pip" and by["idna"].version == "3.6"
    # no doubly-owned or RECORD findings for apk's own RECORD (apk's digest is the truth there)
    assert not [x for x in a.rule("SL106") if x.evidence.get("distribution") == "six"]
    assert not [x for x in a.rule("SL104") if "py3-six" in str(x.evidence.get("owners"))]


def test_pip_over_apk_is_doubly_owned_and_bypasses_externally_managed(work: Path) -> None:
    """Alpine ≥ 3.19 marks its Python EXTERNALLY-MANAGED; the pip layer forced past it (SL109), and
    the idna files it rewrote are claimed by apk and by pip's RECORD at once (SL104)."""
    _, a = audited(work)
    (sl109,) = a.rule("SL109")
    assert "/usr/lib/python3.11/EXTERNALLY-MANAGED" in sl109.message and "idna 3.6" in sl109.message
    (sl104,) = a.rule("SL104")
    assert sl104.evidence["owners"][:1] == ["apk:py3-idna"]
    assert any(o.startswith("pip:") and o.endswith("idna-3.6.dist-info") for o in sl104.evidence["owners"])
