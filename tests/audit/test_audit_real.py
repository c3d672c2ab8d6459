"""The audit on real images (Debian 12 root, Debian's pip and venv, PyPI wheels, built by
fixtures/sl1_images.py): build strategy detection, JSON valid against the schema with real
environments and findings, SARIF valid against the official schema, the console's one-screen
story for the Jinja2 shadowing, and --requirements reaching SL116 through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from fixtures import sl1_images as imgs
from fixtures.imagebuilder import Built, ImageSpec, build, write_oci_layout
from sitelens.audit import AuditOptions, AuditResult, audit_image
from sitelens.cli import app
from sitelens.fs import Filesystem
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from sitelens.report.json_report import audit_document
from tests.helpers import image_from_built, require_tool
from tests.helpers import official_sarif_schema as _official_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "src/sitelens/report/schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
CACHE = REPO / ".fixture-cache" / "sl1-index"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    require_tool("mmdebstrap", "chroot")
    work = tmp_path_factory.mktemp("audit-real")
    out = {"local-shadow": imgs.local_shadow(work).built,
           "user-site-shadow": imgs.user_site_shadow(work).built}
    venvs = imgs.venv_images(work)
    out["venv-clean"] = venvs["venv-clean"].built
    out["venv-relocated"] = venvs["venv-relocated"].built
    out["distro"] = build(ImageSpec([imgs.base_layer()], cmd=["python3"]), None)
    return out


_results: dict[str, AuditResult] = {}


def audited(images: dict[str, Built], name: str) -> AuditResult:
    if name not in _results:
        image = image_from_built(images[name], ref=f"fixture/{name}")
        indexes = load_indexes(image, LayerCache(CACHE, enabled=True))
        fs = Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])
        _results[name] = audit_image(image, indexes, fs, AuditOptions())
    return _results[name]


@pytest.mark.parametrize(
    ("name", "kind", "multi_stage"),
    [
        ("local-shadow", "system", False),
        ("user-site-shadow", "user", False),
        ("venv-clean", "venv", False),
        ("venv-relocated", "venv", True),
        ("distro", "distro", False),
    ],
)
def test_audit_real_strategy(images: dict[str, Built], name: str, kind: str,
                             multi_stage: bool) -> None:
    s = audited(images, name).strategy
    assert (s.kind, s.multi_stage) == (kind, multi_stage), s.evidence


@pytest.mark.parametrize("name", ["local-shadow", "user-site-shadow", "venv-clean",
                                  "venv-relocated", "distro"])
def test_audit_real_json_matches_schema(images: dict[str, Built], name: str) -> None:
    result = audited(images, name)
    doc = json.loads(json.dumps(audit_document(result, "high")))
    VALIDATOR.validate(doc)
    assert not doc["errors"], doc["errors"]  # no real check crashes on real images
    system = next(e for e in doc["environments"] if e["interpreter"].startswith("/usr/bin/python3"))
    assert system["kind"] == "system" and system["version"] == "3.11"
    assert "/usr/lib/python3/dist-packages" in system["sys_path"]["image-user"]
    debian = [d for d in system["distributions"] if d["name"] == "jinja2"
              and d["path"] == "/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info"]
    assert len(debian) == 1
    assert debian[0]["owner_package"] == "dpkg:python3-jinja2" and debian[0]["layer"] == 0


def test_audit_real_shadowing_story_through_cli(images: dict[str, Built], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    layout = tmp_path / "img"
    write_oci_layout(images["local-shadow"], layout)
    ref = f"oci:{layout}"
    runner = CliRunner()
    res = runner.invoke(app, ["audit", ref, "--cache-dir", str(tmp_path / "c")],
                        env={"COLUMNS": "110"})
    assert res.exit_code == 1, res.stdout + res.stderr
    screen = "\n".join(res.stdout.splitlines()[:40])  # the first screen tells the story
    assert "SL101" in screen and "jinja2" in screen.lower()
    assert "3.1.4" in screen and "3.1.2" in screen
    assert "system-wide pip install" in screen  # how the image was built

    res = runner.invoke(app, ["audit", ref, "-f", "json", "--cache-dir", str(tmp_path / "c")])
    doc = json.loads(res.stdout)
    VALIDATOR.validate(doc)
    sl101 = [f for f in doc["findings"] if f["rule"] == "SL101"]
    assert sl101 and sl101[0]["severity"] == "high"
    assert "dpkg:python3-jinja2" in sl101[0]["evidence"]["owners"]

    # suppress exactly that and the gate opens, if nothing else is high
    others_high = [f for f in doc["findings"] if f["rule"] != "SL101"
                   and f["severity"] in ("critical", "high")]
    (tmp_path / ".sitelens.toml").write_text(
        '[[suppress]]\nrule = "SL101"\nmatch = "jinja2"\nreason = "tested both copies"\n')
    res = runner.invoke(app, ["audit", ref, "-f", "sarif", "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == (1 if others_high else 0)
    sarif = json.loads(res.stdout)
    jsonschema.Draft4Validator(_official_schema()).validate(sarif)
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "SL101"]
    assert results and all(r.get("suppressions") for r in results)


def test_audit_real_requirements_option_reaches_sl116(images: dict[str, Built],
                                                     tmp_path: Path) -> None:
    layout = tmp_path / "img"
    write_oci_layout(images["distro"], layout)
    req = tmp_path / "requirements.txt"
    req.write_text("Jinja2>=3.1.3\n")
    args = ["audit", f"oci:{layout}", "-f", "json", "--cache-dir", str(tmp_path / "c")]
    res = CliRunner().invoke(app, args)
    before = [f for f in json.loads(res.stdout)["findings"] if f["rule"] == "SL116"]
    res = CliRunner().invoke(app, [*args, "--requirements", str(req)])
    doc = json.loads(res.stdout)
    VALIDATOR.validate(doc)
    after = [f for f in doc["findings"] if f["rule"] == "SL116"]
    assert not before and after, doc["findings"]
    assert "jinja2" in json.dumps(after[0]["evidence"]).lower()
    assert res.exit_code == 1
