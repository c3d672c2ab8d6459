"""Start-up: an audit imports only what it uses. typer 0.2x would import pydantic to coerce every
option (even unset ones); sitelens passes plain values through and leaves the rest to typer, so
bad values still get typer's own errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sitelens.cli import app

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "jinja2-demo.tar"

PROBE = """
import sys
from sitelens.cli import main
sys.argv = ["sitelens", "audit", "-f", "json", "-o", sys.argv[1], "--fail-on", "none", "--cache-dir",
            sys.argv[2], "--requirements", sys.argv[3], sys.argv[4]]
try:
    main()
except SystemExit as exc:
    print(exc.code, sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "rich")),
          "audited" if "sitelens.inventory.builder" in sys.modules else "cached")
"""


def test_audit_imports_no_pydantic_nor_rich_for_a_json_report(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("jinja2\n")
    out = tmp_path / "r.json"
    for _ in range(2):  # the audit, then the same run answered by the result cache
        proc = subprocess.run([sys.executable, "-c", PROBE, str(out), str(tmp_path / "c"), str(req),
                               f"docker-archive:{DEMO}"], capture_output=True, text=True, check=True)
        assert proc.stdout.split()[:2] == ["0", "[]"], proc.stderr
        assert out.stat().st_size > 1000


def test_a_flag_from_the_environment_needs_no_pydantic_and_keeps_its_meaning(tmp_path: Path) -> None:
    import os

    req = tmp_path / "requirements.txt"
    req.write_text("jinja2\n")
    argv = [sys.executable, "-c", PROBE, str(tmp_path / "r.json"), str(tmp_path / "c"), str(req),
            f"docker-archive:{DEMO}"]

    def probe(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "SITELENS_NO_RESULT_CACHE"}
        if value is not None:
            env["SITELENS_NO_RESULT_CACHE"] = value
        return subprocess.run(argv, capture_output=True, text=True, env=env)

    assert probe(None).stdout.split() == ["0", "[]", "audited"]
    for value, expected in (("1", "audited"), ("YES", "audited"), ("off", "cached"), ("0", "cached")):
        assert probe(value).stdout.split() == ["0", "[]", expected], value
    bad = probe("maybe")  # not a boolean: typer's coercion and its error, as before
    assert bad.stdout.split()[0] == "2" and "SITELENS_NO_RESULT_CACHE" in bad.stderr


def test_values_that_need_validation_still_get_typers_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    cache = ["--cache-dir", str(tmp_path / "c")]
    for bad in (["--timeout", "0.01"], ["--timeout", "soon"]):
        res = runner.invoke(app, ["audit", f"docker-archive:{DEMO}", *cache, *bad])
        assert res.exit_code == 2 and "--timeout" in res.output, (bad, res.output)
    res = runner.invoke(app, ["audit", f"docker-archive:{DEMO}", *cache, "--timeout", "0.01"])
    assert "0.1" in res.output
    res = runner.invoke(app, ["layers", f"docker-archive:{DEMO}", *cache, "-f", "yaml"])
    assert res.exit_code == 2 and "yaml" in res.output
    res = runner.invoke(app, ["audit", f"docker-archive:{DEMO}", *cache, "-q", "--timeout", "5"])
    assert res.exit_code == 1  # a number as text: typer's coercion, then the audit


SCAN_PROBE = """
import sys
from sitelens.cli import main
sys.argv = ["sitelens", "scan", "--images", sys.argv[1], "--format", "json", "--workers", "2", "--cache-dir",
            sys.argv[2], "--db", sys.argv[3]]
try:
    main()
except SystemExit as exc:
    print(exc.code, sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "rich")))
"""


def test_a_json_scan_imports_no_pydantic_nor_rich(tmp_path: Path) -> None:
    images = tmp_path / "images.txt"
    images.write_text(f"docker-archive:{DEMO}\n")
    proc = subprocess.run([sys.executable, "-c", SCAN_PROBE, str(images), str(tmp_path / "c"),
                           str(tmp_path / "s.db")], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr


def test_numbers_and_choices_in_plain_spelling_skip_typer_and_others_keep_its_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    images = tmp_path / "images.txt"
    images.write_text(f"docker-archive:{DEMO}\n")
    base = ["scan", "--images", str(images), "--cache-dir", str(tmp_path / "c"), "--db", str(tmp_path / "s.db")]
    res = runner.invoke(app, [*base, "--format", "json", "--workers", "2"])
    assert res.exit_code == 0 and '"audited": 1' in res.output, res.output
    for bad in (["--workers", "two"], ["--workers", "-1"], ["--format", "yaml"]):
        res = runner.invoke(app, [*base, *bad])
        assert res.exit_code == 2 and bad[0] in res.output, (bad, res.output)
