"""SARIF that GitHub code scanning can track across builds, on the real demo image: validated
against the OASIS schema, one stable automationDetails.id per image repository, partial
fingerprints, relative locations, Dockerfile lines by created_by, no region for directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from report_support import APT_LINE, COPY_LINE, DEMO, DEMO_DOCKERFILE, PIP_LINE, run, sarif_schema

from sitelens.report.sarif import automation_id, category_for


def _sarif(workdir: Path, *extra: str, ref: str = str(DEMO)) -> dict:
    code, out, err = run("audit", ref, "-f", "sarif", "--cache-dir", str(workdir / "cache"), *extra)
    assert code == 1, err
    doc = json.loads(out)
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)
    return doc


def _uris(result: dict) -> list[tuple[str, int | None]]:
    return [(loc["physicalLocation"]["artifactLocation"]["uri"],
             loc["physicalLocation"].get("region", {}).get("startLine"))
            for loc in result["locations"]]


def test_automation_id_is_the_repository_not_the_tag_or_digest(workdir: Path) -> None:
    # the same image under two file names of one repository, and once by transport prefix
    copy = workdir / "v2" / "jinja2-demo.tar"
    copy.parent.mkdir()
    shutil.copy(DEMO, copy)
    ids = {_sarif(workdir, ref=ref)["runs"][0]["automationDetails"]["id"]
           for ref in (str(DEMO), f"docker-archive:{copy}")}
    assert ids == {"sitelens/jinja2-demo/"}
    doc = _sarif(workdir, "--sarif-category", "web api")
    assert doc["runs"][0]["automationDetails"]["id"] == "sitelens/web-api/"
    assert "sha256" not in json.dumps(doc["runs"][0]["automationDetails"])


def test_category_defaults_from_the_image_name() -> None:
    assert category_for("registry:ghcr.io/acme/shop/api:1.2") == "api"
    assert category_for("registry:ghcr.io/acme/api@sha256:" + "a" * 64) == "api"
    assert category_for("docker:python:3.12-slim") == "python"
    assert category_for("oci-archive:/tmp/build/web.tar") == "web"
    assert automation_id("a/b c") == "sitelens/a-b-c/"


def test_locations_relative_with_prefix_and_no_region_for_directories(workdir: Path) -> None:
    doc = _sarif(workdir, "--sarif-path-prefix", "image/")
    results = doc["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    for r in results:
        assert len(r["partialFingerprints"]["sitelens/v1"]) == 32
        for uri, _ in _uris(r):
            assert uri.startswith("image/") and ":" not in uri
    # SL101 names two metadata directories: no lines, so no region
    assert _uris(by_rule["SL101"]) == [
        ("image/usr/local/lib/python3.11/dist-packages/jinja2-3.1.4.dist-info", None),
        ("image/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info", None)]
    # SL103 names files: startLine 1
    assert ("image/usr/lib/python3/dist-packages/markupsafe/__init__.py", 1) in _uris(by_rule["SL103"])


def test_fingerprints_match_the_json_report(workdir: Path) -> None:
    sarif = _sarif(workdir)
    code, out, _ = run("audit", str(DEMO), "-f", "json", "--cache-dir", str(workdir / "cache"))
    assert sorted(r["partialFingerprints"]["sitelens/v1"] for r in sarif["runs"][0]["results"]) == \
        sorted(f["fingerprint"] for f in json.loads(out)["findings"])


def test_dockerfile_lines_by_created_by(workdir: Path) -> None:
    (workdir / "docker").mkdir()
    (workdir / "docker" / "Dockerfile").write_text(DEMO_DOCKERFILE)
    doc = _sarif(workdir, "--dockerfile", "docker/Dockerfile")
    by_rule = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    # SL101: the pip copy came from layer 1 (the pip RUN), the dpkg copy from layer 0 (apt RUN)
    assert _uris(by_rule["SL101"])[:2] == [("docker/Dockerfile", PIP_LINE), ("docker/Dockerfile", APT_LINE)]
    assert _uris(by_rule["SL103"])[0] == ("docker/Dockerfile", PIP_LINE)
    # image-wide (runs as root, no USER): the final stage's FROM line
    assert _uris(by_rule["SL206"]) == [("docker/Dockerfile", 1)]
    assert COPY_LINE not in {line for r in by_rule.values() for _, line in _uris(r)}


def test_dockerfile_missing_is_a_usage_error(workdir: Path) -> None:
    code, out, err = run("audit", str(DEMO), "-f", "sarif", "--dockerfile", "nope/Dockerfile")
    assert code == 2 and err.strip() == "sitelens: cannot read Dockerfile nope/Dockerfile: No such file or directory"
