"""`sitelens layers` (console and JSON) and the waste block of `sitelens audit`, end to end on
docker-archives read through the real source, compared with the real dive."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner
from waste_specs import BIG, CHOWN, PYTHON_APP
from waste_support import run_dive_ci, run_dive_json, write_archive

from sitelens.cli import app

SCHEMA = Path(__file__).resolve().parents[2] / "src" / "sitelens" / "report" / "schema.json"


def _run(*args: str) -> tuple[int, str]:
    # the layer table follows COLUMNS: pin it so a cut created_by never depends on the runner
    res = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "160"})
    return res.exit_code, res.stdout


@pytest.fixture(scope="module")
def python_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_archive(PYTHON_APP, tmp_path_factory.mktemp("pyapp") / "image.tar")


def test_layers_json(python_app: Path, tmp_path: Path) -> None:
    code, out = _run("layers", f"docker-archive:{python_app}", "--format", "json", "--no-cache")
    assert code == 0
    doc = json.loads(out)
    layers = doc["image"]["layers"]
    assert [layer["index"] for layer in layers] == [0, 1, 2, 3]
    assert layers[3]["created_by"] == "RUN rm -rf /var/lib/apt/lists && chmod -R g=u /app"
    assert layers[3]["files"] == {"added": 0, "modified": 0, "metadata_only": 2, "unchanged": 0,
                                  "deleted": 2, "dirs_deleted": 1}
    assert layers[3]["hidden_from_below"] == 530_000
    assert layers[3]["hidden_from_below_by_cause"] == {"deleted-with-dir": 520_000, "metadata": 10_000}
    assert layers[3]["metadata_bytes"] == 10_000
    assert layers[1]["diff_id"].startswith("sha256:") and layers[1]["size"] > 0
    waste = doc["waste"]
    assert waste["wasted_bytes"] == 550_000 and waste["offenders"][0]["path"] == "/var/lib/apt/lists"
    dive = run_dive_json(python_app, tmp_path)
    assert waste["dive"]["efficiency_score"] == dive.efficiency
    assert waste["dive"]["inefficient_bytes"] == dive.inefficient_bytes
    assert waste["dive"]["user_wasted_percent"] == dive.user_wasted_percent
    assert [layer["dive_size"] for layer in layers] == dive.layer_sizes
    caches = {c["kind"]: c["path"] for c in waste["python"]["caches"]}
    assert caches == {"pip-cache": "/root/.cache/pip"}


def test_layers_console_matches_dive_ci_lines(python_app: Path, tmp_path: Path) -> None:
    code, out = _run("layers", f"docker-archive:{python_app}", "--no-cache")
    assert code == 0
    ci = run_dive_ci(python_app, tmp_path)
    for key in ("efficiency:", "userWastedPercent:"):
        ours = next(line for line in out.splitlines() if line.strip().startswith(key))
        theirs = next(line for line in ci.text.splitlines() if line.strip().startswith(key))
        assert ours.split(":", 1)[1].split() == theirs.split(":", 1)[1].split()
    assert f"wastedBytes:       {ci.wasted_bytes} bytes" in out
    assert "rm -rf dir" in out and "/var/lib/apt/lists" in out
    assert "RUN pip install -r requirements.txt" in out  # created_by in the layer table
    # largest offender listed before the smaller ones
    assert out.index("/var/lib/apt/lists") < out.index("/var/lib/dpkg/status")


def test_layers_bad_format_is_a_usage_error(python_app: Path) -> None:
    code, _ = _run("layers", f"docker-archive:{python_app}", "--format", "sarif")
    assert code == 2


def test_audit_json_has_waste_block_and_findings(tmp_path: Path) -> None:
    archive = write_archive(BIG, tmp_path / "big.tar", layout="oci")
    code, out = _run("audit", f"docker-archive:{archive}", "--format", "json", "--no-cache",
                     "--fail-on", "none")
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["waste"]["wasted_bytes"] == 5 * 1024 * 1024
    assert set(doc["waste"]["dive"]) >= {"efficiency_score", "inefficient_bytes", "user_wasted_percent"}
    rules = {f["rule"] for f in doc["findings"]}
    assert {"SL301", "SL302", "SL303"} <= rules
    assert "SL306" not in rules  # 5 MiB: under the default 20 MiB floor
    assert doc["errors"] == []


def test_audit_gate_from_config(tmp_path: Path) -> None:
    archive = write_archive(CHOWN, tmp_path / "chown.tar")
    cfg = tmp_path / "sitelens.toml"
    cfg.write_text("[waste]\nlowest_efficiency = 0.9\nmin_wasted_bytes = 0\n")
    code, out = _run("audit", f"docker-archive:{archive}", "--format", "json", "--no-cache",
                     "--config", str(cfg))
    doc = json.loads(out)
    gate = [f for f in doc["findings"] if f["rule"] == "SL306"]
    assert len(gate) == 1 and gate[0]["severity"] == "high"
    assert code == 1
