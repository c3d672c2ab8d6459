"""SL101/SL102/SL116 and `sitelens why` on the import-truth image, whose answers the chroot oracle
confirms (tests/imports/test_imports_match_interpreter.py): the rules say what really loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.import_truth import CACHE, Built
from sitelens.audit import AuditOptions, AuditResult, run_audit
from sitelens.cli import app

SYS = "/usr/bin/python3.11"
DEB = "/usr/lib/python3/dist-packages"


@pytest.fixture(scope="module")
def audited(built: Built, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    req = tmp_path_factory.mktemp("req") / "requirements.txt"
    req.write_text("jinja2==3.1.4\nmarkupsafe==2.1.5\n")
    opts = AuditOptions(cache_dir=CACHE / "index", requirements=(req,))
    return run_audit(built.ref, opts)


def _rule(a: AuditResult, rule: str, dist: str, interpreter: str = SYS) -> Any:
    hits = [f for f in a.findings if f.rule == rule and f.evidence.get("distribution") == dist
            and f.evidence.get("interpreter") == interpreter]
    assert len(hits) == 1, [f.title for f in a.findings if f.rule == rule]
    return hits[0]


def test_sl102_names_the_silent_fall_through(audited: AuditResult) -> None:
    f = _rule(audited, "SL102", "pyyaml")
    assert f.evidence["identity"]["root"] == "/opt/pp/yaml/__init__.py"
    assert f.evidence["identity"]["arbitrary-uid"] == f"{DEB}/yaml/__init__.py"
    assert f.evidence["identity"]["image-user"] == f"{DEB}/yaml/__init__.py"
    assert "/opt/pp/yaml cannot be searched" in f.message and "silently" in f.message
    assert f.evidence["modules"][0] == "yaml"  # _yaml, the other module of PyYAML, is in the same finding


def test_sl102_empty_namespace_and_permission_error(audited: AuditResult) -> None:
    idna = _rule(audited, "SL102", "idna")
    assert idna.evidence["identity"]["image-user"] is None  # an empty namespace package
    assert "`from idna import …` fails" in idna.message
    six = _rule(audited, "SL102", "six")
    assert six.evidence["identity"]["arbitrary-uid"] == "PermissionError"
    assert six.evidence["identity"]["root"] == "/opt/pp/six.py"


def test_no_import_findings_through_an_interpreter_an_identity_cannot_start(audited: AuditResult) -> None:
    for f in audited.findings:
        if f.rule.startswith("SL1") and f.evidence.get("interpreter") in ("/root/venv/bin/python",
                                                                          "/opt/venv-build/bin/python"):
            idents = f.evidence.get("identity")
            names = list(idents) if isinstance(idents, (dict, list)) else [idents]
            assert names == ["root"], (f.rule, f.title, idents)
    assert any(f.rule == "SL205" and "/root/venv/bin/python" in f.title for f in audited.findings)


def test_sl101_says_which_copy_loads_for_whom(audited: AuditResult) -> None:
    f = _rule(audited, "SL101", "jinja2")
    loaded = f.evidence["loaded"]
    assert loaded["root"]["version"] == "3.1.4" and loaded["root"]["file"] == "/opt/private/jinja2/__init__.py"
    assert loaded["arbitrary-uid"]["version"] == "3.1.2"
    assert "depending on the identity" in f.title


def test_sl116_judges_the_code_that_loads(audited: AuditResult) -> None:
    jinja = [f for f in audited.findings if f.rule == "SL116" and f.evidence["distribution"] == "jinja2"]
    assert len(jinja) == 1 and jinja[0].evidence["identity"] == ["arbitrary-uid", "image-user"]
    assert jinja[0].evidence["versions"] == ["3.1.2", "3.1.4"]
    # pip wrote 2.1.5's bytes over dpkg's markupsafe: the pin is met by the code that runs (the two
    # metadata dirs in one directory are SL105's story)
    assert not [f for f in audited.findings if f.rule == "SL116" and f.evidence["distribution"] == "markupsafe"]
    assert any(f.rule == "SL105" and f.evidence["distribution"] == "markupsafe" for f in audited.findings)


def _why(module: str, built: Built, tmp_path: Path) -> dict[tuple[str, str], dict]:
    """``sitelens why MODULE`` as JSON: (interpreter, identity) -> its result."""
    out = tmp_path / "why.json"
    res = CliRunner().invoke(app, ["why", module, built.ref, "--format", "json", "-o", str(out),
                                   "--cache-dir", str(CACHE / "index")])
    assert res.exit_code == 0, res.output
    return {(r["interpreter"], r["identity"]): r for r in json.loads(out.read_text())["results"]}


def test_why_follows_the_chain(built: Built, tmp_path: Path) -> None:
    by = _why("yaml", built, tmp_path)
    arb = by[(SYS, "arbitrary-uid")]["import"]
    assert arb["file"] == f"{DEB}/yaml/__init__.py" and arb["owner"] == "dpkg:python3-yaml"
    assert [s["outcome"] for s in arb["steps"] if s["entry"] == "/opt/pp"] == ["namespace"]
    assert by[("/root/venv/bin/python", "image-user")]["cannot_start"]
    assert by[(SYS, "root")]["import"]["version"] == "6.0.1"
    console = CliRunner().invoke(app, ["why", "yaml", built.ref, "--cache-dir", str(CACHE / "index")])
    assert console.exit_code == 0 and "cannot be searched" in console.output


def test_why_names_the_namespace_shims_that_made_the_module(built: Built, tmp_path: Path) -> None:
    got = _why("zope", built, tmp_path)[(SYS, "image-user")]["import"]
    shims = [s for s in got["steps"] if "-nspkg.pth" in s["detail"]]
    # pip's shim in /usr/local runs first and makes a namespace; dpkg's adds its dir, and its
    # zope/__init__.py is never the answer
    assert [s["entry"] for s in shims[:2]] == ["/usr/local/lib/python3.11/dist-packages", DEB]
    assert got["file"] is None


def test_an_editable_install_is_one_install(audited: AuditResult) -> None:
    from sitelens.checks.helpers import ordered_copies

    env = next(e for e in audited.inventory.environments if e.executable == SYS)
    kinds = sorted(d.kind for d in env.distributions if d.name == "eggedit")
    assert kinds == ["egg-info", "egg-link"]  # the .egg-link and the project's own egg-info
    assert [d.kind for d in ordered_copies(env, env.sys_path["root"])["eggedit"]] == ["egg-link"]
    assert not [f for f in audited.findings if f.rule == "SL101" and f.evidence["distribution"] == "eggedit"]
