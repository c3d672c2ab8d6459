"""The static HTML site, checked in headless chromium: no page overflows a 1366 px screen, every
link resolves to a page of the site, no scripts, no network, paginated at 10 000 images."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from sitelens.scan.html import PAGE_SIZE, write_site
from tests.helpers import require_tool
from tests.scan.conftest import N_APPS, Filled, run_scan

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MEASURE = ("<script>document.body.setAttribute('data-measure', JSON.stringify("
           "{sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth}))</script>")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]


def _check_links(site: Path) -> int:
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        assert parser.scripts == 0, page
        for ref in parser.refs:
            assert not re.match(r"^[a-z]+:", ref), f"{page}: external reference {ref}"
            target = (page.parent / ref.split("#")[0]).resolve()
            assert target.is_file(), f"{page}: broken link {ref}"
    return len(pages)


def _overflow(page: Path, tmp: Path) -> dict:
    """Open a copy of ``page`` (same directory, so relative styles apply) at 1366 px in chromium
    with a measuring script appended; the page itself has none."""
    probe = page.with_name(f".probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    try:
        out = subprocess.run([*CHROMIUM, f"--user-data-dir={tmp / 'profile'}", "--window-size=1366,900",
                              "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink()
    assert out.returncode == 0, out.stderr[-2000:]
    found = re.search(r"data-measure=\"([^\"]+)\"", out.stdout)
    assert found, out.stdout[:2000]
    return dict(json.loads(found.group(1).replace("&quot;", '"')))


def test_site_fits_a_laptop_screen_and_every_link_resolves(filled: Filled, tmp_path: Path) -> None:
    require_tool("chromium")
    site = tmp_path / "site"
    run = run_scan(tmp_path, filled.reg.host, "--html", str(site))
    assert run.code == 3  # team/broken
    images = run.doc["images"]
    assert len(images) == N_APPS + 1
    assert _check_links(site) == 2 + len(images) + len(run.doc["summary"]["top_rules"])
    broken = next(i for i in images if i["status"] == "failed")
    worst_ok = next(i for i in images if i["status"] == "ok")
    image_page = site / "images" / (worst_ok["digest"].replace(":", "-") + ".html")
    text = image_page.read_text()
    assert "bytes per layer" in text and "<svg" in text
    for f in worst_ok["findings"]:
        assert f"../rules/{f['rule']}.html" in text
        assert (f["remediation"] or "").split("\n")[0][:40].replace("'", "&#x27;") in text
    assert "Could not be audited" in (site / "images" / (broken["digest"].replace(":", "-") + ".html")).read_text()
    rule = run.doc["summary"]["top_rules"][0]["rule"]
    assert (site / "rules" / f"{rule}.html").read_text().count("<li>") == sum(
        1 for i in images if any(f["rule"] == rule for f in i["findings"]))
    for page in (site / "index.html", site / "by-name.html", image_page, site / "rules" / f"{rule}.html"):
        m = _overflow(page, tmp_path)
        assert m["sw"] <= m["cw"] <= 1366, (page.name, m)


def test_ten_thousand_images_paginate_and_still_fit(filled: Filled, tmp_path: Path) -> None:
    require_tool("chromium")
    run = run_scan(tmp_path, filled.reg.host, "--repo", "team/app*")
    template = run.doc["images"]
    report = copy.deepcopy(run.doc)
    report["images"] = []
    for n in range(10_000):
        img = copy.deepcopy(template[n % len(template)])
        img["digest"] = f"sha256:{n:064x}"
        # Long, unbreakable names are what pushes a table off the screen.
        img["tags"] = [f"{filled.reg.host}/platform-team/very-long-service-name-number-{n:05d}:release-2026.12.02-{n}"]
        report["images"].append(img)
    site = tmp_path / "big"
    write_site(report, site)
    pages = 10_000 // PAGE_SIZE
    assert (site / f"index-{pages}.html").is_file() and not (site / f"index-{pages + 1}.html").exists()
    assert (site / f"by-name-{pages}.html").is_file()
    assert len(list((site / "images").iterdir())) == 10_000
    assert _check_links(site) == 2 * pages + 10_000 + len(list((site / "rules").iterdir()))
    for page in (site / "index.html", site / "index-57.html"):
        m = _overflow(page, tmp_path)
        assert m["sw"] <= m["cw"] <= 1366, (page.name, m)
