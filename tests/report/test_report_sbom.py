"""CycloneDX 1.6 and SPDX 2.3 SBOMs of the demo image, validated with the official schema
(cyclonedx-python-lib's bundled bom-1.6 schema) and the SPDX tools' validator; the import-truth
properties are checked on the real demo inventory with Environment.imports filled by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_support import DEMO, run

from sitelens.audit import AuditOptions, AuditResult, run_audit
from sitelens.inventory.model import ModuleImport
from sitelens.report.formats import renderer
from sitelens.report.interface import RenderOptions
from tests.helpers import validate_cyclonedx, validate_spdx

SITE = "/usr/lib/python3/dist-packages"
LOCAL = "/usr/local/lib/python3.11/dist-packages"


def _props(component: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in component.get("properties", []):
        out.setdefault(p["name"], []).append(p["value"])
    return out


def test_validators_reject_a_broken_document(workdir: Path) -> None:
    # the validators are live: a component without a name is refused
    code, out, _ = run("audit", str(DEMO), "-f", "cyclonedx")
    doc = json.loads(out)
    del doc["components"][0]["name"]
    with pytest.raises(AssertionError):
        validate_cyclonedx(json.dumps(doc))


def test_demo_sboms_end_to_end(workdir: Path) -> None:
    code, out, err = run("audit", str(DEMO), "-o", "cyclonedx=bom.cdx.json", "-o", "spdx=bom.spdx.json")
    assert code == 1 and out == "", err
    cdx = validate_cyclonedx((workdir / "bom.cdx.json").read_text())
    assert cdx["specVersion"] == "1.6" and cdx["metadata"]["component"]["type"] == "container"
    by_path = {c["evidence"]["occurrences"][0]["location"]: c for c in cdx["components"] if "evidence" in c}
    pip_jinja = by_path[f"{LOCAL}/jinja2-3.1.4.dist-info"]
    assert pip_jinja["purl"] == "pkg:pypi/jinja2@3.1.4"
    assert _props(pip_jinja)["sitelens:installer"] == ["pip"] and _props(pip_jinja)["sitelens:layer"] == ["1"]
    deb_markupsafe = _props(by_path[f"{SITE}/MarkupSafe-2.1.2.egg-info"])
    assert deb_markupsafe["sitelens:os-owner"] == ["dpkg:python3-markupsafe"]
    assert f"{SITE}/markupsafe/__init__.py" in deb_markupsafe["sitelens:overwritten-file"]
    os_pkgs = {c["name"]: c for c in cdx["components"] if "evidence" not in c}
    assert os_pkgs["python3-markupsafe"]["purl"] == \
        "pkg:deb/debian/python3-markupsafe@2.1.2-1%2Bb1?arch=amd64&distro=debian-12"
    assert deb_markupsafe["sitelens:os-owner-ref"] == [os_pkgs["python3-markupsafe"]["bom-ref"]]
    # both copies of jinja2 are there, each once
    assert sorted(c.get("version") for c in cdx["components"] if c["name"].lower() == "jinja2") == ["3.1.2", "3.1.4"]

    spdx = validate_spdx(workdir / "bom.spdx.json")
    names = {(p["name"], p["versionInfo"]) for p in spdx["packages"]}
    assert {("Jinja2", "3.1.4"), ("Jinja2", "3.1.2"), ("MarkupSafe", "2.1.5"),
            ("python3-jinja2", "3.1.2-1+deb12u3")} <= names
    owned = [r for r in spdx["relationships"] if r["spdxElementId"].startswith("SPDXRef-os-dpkg-python3-markupsafe")]
    assert len(owned) == 1 and owned[0]["relationshipType"] == "CONTAINS"


@pytest.fixture(scope="module")
def demo_with_imports(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    result = run_audit(str(DEMO), AuditOptions(cache_dir=tmp_path_factory.mktemp("cache")))
    env = result.inventory.environments[0]
    # what the resolver finds for the demo: pip's Jinja2 wins; markupsafe's dir holds pip's
    # 2.1.5 code under dpkg's 2.1.2 egg-info, which importlib.metadata happens to list first
    jinja = ModuleImport("jinja2", f"{LOCAL}/jinja2/__init__.py", version="3.1.4", metadata_version="3.1.4",
                         distribution="jinja2", owner=f"pip:{LOCAL}/jinja2-3.1.4.dist-info", layer=1,
                         metadata_path=f"{LOCAL}/jinja2-3.1.4.dist-info")
    markupsafe = ModuleImport("markupsafe", f"{SITE}/markupsafe/__init__.py", version="2.1.5",
                              metadata_version="2.1.2", distribution="markupsafe", owner="dpkg:python3-markupsafe",
                              layer=1, mixed=True, package_dir=f"{SITE}/markupsafe",
                              metadata_path=f"{SITE}/MarkupSafe-2.1.2.egg-info")
    env.imports = {"image-user": {"jinja2": jinja, "markupsafe": markupsafe}, "arbitrary-uid": None}
    return result


def test_import_truth_properties(demo_with_imports: AuditResult) -> None:
    cdx = validate_cyclonedx(renderer("cyclonedx").render(demo_with_imports, RenderOptions()))
    props = {c["evidence"]["occurrences"][0]["location"]: _props(c) for c in cdx["components"] if "evidence" in c}
    winner = props[f"{LOCAL}/jinja2-3.1.4.dist-info"]
    assert winner["sitelens:imported-for"] == [f"image-user: import jinja2 loads {LOCAL}/jinja2/__init__.py"]
    assert "sitelens:shadowed-for" not in winner
    loser = props[f"{SITE}/Jinja2-3.1.2.egg-info"]
    assert loser["sitelens:shadowed-for"] == [f"image-user: import jinja2 loads {LOCAL}/jinja2-3.1.4.dist-info"]
    assert "sitelens:imported-for" not in loser
    deb = props[f"{SITE}/MarkupSafe-2.1.2.egg-info"]
    assert deb["sitelens:code-version"] == ["image-user: 2.1.5"]  # the code is pip's, the metadata dpkg's
    assert deb["sitelens:mixed-tree"] == [f"image-user: {SITE}/markupsafe"]
    assert "sitelens:metadata-version" not in deb  # importlib.metadata answers this copy's own 2.1.2
    assert props[f"{SITE}/MarkupSafe-2.1.5.dist-info"]["sitelens:shadowed-for"] == [
        f"image-user: import markupsafe loads {SITE}/MarkupSafe-2.1.2.egg-info"]
    assert not any("arbitrary-uid" in v for p in props.values() for vs in p.values() for v in vs)


def test_spdx_carries_the_same_facts(demo_with_imports: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "bom.spdx.json"
    path.write_text(renderer("spdx").render(demo_with_imports, RenderOptions()))
    doc = validate_spdx(path)
    comments = [a["comment"] for p in doc["packages"] for a in p.get("annotations", [])]
    assert "sitelens:code-version=image-user: 2.1.5" in comments
    assert f"sitelens:imported-for=image-user: import jinja2 loads {LOCAL}/jinja2/__init__.py" in comments
