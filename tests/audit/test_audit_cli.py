"""`sitelens audit` end to end through the CLI on real OCI layouts: exit codes, --fail-on,
config and suppressions, every format validated against its schema, --output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from audit_testcheck import HIGH_JINJA, LOW_CACHE, write_marker_image
from typer.testing import CliRunner

from sitelens.cli import app

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "src/sitelens/report/schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .sitelens.toml / pyproject.toml is discovered
    return tmp_path


def audit_json(ref: str, tmp: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = run("audit", ref, "--format", "json", "--cache-dir", str(tmp / "cache"), *extra)
    assert out, err
    doc = json.loads(out)
    VALIDATOR.validate(doc)
    assert doc["exit_code"] == code
    return code, doc


@pytest.mark.parametrize(
    ("items", "fail_on", "expected"),
    [
        ([HIGH_JINJA], None, 1),        # default fail-on is high
        ([HIGH_JINJA], "high", 1),
        ([HIGH_JINJA], "critical", 0),
        ([HIGH_JINJA], "none", 0),
        ([LOW_CACHE], None, 0),
        ([LOW_CACHE], "medium", 0),
        ([LOW_CACHE], "low", 1),
        ([LOW_CACHE], "info", 1),
        ([], "info", 0),
    ],
)
def test_audit_fail_on_levels(workdir: Path, items: list, fail_on: str | None, expected: int) -> None:
    ref = write_marker_image(workdir, items)
    extra = ["--fail-on", fail_on] if fail_on else []
    code, doc = audit_json(ref, workdir, *extra)
    assert code == expected
    assert doc["fail_on"] == (fail_on or "high")
    assert sum(doc["summary"][s] for s in ("critical", "high", "medium", "low", "info")) == len(items)


def test_audit_suppression_turns_exit_code_green(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA, LOW_CACHE])
    code, doc = audit_json(ref, workdir)
    assert code == 1
    (workdir / ".sitelens.toml").write_text(
        '[[suppress]]\nrule = "SL101"\nmatch = "Jinja2"\n'
        'reason = "distro ansible needs its own copy"\nexpires = 2099-12-31\n'
    )
    code, doc = audit_json(ref, workdir)
    assert code == 0
    jinja = next(f for f in doc["findings"] if f["rule"] == "SL101")
    assert jinja["suppressed"] is True
    assert jinja["suppression"]["reason"] == "distro ansible needs its own copy"
    assert doc["summary"]["high"] == 0 and doc["summary"]["suppressed"] == 1
    assert doc["suppressions"][0]["status"] == "active" and doc["suppressions"][0]["matched"] == 1
    # still failing at low: the suppression covers only its own finding
    code, _ = audit_json(ref, workdir, "--fail-on", "low")
    assert code == 1


def test_audit_suppression_by_path_glob_in_pyproject(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA])
    (workdir / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[[tool.sitelens.suppress]]\nrule = "SL101"\n'
        'match = "/usr/local/lib/python3.11/dist-packages/*"\nreason = "intended"\n'
    )
    code, doc = audit_json(ref, workdir)
    assert code == 0 and doc["findings"][0]["suppressed"] is True


def test_audit_expired_and_unused_suppressions_are_reported(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA])
    cfg = workdir / "gate.toml"
    cfg.write_text(
        '[[suppress]]\nrule = "SL101"\nmatch = "jinja2"\nreason = "old decision"\n'
        'expires = 2020-01-01\n\n'
        '[[suppress]]\nrule = "SL105"\nmatch = "six"\nreason = "gone since"\n'
    )
    code, doc = audit_json(ref, workdir, "--config", str(cfg))
    assert code == 1  # the expired entry no longer silences the high finding
    statuses = {s["rule"]: s for s in doc["suppressions"]}
    assert statuses["SL101"]["status"] == "expired" and statuses["SL101"]["matched"] == 1
    assert "expired on 2020-01-01" in statuses["SL101"]["message"]
    assert statuses["SL105"]["status"] == "unused" and statuses["SL105"]["matched"] == 0
    assert doc["findings"][0]["suppressed"] is False
    code, out, _ = run("audit", ref, "--config", str(cfg), "--cache-dir", str(workdir / "c"))
    assert code == 1
    assert "expired on 2020-01-01" in out and "matched no finding" in out


def test_audit_config_fail_on_and_severity_override(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA])
    (workdir / ".sitelens.toml").write_text('fail-on = "critical"\n')
    assert audit_json(ref, workdir)[0] == 0
    assert audit_json(ref, workdir, "--fail-on", "high")[0] == 1  # the CLI wins over the config
    (workdir / ".sitelens.toml").write_text('[severity]\nSL101 = "low"\n')
    code, doc = audit_json(ref, workdir)
    assert code == 0
    f = doc["findings"][0]
    assert f["severity"] == "low" and f["default_severity"] == "high"
    assert doc["summary"]["low"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "fail-on = 'severe'\n",
        "[[suppress]]\nrule = 'SL101'\n",                       # no reason
        "[[suppress]]\nrule = 'SL999'\nreason = 'x'\n",         # unknown rule
        "[[suppress]]\nrule = 'SL101'\nreason = 'x'\nexpires = 'soon'\n",
        "[severity]\nSL101 = 'urgent'\n",
        "colour = 'red'\n",                                     # unknown key
        "fail-on = \n",                                         # not TOML
    ],
)
def test_audit_bad_config_is_exit_2(workdir: Path, text: str) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA])
    cfg = workdir / "bad.toml"
    cfg.write_text(text)
    code, out, err = run("audit", ref, "--config", str(cfg), "--cache-dir", str(workdir / "c"))
    assert code == 2, out
    assert err.startswith("sitelens: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_audit_missing_inputs(workdir: Path) -> None:
    ref = write_marker_image(workdir, [])
    assert run("audit", ref, "--config", str(workdir / "nope.toml"))[0] == 2
    assert run("audit", ref, "--requirements", str(workdir / "nope.txt"))[0] == 2
    assert run("audit", ref, "--user", "app")[0] == 2
    code, _, err = run("audit", f"oci:{workdir / 'missing'}", "--no-cache")
    assert code == 3 and err.startswith("sitelens: ")


def test_audit_crashing_check_is_reported_and_exit_2(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA], crash=True)
    code, doc = audit_json(ref, workdir, "--fail-on", "none")
    assert code == 2
    assert doc["errors"][0]["check"].endswith("crash_on_marker")
    assert doc["errors"][0]["rules"] == ["SL107"]
    assert [f["rule"] for f in doc["findings"]] == ["SL101"]  # the other checks still ran
    code, out, err = run("audit", ref, "--cache-dir", str(workdir / "c"))
    assert code == 2 and "internal error in check" in err and "INTERNAL ERROR" in out


def test_audit_check_emitting_undeclared_rule_is_a_bug(workdir: Path) -> None:
    ref = write_marker_image(workdir, [dict(HIGH_JINJA, rule="SL102")])
    code, doc = audit_json(ref, workdir)
    assert code == 2 and "does not declare" in doc["errors"][0]["error"]


def test_audit_output_file_and_extra_user(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA])
    out_file = workdir / "report.json"
    code, out, _ = run("audit", ref, "-f", "json", "-o", str(out_file), "--user", "4242:0",
                       "--cache-dir", str(workdir / "c"))
    assert code == 1 and out == ""
    doc = json.loads(out_file.read_text())
    VALIDATOR.validate(doc)
    names = [i["name"] for i in doc["identities"]]
    assert names[:3] == ["image-user", "arbitrary-uid", "root"] and "user:4242:0" in names
    user = next(i for i in doc["identities"] if i["name"] == "image-user")
    assert (user["uid"], user["gid"], user["home"]) == (1000, 1000, "/home/app")


def test_audit_console_summary_first(workdir: Path) -> None:
    ref = write_marker_image(workdir, [HIGH_JINJA, LOW_CACHE])
    code, out, _ = run("audit", ref, "--cache-dir", str(workdir / "c"))
    assert code == 1
    summary, _, rest = out.partition("HIGH (1)")
    assert "Image" in summary and "Runs as" in summary and "image-user uid 1000" in summary
    assert "1 high, 1 low" in summary and "exit 1" in summary
    assert "SL101" in summary and "Worst findings" in summary
    # findings by severity, worst first, each with evidence and its fix
    assert rest.index("SL101") < rest.index("LOW (1)") < rest.index("SL303")
    assert "dpkg:python3-jinja2" in rest and "Fix: fix it" in rest
    assert "sitelens explain SL101" in rest


def test_audit_json_is_deterministic(workdir: Path) -> None:
    ref = write_marker_image(workdir, [LOW_CACHE, HIGH_JINJA])
    _, a = audit_json(ref, workdir)
    _, b = audit_json(ref, workdir, "--no-cache")
    assert a == b
    assert [f["rule"] for f in a["findings"]] == ["SL101", "SL303"]  # worst first
    assert a["image"]["layers"][1]["created_by"] == "RUN marker"
    assert a["image"]["layers"][1]["size"] > 0 and a["image"]["digest"].startswith("sha256:")


def test_audit_fingerprint_stable_across_rebuilds(workdir: Path) -> None:
    first = write_marker_image(workdir / "a", [HIGH_JINJA])
    # a rebuild: other versions and layers, same problem
    moved = dict(HIGH_JINJA, versions=["3.1.5", "3.1.2"], layers=[3, 1])
    second = write_marker_image(workdir / "b", [moved, LOW_CACHE])
    fp1 = audit_json(first, workdir)[1]["findings"][0]["fingerprint"]
    fp2 = next(f["fingerprint"] for f in audit_json(second, workdir)[1]["findings"]
               if f["rule"] == "SL101")
    assert fp1 == fp2
