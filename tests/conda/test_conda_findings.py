"""pip over conda, as the checks tell it: conda is the OS-like owner (SL103/SL104/SL105), its
package cache is waste (SL303) that is not an install (no SL304), and what conda linked and
nobody touched stays silent — including the files conda itself rewrote (prefix placeholders)."""

from __future__ import annotations

import stat
from pathlib import Path

from fixtures.conda_env import BASE, SITE, WEB, Built
from sitelens.audit import AuditResult
from sitelens.findings import Finding

WEB_SITE = f"{WEB}/{SITE}"
BASE_SITE = f"{BASE}/{SITE}"


def _rule(result: AuditResult, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def _owner(prefix: str, name: str) -> str:
    version, build = {"jinja2": ("3.1.2", "pyh_sitelens_0"), "markupsafe": ("2.1.5", "py311h_sitelens_0"),
                      "python": ("3.11.7", "h_sitelens_0"), "pip": ("24.2", "pyh_sitelens_0")}[name]
    return f"conda:{prefix}/conda-meta/{name}-{version}-{build}.json"


def test_pip_target_upgrade_over_conda_is_two_owners(conda_audit: AuditResult) -> None:
    """The measured case: conda's dist-info and pip's RECORD list the same files in one site dir."""
    (f,) = [f for f in _rule(conda_audit, "SL104") if f.evidence["paths"][0].startswith(WEB_SITE)]
    assert f.evidence["owners"] == [_owner(WEB, "jinja2"), f"pip:{WEB_SITE}/jinja2-3.1.4.dist-info"]
    assert f"{WEB_SITE}/jinja2/__init__.py" in f.evidence["paths"]
    assert "conda install" in f.remediation and "pip install --no-deps" in f.remediation


def test_files_pip_rewrote_or_deleted_name_conda_as_owner(conda_audit: AuditResult) -> None:
    by_prefix = {f.evidence["owners"][0]: f for f in _rule(conda_audit, "SL103")}
    assert set(by_prefix) == {_owner(BASE, "jinja2"), _owner(WEB, "jinja2")}
    web = by_prefix[_owner(WEB, "jinja2")]
    assert f"{WEB_SITE}/jinja2/__init__.py" in web.evidence["changed"]
    assert web.evidence["versions"][:1] == ["3.1.2"] and "3.1.4" in web.evidence["versions"]
    assert web.evidence["deleted"] == []  # --target leaves conda's dist-info in place
    assert f"conda package jinja2 3.1.2 in {WEB}" in web.message
    assert f"conda remove -p {WEB} --force jinja2" in web.remediation
    # plain `pip install` uninstalled conda's copy: its dist-info is gone, conda-meta still lists it
    base = by_prefix[_owner(BASE, "jinja2")]
    assert f"{BASE_SITE}/Jinja2-3.1.2.dist-info/METADATA" in base.evidence["deleted"]
    assert f"conda list -p {BASE}` still reports jinja2 3.1.2" in base.message


def test_two_metadata_dirs_in_the_conda_site(conda_audit: AuditResult) -> None:
    (f,) = [f for f in _rule(conda_audit, "SL105") if WEB_SITE in f.title]
    assert sorted(f.evidence["versions"]) == ["3.1.2", "3.1.4"]
    assert _owner(WEB, "jinja2") in f.evidence["owners"]
    assert "conda remove --force jinja2" in f.remediation
    assert not [g for g in _rule(conda_audit, "SL105") if BASE_SITE in g.title]


def test_untouched_conda_packages_stay_silent(conda_audit: AuditResult) -> None:
    """markupsafe as conda linked it, and python whose _sysconfigdata conda rewrote (its
    sha256_in_prefix differs from the package's sha256 by design): no ownership finding."""
    quiet = {_owner(p, n) for p in (BASE, WEB) for n in ("markupsafe", "python")} | {_owner(BASE, "pip")}
    for rule in ("SL103", "SL104", "SL105", "SL106", "SL107"):
        for f in _rule(conda_audit, rule):
            assert not quiet & set(f.evidence.get("owners", [])), (rule, f.title)
            assert not any("markupsafe" in p or "/lib/python3.11/_sysconfigdata" in p
                           for p in f.evidence.get("paths", [])), (rule, f.title)
    # conda-installed RECORDs are conda's story, never "RECORD does not match" (SL106)
    assert not _rule(conda_audit, "SL106")


def _freed_by_removing(tree: Path, cache: str) -> int:
    """Bytes that deleting ``cache`` frees in the unpacked image: inodes no path outside it links."""
    outside = {(st.st_dev, st.st_ino) for p in (tree / BASE.lstrip("/")).rglob("*")
               if not str(p).startswith(str(tree / cache.lstrip("/")) + "/")
               and (st := p.lstat()) and stat.S_ISREG(st.st_mode)}
    seen: set[tuple[int, int]] = set()
    total = 0
    for p in (tree / cache.lstrip("/")).rglob("*"):
        st = p.lstat()
        key = (st.st_dev, st.st_ino)
        if stat.S_ISREG(st.st_mode) and key not in outside and key not in seen:
            seen.add(key)
            total += st.st_size
    return total


def test_package_cache_is_waste_and_not_an_install(conda_built: Built, conda_audit: AuditResult) -> None:
    (cache,) = [f for f in _rule(conda_audit, "SL303") if f.evidence["paths"] == [f"{BASE}/pkgs"]]
    assert "conda clean" in cache.remediation
    # the base env's files are hard links to the cache's (one layer): removing the cache frees
    # only what no env links, which is what SL303 counts
    shared = (conda_built.tree / BASE.lstrip("/") / SITE / "markupsafe" / "__init__.py").lstat().st_nlink
    assert shared == 2
    freed = _freed_by_removing(conda_built.tree, f"{BASE}/pkgs")
    apparent = sum(p.lstat().st_size for p in (conda_built.tree / BASE.lstrip("/") / "pkgs").rglob("*") if p.is_file())
    # what stays counted: Jinja2 (pip deleted the env's names), info/, python's rewritten sources
    assert cache.evidence["bytes"] == freed and 100_000 < freed < apparent // 20
    for f in _rule(conda_audit, "SL304"):
        assert not any("/pkgs/" in p for p in f.evidence.get("site_dirs", f.evidence.get("paths", [])))
    for rule in ("SL115", "SL101", "SL102"):
        assert not [f for f in _rule(conda_audit, rule) if "/pkgs/" in f.title]
