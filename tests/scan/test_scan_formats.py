"""`scan` renders through the same format table and protocol as `audit` (issue 12): console and
JSON are renderers of ``TABLE["scan"]``, the HTML site a SiteRenderer of it, with RenderOptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitelens.errors import UsageError
from sitelens.report.formats import FORMATS, SCAN_FORMATS, renderer, site_renderer
from sitelens.report.interface import RenderOptions
from tests.scan.conftest import Filled, run_scan


def test_scan_formats_share_the_table_with_audit() -> None:
    assert set(FORMATS) == {"console", "json", "sarif", "cyclonedx", "spdx"}  # audit's, unchanged
    assert set(SCAN_FORMATS) == {"console", "json", "html"}
    for name in SCAN_FORMATS:
        assert renderer(name, "scan").name == name
    assert renderer("console", "scan") is not renderer("console")  # same name, its own result type
    with pytest.raises(UsageError, match="choose from console, json, html"):
        renderer("sarif", "scan")
    with pytest.raises(UsageError, match="not a directory"):
        site_renderer("json", "scan")


def test_scan_outputs_go_through_the_renderers(filled: Filled, tmp_path: Path) -> None:
    run = run_scan(tmp_path, filled.reg.host, "--repo", "team/app*", "--html", str(tmp_path / "site"))
    report = run.doc
    assert json.loads(renderer("json", "scan").render(report, RenderOptions())) == report

    site = site_renderer("html", "scan")
    files = site.render_files(report, RenderOptions())
    assert site.render(report, RenderOptions()) == files["index.html"]
    assert files["index.html"] == (tmp_path / "site" / "index.html").read_text()
    assert sorted(files) == sorted(str(p.relative_to(tmp_path / "site"))
                                   for p in (tmp_path / "site").rglob("*.html"))

    console = renderer("console", "scan")
    narrow = console.render(report, RenderOptions(width=70))
    wide = console.render(report, RenderOptions(width=200))
    assert max(len(line) for line in narrow.splitlines()) <= 70 < max(len(line) for line in wide.splitlines())
    assert narrow.startswith("sitelens scan (this run): ") and "Worst images" in narrow
    cli = run_scan(tmp_path, filled.reg.host, "--repo", "team/app*", fmt="console", env={"COLUMNS": "70"})
    # the CLI renders with the width COLUMNS gives; only the run's own counts differ (all unchanged now)
    assert max(len(line) for line in cli.doc["text"].splitlines()) <= 70
