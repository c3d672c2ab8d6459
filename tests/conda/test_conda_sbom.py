"""SBOMs of the conda image: one component per conda package per environment (names repeat across
envs, refs must not), conda purls, and each conda-owned dist-info linked to its package; both
documents pass the official validators."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.conda_env import BASE, WEB
from sitelens.audit import AuditResult
from sitelens.report.formats import renderer
from sitelens.report.interface import RenderOptions
from tests.helpers import validate_cyclonedx, validate_spdx


def test_cyclonedx_has_one_component_per_conda_package_per_env(conda_audit: AuditResult) -> None:
    cdx = validate_cyclonedx(renderer("cyclonedx").render(conda_audit, RenderOptions()))
    refs = [c["bom-ref"] for c in cdx["components"]]
    assert len(refs) == len(set(refs))
    conda = [c for c in cdx["components"] if c.get("purl", "").startswith("pkg:conda/")]
    names = sorted(c["name"] for c in conda)
    assert names == ["jinja2", "jinja2", "markupsafe", "markupsafe", "pip", "python", "python"]
    jinja = next(c for c in conda if c["name"] == "jinja2")
    assert jinja["purl"].startswith("pkg:conda/jinja2@3.1.2?build=pyh_sitelens_0&channel=file")
    assert jinja["purl"].endswith("&subdir=noarch")
    # the web env's conda-owned dist-info points at the web env's record, not the base env's
    by_ref = {c["bom-ref"]: c for c in cdx["components"]}
    owned = [c for c in cdx["components"] if "evidence" in c
             and c["evidence"]["occurrences"][0]["location"].startswith(f"{WEB}/lib/python3.11/site-packages/Jinja2-")]
    (dist,) = owned
    (owner_ref,) = [p["value"] for p in dist["properties"] if p["name"] == "sitelens:os-owner-ref"]
    assert f"{WEB}/conda-meta/jinja2-3.1.2" in owner_ref and by_ref[owner_ref]["name"] == "jinja2"
    assert BASE + "/conda-meta" not in owner_ref


def test_spdx_validates(conda_audit: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "bom.spdx.json"
    path.write_text(renderer("spdx").render(conda_audit, RenderOptions()))
    doc = validate_spdx(path)
    ids = [p["SPDXID"] for p in doc["packages"]]
    assert len(ids) == len(set(ids))
    assert json.dumps(doc).count("pkg:conda/jinja2@3.1.2") == 2
