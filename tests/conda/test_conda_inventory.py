"""conda-meta as a package database, checked against the installer's own records and the image's
own interpreters: the PrefixRecords py-rattler wrote, read back by rattler's parser (what
``conda list --json`` reports), and ``sys.path`` / ``__file__`` / ``importlib.metadata`` from
each env's ``bin/python`` run in a chroot."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fixtures.conda_env import BASE, IDENTITIES, INTERPRETERS, SITE, VENDOR, WEB, Built
from fixtures.import_truth import compare
from sitelens.audit import AuditResult
from sitelens.inventory.model import OsPackageDb


def _dbs(result: AuditResult) -> dict[str, OsPackageDb]:
    return {db.path: db for db in result.inventory.package_dbs if db.manager == "conda"}


def test_every_prefix_is_one_database(conda_audit: AuditResult) -> None:
    dbs = _dbs(conda_audit)
    assert sorted(dbs) == [f"{BASE}/conda-meta", f"{WEB}/conda-meta"]
    # layer 1 linked the base env, layer 2 the web env; pip (layers 3-4) never touches conda-meta
    assert dbs[f"{BASE}/conda-meta"].layer == 1
    assert dbs[f"{WEB}/conda-meta"].layer == 2
    assert not any(db.warnings for db in dbs.values())


def test_packages_match_the_installers_own_records(conda_built: Built, conda_audit: AuditResult) -> None:
    """``conda list --json`` of each env, from the PrefixRecords through rattler's own parser."""
    import rattler

    for path, db in _dbs(conda_audit).items():
        meta = conda_built.tree / path.lstrip("/")
        want = {}
        for rec_file in sorted(meta.glob("*.json")):
            rec = rattler.PrefixRecord.from_path(rec_file)
            want[rec.name.normalized] = (str(rec.version), str(rec.build), str(rec.channel), str(rec.subdir))
        got = {p.name: (p.version, p.build, p.channel, p.arch) for p in db.packages}
        assert got == want
        assert len(got) == (4 if path.startswith(f"{BASE}/conda-meta") else 3)


def test_owned_files_and_digests_match_the_records(conda_built: Built, conda_audit: AuditResult) -> None:
    import rattler

    for path, db in _dbs(conda_audit).items():
        prefix = path[: -len("/conda-meta")]
        for pkg in db.packages:
            assert pkg.ref is not None
            rec = rattler.PrefixRecord.from_path(conda_built.tree / pkg.ref.lstrip("/"))
            by_path = {f.path: f for f in pkg.files}
            assert sorted(by_path) == sorted(f"{prefix}/{p.relative_path}" for p in rec.paths_data.paths)
            for entry in rec.paths_data.paths:
                owned = by_path[f"{prefix}/{entry.relative_path}"]
                # the bytes linked into the prefix: sha256_in_prefix when the installer rewrote them
                want = entry.sha256_in_prefix or (None if entry.prefix_placeholder else entry.sha256)
                if entry.path_type.softlink or want is None:
                    # a symlink's recorded digest is its target's; the link itself has none
                    assert owned.digest is None
                else:
                    assert owned.algo == "sha256" and owned.digest == want


def test_prefix_rewritten_files_are_recorded_as_installed(conda_built: Built, conda_audit: AuditResult) -> None:
    """The python package's _sysconfigdata had the build prefix: rattler rewrote it to /opt/conda."""
    (py,) = [p for p in _dbs(conda_audit)[f"{BASE}/conda-meta"].packages if p.name == "python"]
    sysconf = [f for f in py.files if "_sysconfigdata_" in f.path]
    assert sysconf
    for f in sysconf:
        data = (conda_built.tree / f.path.lstrip("/")).read_bytes()
        assert b"/opt/conda" in data
        assert f.digest == hashlib.sha256(data).digest()


def test_requested_specs_and_history(conda_audit: AuditResult) -> None:
    pkgs = {p.name: p for p in _dbs(conda_audit)[f"{BASE}/conda-meta"].packages}
    assert pkgs["jinja2"].requested == "jinja2 ==3.1.2"
    assert pkgs["python"].requested == "python 3.11.*"


def test_conda_envs_are_environments_and_the_cache_is_not(conda_audit: AuditResult) -> None:
    envs = {e.executable: e for e in conda_audit.inventory.environments}
    conda_envs = sorted(e.prefix for e in envs.values() if e.kind == "conda")
    assert conda_envs == [BASE, WEB]
    # the python extracted in the package cache is cache content, not an interpreter
    assert not [e for e in envs.values() if "/pkgs/" in e.prefix]
    for e in envs.values():
        if e.kind == "conda":
            assert e.interpreter.flavor == "conda"
            assert e.interpreter.prefix == e.prefix  # sys.prefix
    assert conda_audit.strategy.kind == "conda"


def test_distribution_owners(conda_audit: AuditResult) -> None:
    web = next(e for e in conda_audit.inventory.environments if e.prefix == WEB)
    owners = {(d.name, d.version): (d.installer, d.owner_package) for d in web.distributions}
    assert owners[("jinja2", "3.1.2")] == ("conda", f"conda:{WEB}/conda-meta/jinja2-3.1.2-pyh_sitelens_0.json")
    assert owners[("jinja2", "3.1.4")] == ("pip", None)
    assert owners[("markupsafe", "2.1.5")][0] == "conda"


def test_imports_match_each_envs_own_interpreter(conda_built: Built, conda_audit: AuditResult) -> None:
    expected = conda_built.expected
    assert sorted(expected["identities"]) == sorted(i.name for i in IDENTITIES)
    assert compare(conda_audit.inventory, expected) == []
    results = expected["results"]

    def seen(exe: str, ident: str, mod: str) -> object:
        rec = results[exe][ident]["modules"][mod]
        return rec["code_version"] or rec["namespace"] or rec["error"]

    base, web = (f"{BASE}/bin/python", f"{WEB}/bin/python")
    # the oracle saw what the scenario says: pip's 3.1.4 wherever the identity can traverse the
    # package dir, an empty namespace package where it cannot (no other copy in the env)
    assert {i: seen(base, i, "jinja2") for i in ("root", "image-user", "arbitrary-uid")} == {
        "root": "3.1.4", "image-user": [f"{BASE}/{SITE}/jinja2"], "arbitrary-uid": "3.1.4"}
    assert {i: seen(web, i, "jinja2") for i in ("root", "image-user", "arbitrary-uid")} == {
        "root": "3.1.4", "image-user": "3.1.4", "arbitrary-uid": [f"{WEB}/{SITE}/jinja2"]}
    # vendor.pth (0600 root) is read by root alone
    assert {i: seen(web, i, "six") for i in ("root", "image-user", "arbitrary-uid")} == {
        "root": "1.16.0", "image-user": "ModuleNotFoundError", "arbitrary-uid": "ModuleNotFoundError"}
    # in the web env two metadata dirs make importlib.metadata's answer depend on listing order
    assert results[web]["root"]["modules"]["jinja2"]["metadata_ambiguous"] == ["3.1.2", "3.1.4"]


def test_sys_path_matches_each_envs_own_interpreter(conda_built: Built, conda_audit: AuditResult) -> None:
    by_prefix = {e.prefix: e for e in conda_audit.inventory.environments}
    for exe in INTERPRETERS:
        env = by_prefix[str(Path(exe).parent.parent)]
        for ident in IDENTITIES:
            want = conda_built.expected["results"][exe][ident.name]["sys_path"]
            got = [e.path for e in env.sys_path[ident.name] if e.exists]
            assert [p for p in want if (conda_built.tree / p.lstrip("/")).exists()] == got
            assert f"{env.prefix}/{SITE}" in got
            assert (VENDOR in got) == (exe == f"{WEB}/bin/python" and ident.name == "root")
