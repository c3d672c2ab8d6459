"""The GitHub composite action (action.yml) and the GitLab template (docs/ci/gitlab-ci.yml),
tested by running their own shell steps, as the runners would, on the demo image: sitelens is
pip-installed into a fresh venv from this checkout, and the SARIF, JSON and CycloneDX files
they produce are validated against the official schemas."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import official_sarif_schema

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo" / "jinja2-demo.tar"


def _clean_env(**extra: str) -> dict[str, str]:
    # what a runner gives a step: no PYTHONPATH pointing at a checkout, no SITELENS_* leftovers
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SITELENS_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # a python3 with venv
    return {**env, **extra}


def _bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def _expand(script: str, inputs: dict[str, str]) -> str:
    """GitHub's ${{ inputs.x }} / ${{ steps.s.outputs.y }} substitution, for the inputs given."""
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], script)


@pytest.fixture(scope="module")
def action(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


@pytest.fixture(scope="module")
def runner_temp(action: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's own install step, run once: a venv with sitelens from this checkout."""
    temp = tmp_path_factory.mktemp("runner-temp")
    step = action["runs"]["steps"][0]
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()} | {"package": str(REPO)}
    env = _clean_env(RUNNER_TEMP=str(temp), **{k: _expand(v, inputs) for k, v in step["env"].items()})
    res = _bash(step["run"], env, temp)
    assert res.returncode == 0, res.stderr
    return temp


def test_action_steps(action: dict, runner_temp: Path, tmp_path: Path) -> None:
    assert action["runs"]["using"] == "composite"
    (tmp_path / "Dockerfile").write_text((DEMO.parent / "Dockerfile").read_text())
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs |= {"image": f"docker-archive:{DEMO}", "category": "demo", "dockerfile": "Dockerfile"}
    steps = {s["name"]: s for s in action["runs"]["steps"]}
    audit = steps["Audit the image"]
    out = tmp_path / "github_output"
    env = _clean_env(RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(out),
                     **{k: _expand(v, inputs) for k, v in audit["env"].items()})
    res = _bash(audit["run"], env, tmp_path)
    assert res.returncode == 0, res.stderr  # the step records the code; the gate step fails
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert outputs == {"sarif-file": "sitelens.sarif", "exit-code": "1"}
    assert "SL101" in res.stdout  # the console report is in the job log
    sarif = json.loads((tmp_path / "sitelens.sarif").read_text())
    jsonschema.Draft4Validator(official_sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    assert run["automationDetails"]["id"] == "sitelens/demo/"
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"] for loc in r["locations"]}
    assert "Dockerfile" in uris
    # the upload step is GitHub's own action, fed the file without a category of its own
    upload = steps["Upload SARIF"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@") and "category" not in upload["with"]
    gate = steps["Gate"]
    res = _bash(gate["run"], _clean_env(SITELENS_EXIT=outputs["exit-code"]), tmp_path)
    assert res.returncode == 1
    # fail-on none: the audit step reports 0 and the gate passes
    env["SITELENS_FAIL_ON"] = "none"
    _bash(audit["run"], env, tmp_path)
    assert out.read_text().splitlines()[-1] == "exit-code=0"


def test_gitlab_template_commands(runner_temp: Path, tmp_path: Path) -> None:
    job = yaml.safe_load((REPO / "docs/ci/gitlab-ci.yml").read_text())["sitelens"]
    venv = str(runner_temp / "sitelens-venv")  # the job's /tmp/sitelens-venv, made by the action's step
    lines = [line.replace("/tmp/sitelens-venv", venv) for line in [*job["before_script"], *job["script"]]]
    variables = {k: str(v) for k, v in job["variables"].items()}
    # a local archive instead of $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA; the registry login is unused
    variables |= {"SITELENS_IMAGE": f"docker-archive:{DEMO}", "SITELENS_PACKAGE": str(REPO),
                  "SITELENS_USERNAME": "", "SITELENS_PASSWORD": ""}
    res = _bash("\n".join(lines), _clean_env(**variables), tmp_path)
    assert res.returncode == 1, res.stderr  # findings at or above high fail the job
    for artifact in job["artifacts"]["paths"]:
        assert (tmp_path / artifact).is_file(), artifact
    jsonschema.Draft4Validator(official_sarif_schema()).validate(json.loads((tmp_path / "sitelens.sarif").read_text()))
    schema = json.loads((REPO / "docs/schema/audit-v1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads((tmp_path / "sitelens.json").read_text()))
    validation = pytest.importorskip("cyclonedx.validation.json")
    from cyclonedx.schema import SchemaVersion

    assert validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        (tmp_path / "sitelens.cdx.json").read_text()) is None


def test_scan_without_its_extra_says_how_to_install_it(runner_temp: Path, tmp_path: Path) -> None:
    # the action installed plain `sitelens` (no [scan] extra): SQLAlchemy is not there
    res = subprocess.run([str(runner_temp / "sitelens-venv/bin/sitelens"), "scan", "--images", "x"],
                         capture_output=True, text=True, env=_clean_env(), cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert res.stderr == ("sitelens: sitelens scan stores its results with SQLAlchemy, which is not installed: "
                          "pip install 'sitelens[scan]'\n")
