"""SL301–SL306 on fixture images: what fires, what stays quiet under the floors, the gate."""

from __future__ import annotations

import pytest

from fixtures.imagebuilder import File, ImageSpec, LayerSpec
from sitelens.checks.waste import (
    build_toolchain,
    duplicate_distributions,
    hidden_bytes,
    low_efficiency,
    metadata_only_copy,
    package_caches,
    thresholds,
)
from sitelens.findings import SEVERITIES
from tests.waste.waste_specs import BIG, MIB, PY311, PYTHON_APP, base_layer, blob, dist, dpkg_db
from tests.waste.waste_support import context_for


def _check(finding) -> None:
    assert finding.severity in SEVERITIES and finding.message and finding.remediation
    assert len(finding.fingerprint) == 32


def test_sl301_names_layer_and_removed_directory() -> None:
    found = list(hidden_bytes(context_for(BIG)))
    assert len(found) == 1
    f = found[0]
    _check(f)
    assert f.rule == "SL301" and f.severity == "low"
    assert f.evidence["bytes"] == 3 * MIB and f.evidence["layers"] == [2, 1]
    assert f.evidence["paths"] == ["/var/lib/apt/lists"]
    assert "layer 2 (rm -rf /var/lib/apt/lists/* && chown -R 1001 /app)" in f.message
    assert "removed with its directory" in f.message


def test_sl302_metadata_copy_names_layer_created_by_and_change() -> None:
    found = list(metadata_only_copy(context_for(BIG)))
    assert len(found) == 1
    f = found[0]
    _check(f)
    assert f.rule == "SL302" and f.severity == "medium"
    assert f.evidence == {"bytes": 2 * MIB, "layers": [2, 1], "paths": ["/app"]}
    assert "chown -R 1001 /app" in f.message
    assert "owner 0:0 → 1001:0, mode 0644 → 0640" in f.message
    assert "COPY --chown" in f.remediation


def test_sl301_sl302_stay_quiet_below_the_floor() -> None:
    ctx = context_for(PYTHON_APP)  # hides ~540 KB: dpkg churn, small apt lists
    assert list(hidden_bytes(ctx)) == []
    assert list(metadata_only_copy(ctx)) == []


def test_sl303_caches_and_foreign_bytecode() -> None:
    found = {f.evidence["paths"][0]: f for f in package_caches(context_for(BIG))}
    assert set(found) == {"/root/.cache/pip", "/srv"}  # apt lists were removed: not visible
    pip = found["/root/.cache/pip"]
    _check(pip)
    assert pip.evidence["bytes"] == 300_000 and "--no-cache-dir" in pip.remediation
    pyc = found["/srv"]
    assert pyc.evidence["versions"] == ["3.8"] and "3.11" in pyc.message


def test_sl304_duplicate_distribution() -> None:
    files = {"attr/__init__.py": blob(20_000, "at")}
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec(dist("/usr/lib/python3.11/site-packages", "attrs", "23.2.0", files)
                  + dist("/opt/venv/lib/python3.11/site-packages", "attrs", "23.2.0", files),
                  "RUN pip install attrs && /opt/venv/bin/pip install attrs"),
    ])
    found = list(duplicate_distributions(context_for(spec)))
    assert len(found) == 1
    f = found[0]
    _check(f)
    assert f.evidence["distribution"] == "attrs" and f.evidence["bytes"] == 20_000
    assert f.evidence["paths"] == ["/opt/venv/lib/python3.11/site-packages",
                                   "/usr/lib/python3.11/site-packages"]


def test_sl305_toolchain_from_packages() -> None:
    spec = ImageSpec([base_layer([*PY311, File("/usr/bin/gcc-12", blob(9000, "g"), 0o755),
                                  *dpkg_db({"gcc-12": ["/usr/bin/gcc-12"], "libc6": []})])])
    found = list(build_toolchain(context_for(spec)))
    assert len(found) == 1 and found[0].severity == "info"
    assert found[0].evidence["owners"] == ["dpkg:gcc-12"]
    assert list(build_toolchain(context_for(PYTHON_APP))) == []


def test_sl306_defaults_fail_a_wasteful_image() -> None:
    ctx = context_for(BIG)
    assert thresholds(ctx.options)["lowest_efficiency"] == 0.9
    # 5 MiB wasted by sitelens's count: under the default 20 MiB floor
    assert list(low_efficiency(ctx)) == []
    ctx = context_for(BIG, {"min_wasted_bytes": MIB})
    found = list(low_efficiency(ctx))
    assert len(found) == 1
    f = found[0]
    assert f.rule == "SL306" and f.severity == "high"
    assert "lowest_efficiency 0.9" in f.message and "highest_user_wasted_percent 0.1" in f.message


@pytest.mark.parametrize(("options", "fires"), [
    ({"lowest_efficiency": 0.0, "highest_user_wasted_percent": 1.0}, False),
    ({"lowest_efficiency": 0.0, "highest_user_wasted_percent": 1.0,
      "highest_wasted_bytes": 1000}, True),
    ({"lowest_efficiency": 0.99, "highest_user_wasted_percent": 1.0}, True),
])
def test_sl306_thresholds_from_config(options: dict, fires: bool) -> None:
    ctx = context_for(BIG, {**options, "min_wasted_bytes": 0})
    assert bool(list(low_efficiency(ctx))) is fires


def test_sl306_single_layer_image_never_divides_by_zero() -> None:
    spec = ImageSpec([base_layer([File("/x", blob(5000, "x"))])])
    assert list(low_efficiency(context_for(spec, {"min_wasted_bytes": 0}))) == []
