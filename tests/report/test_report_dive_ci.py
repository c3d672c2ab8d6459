"""A team's existing .dive-ci is the waste gate of `sitelens audit` (SL306), on the demo image,
whose dive figures are efficiency 0.967, 88376 wasted bytes, 6.8 % user-wasted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_support import DEMO, run

from sitelens.dive_ci import parse_size


def _sl306(workdir: Path, dive_ci: str | None, *extra: str) -> tuple[int, list[dict]]:
    if dive_ci is not None:
        (workdir / ".dive-ci").write_text(dive_ci)
    code, out, err = run("audit", str(DEMO), "-f", "json", "--fail-on", "none", *extra)
    assert code in (0, 2), err
    return code, [f for f in json.loads(out or "{}").get("findings", []) if f["rule"] == "SL306"]


def test_dive_ci_thresholds_gate_the_demo(workdir: Path) -> None:
    assert _sl306(workdir, None)[1] == []  # sitelens's own floor keeps a 2 MB image quiet
    code, found = _sl306(workdir, "rules:\n  # as dive reads it\n  lowestEfficiency: 0.99\n"
                                  "  highestWastedBytes: disabled\n  highestUserWastedPercent: disabled\n")
    assert code == 0 and len(found) == 1 and "efficiency" in found[0]["message"]
    _, found = _sl306(workdir, "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 80KB\n")
    assert len(found) == 1 and "wasted bytes 88376 > highest_wasted_bytes 80000" in found[0]["message"]
    assert _sl306(workdir, "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 90KB\n")[1] == []


def test_sitelens_config_waste_table_wins(workdir: Path) -> None:
    (workdir / ".sitelens.toml").write_text("[waste]\nlowest_efficiency = 0.5\n")
    assert _sl306(workdir, "rules:\n  lowestEfficiency: 0.99\n")[1] == []


@pytest.mark.parametrize("text", ["rules:\n  lowestEfficency: 0.9\n", "rules:\n  lowestEfficiency: high\n",
                                  "rules:\n  highestUserWastedPercent: 20\n"])
def test_bad_dive_ci_is_a_usage_error(workdir: Path, text: str) -> None:
    (workdir / ".dive-ci").write_text(text)
    code, out, err = run("audit", str(DEMO))
    assert code == 2 and err.startswith("sitelens: ") and ".dive-ci:2:" in err and len(err.splitlines()) == 1


def test_sizes_as_dive_reads_them() -> None:
    assert [parse_size(s) for s in ("20MB", "20MiB", "1.5 KB", "300", "2gib")] == \
        [20_000_000, 20 << 20, 1500, 300, 2 << 30]
