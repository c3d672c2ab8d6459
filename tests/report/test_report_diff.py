"""`sitelens diff` and `audit --baseline` on real images: the demo, and the demo rebuilt without
its `RUN pip install` layer (the fix its findings ask for), as images and as saved reports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from report_support import DEMO, REPO, demo_without_pip_layer, run

SITE = "/usr/lib/python3/dist-packages"


@pytest.fixture
def fixed(workdir: Path) -> str:
    return f"oci:{demo_without_pip_layer(workdir / 'fixed')}:fixed"


def _diff(*args: str) -> tuple[int, str, str]:
    return run("diff", *args, "--cache-dir", "cache")


def _validate(doc: dict) -> None:
    """Against docs/schema/diff-v1.json, whose findings refer to the audit report's schema."""
    from referencing import Registry, Resource

    schemas = REPO / "docs" / "schema"
    audit = json.loads((schemas / "audit-v1.json").read_text())
    diff = json.loads((schemas / "diff-v1.json").read_text())
    registry = Registry().with_resources([(audit["$id"], Resource.from_contents(audit)),
                                          (diff["$id"], Resource.from_contents(diff))])
    jsonschema.Draft202012Validator(diff, registry=registry).validate(doc)


def test_fix_reads_as_fixed_findings_and_removed_copies(workdir: Path, fixed: str) -> None:
    code, out, err = _diff(str(DEMO), fixed, "-f", "json")
    doc = json.loads(out)
    _validate(doc)
    # the pip layer's consequences are gone (how many findings each rule makes is the checks' business)
    assert {f["rule"] for f in doc["findings"]["fixed"]} == {"SL101", "SL103", "SL104", "SL105", "SL109"}
    # without pip's Jinja2 the app's requirements.txt (Jinja2>=3.1.4) is no longer met: a new high
    assert [f["rule"] for f in doc["findings"]["added"]] == ["SL116"] and code == 1 and doc["exit_code"] == 1
    assert {f["rule"] for f in doc["findings"]["unchanged"]} >= {"SL206", "SL203"}
    changes = {(c["name"], c["site_dir"]): (c["change"], c["old_version"], c["new_version"])
               for c in doc["distributions"]}
    assert changes == {("jinja2", "/usr/local/lib/python3.11/dist-packages"): ("removed", "3.1.4", None),
                       ("markupsafe", SITE): ("changed", "2.1.2, 2.1.5", "2.1.2")}
    assert doc["waste"]["wasted_bytes"] == {"old": 23762, "new": 0, "delta": -23762}
    assert _diff(str(DEMO), fixed, "--fail-on", "critical")[0] == 0


def _counts(old: str, new: str) -> tuple[int, int, int, int]:
    doc = json.loads(_diff(old, new, "-f", "json")[1])
    f = doc["findings"]
    high = sum(1 for x in f["added"] if x["severity"] in ("critical", "high") and not x["suppressed"])
    return len(f["added"]), len(f["fixed"]), len(f["unchanged"]), high


def test_regression_fails_the_gate_and_markdown_for_a_pr(workdir: Path, fixed: str) -> None:
    added, gone, same, high = _counts(fixed, str(DEMO))
    code, out, _ = _diff(fixed, str(DEMO), "-f", "markdown")
    assert code == 1 and high >= 3 and gone == 1  # SL101, SL103, SL105 come back; SL116 goes
    assert out.startswith("### sitelens: ") and "| high | SL101 |" in out
    assert f"**{added} added, {gone} fixed, {same} unchanged**" in out
    assert f"{high} new finding(s) at or above --fail-on high: exit 1" in out
    assert "| `/usr/bin/python3.11` | jinja2 | `/usr/local/lib/python3.11/dist-packages` | added 3.1.4 |" in out
    assert _diff(fixed, str(DEMO), "--fail-on", "none")[0] == 0


def test_saved_reports_and_console(workdir: Path, fixed: str) -> None:
    assert run("audit", str(DEMO), "-q", "-o", "json=old.json")[0] == 1
    assert run("audit", fixed, "-q", "-o", "json=new.json")[0] == 1
    added, gone, same, _ = _counts("old.json", "new.json")
    code, out, _ = _diff("old.json", "new.json", "-o", "-", "--fail-on", "critical")
    assert code == 0 and added == 1
    assert f"{added} added, {gone} fixed, {same} unchanged" in out and f"FIXED ({gone})" in out
    assert "wasted bytes 23.2 KiB → 0 B (-23.2 KiB)" in out
    code, _, err = _diff("old.json", "nope.json")
    assert code == 2 and err == "sitelens: cannot read report nope.json: No such file or directory\n"
    (workdir / "bad.json").write_text('{"findings": 1}')
    code, _, err = _diff("old.json", "bad.json")
    assert code == 2 and err == "sitelens: bad.json is not a sitelens JSON report with schema_version 1\n"


def test_baseline_fails_only_on_new_findings(workdir: Path, fixed: str) -> None:
    assert run("audit", fixed, "-q", "-o", "json=baseline.json")[0] == 1
    code, out, _ = run("audit", str(DEMO), "-f", "json", "--baseline", "baseline.json")
    doc = json.loads(out)
    assert code == 1  # SL101/SL103/SL105 are new since the baseline
    base = {f["rule"]: f for f in doc["findings"] if f["suppressed"]}
    assert set(base) >= {"SL206", "SL203"} and base["SL206"]["suppression"]["reason"].startswith("present in baseline")
    # a baseline taken from the image itself: nothing new, the gate passes
    assert run("audit", str(DEMO), "-q", "-o", "json=self.json")[0] == 1
    assert run("audit", str(DEMO), "-q", "--baseline", "self.json")[0] == 0
    code, _, err = run("audit", str(DEMO), "--baseline", "missing.json")
    assert code == 2 and "cannot read report missing.json" in err
