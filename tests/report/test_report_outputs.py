"""CLI conventions of `sitelens audit` on the demo image: several outputs in one run, `-o -`,
--severity, -q, -v, SITELENS_* variables, and one-line errors with README's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from report_support import DEMO, REPO, run, sarif_schema

SCHEMA = json.loads((REPO / "src/sitelens/report/schema.json").read_text())


def test_several_outputs_in_one_run(workdir: Path) -> None:
    code, out, err = run("audit", str(DEMO), "-o", "sarif=r.sarif", "-o", "json=r.json",
                         "-o", "console=r.txt", "--cache-dir", "cache")
    assert code == 1 and out == "", err
    jsonschema.Draft4Validator(sarif_schema()).validate(json.loads((workdir / "r.sarif").read_text()))
    doc = json.loads((workdir / "r.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert (workdir / "r.txt").read_text().startswith("╭─ sitelens")


def test_dash_is_stdout_and_plain_file_takes_format(workdir: Path) -> None:
    code, out, _ = run("audit", str(DEMO), "-f", "json", "-o", "-", "-o", "sarif=s.sarif")
    assert code == 1 and json.loads(out)["schema_version"] == 1
    assert not (workdir / "-").exists() and (workdir / "s.sarif").is_file()
    code, out, _ = run("audit", str(DEMO), "-f", "sarif", "-o", "plain.out")
    assert out == "" and json.loads((workdir / "plain.out").read_text())["version"] == "2.1.0"
    code, _, err = run("audit", str(DEMO), "-o", "-", "-o", "json=-")
    assert code == 2 and err == "sitelens: -o -: only one report can go to stdout\n"


def test_severity_filters_what_is_shown_not_the_exit_code(workdir: Path) -> None:
    everything = json.loads(run("audit", str(DEMO), "-f", "json")[1])
    mediums = sum(1 for f in everything["findings"] if f["severity"] == "medium")
    code, out, _ = run("audit", str(DEMO), "-f", "json", "--severity", "high", "--fail-on", "medium")
    doc = json.loads(out)
    assert code == 1 and {f["severity"] for f in doc["findings"]} == {"high"}
    assert mediums > 0 and doc["summary"]["medium"] == mediums  # the summary still counts everything
    code, out, _ = run("audit", str(DEMO), "--severity", "critical", "--fail-on", "high")
    highs = sum(1 for f in everything["findings"] if f["severity"] == "high")
    assert code == 1 and "SL101" not in out and f"{highs} high" in out


def test_quiet_and_verbose(workdir: Path) -> None:
    code, out, err = run("audit", str(DEMO), "-q")
    assert (code, out, err) == (1, "", "")
    code, out, err = run("audit", str(DEMO), "-q", "-o", "json=r.json")
    assert code == 1 and out == "" and (workdir / "r.json").is_file()
    code, out, err = run("audit", str(DEMO), "-v", "-f", "json")
    assert code == 1 and err.startswith("sitelens: audited ") and json.loads(out)


def test_environment_variables(workdir: Path) -> None:
    code, out, _ = run("audit", str(DEMO), env={"SITELENS_FAIL_ON": "none", "SITELENS_FORMAT": "json"})
    assert code == 0 and json.loads(out)["fail_on"] == "none"
    code, out, _ = run("audit", str(DEMO), "-f", "sarif", env={"SITELENS_SARIF_CATEGORY": "shop"})
    assert json.loads(out)["runs"][0]["automationDetails"]["id"] == "sitelens/shop/"
    code, _, err = run("audit", str(DEMO), env={"SITELENS_PLATFORM": "linux/arm64"})
    assert code == 3 and "linux/arm64" in err


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--fail-on", "bogus"], 2, "sitelens: --fail-on 'bogus': choose one of critical, high, medium, low, info, none"),
    (["--severity", "urgent"], 2, "sitelens: --severity 'urgent': choose one of critical, high, medium, low, info"),
    (["-f", "xml"], 2, "sitelens: unknown format 'xml' (choose from "),
    (["--platform", "linux/arm64"], 3, "the image is linux/amd64, not linux/arm64"),
    (["--platform", "arm64"], 2, "invalid platform 'arm64': expected os/arch[/variant]"),
    (["--username", "u"], 2, "sitelens: --username needs --password-stdin (or SITELENS_PASSWORD)"),
    (["--timeout", "0"], 2, "0.1"),
])
def test_bad_options_are_one_line(workdir: Path, args: list[str], code: int, message: str) -> None:
    got, out, err = run("audit", str(DEMO), *args)
    assert got == code, err
    assert message in err and "Traceback" not in err + out
    if code != 2 or args[0] != "--timeout":  # click's own range message is two lines of usage
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("ref", [
    "/nope.tar", "docker-archive:/nope.tar", "oci-archive:/nope.tar", "nope/x.tar", "./nope",
    "oci:/nope", "dir:/nope",
])
def test_every_not_found_form_exits_3(workdir: Path, ref: str) -> None:
    code, _, err = run("audit", ref, "--no-cache")
    assert code == 3, err
    assert err.startswith("sitelens: ") and "no such" in err and len(err.splitlines()) == 1


def test_unreachable_registry_says_why_in_words(workdir: Path) -> None:
    from fixtures.registry import closed_port

    code, _, err = run("audit", f"registry:127.0.0.1:{closed_port()}/demo/app:1", "--no-cache", "--timeout", "5")
    assert code == 3
    assert err.endswith("registry unreachable (connection refused)\n") and err.count("(") == err.count(")")


def test_timeout_applies_to_a_registry_that_never_answers(workdir: Path) -> None:
    import socket
    import time

    # a listening socket nobody accepts on: the TCP handshake completes, no HTTP answer comes
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        started = time.monotonic()
        code, _, err = run("layers", f"registry:127.0.0.1:{port}/demo/app:1", "--no-cache", "--timeout", "0.5")
        elapsed = time.monotonic() - started
    assert code == 3 and err.endswith("registry unreachable (timed out)\n"), err
    assert elapsed < 30  # retries with backoff, but every try gives up after 0.5 s, not 30 s
