"""Config parsing, suppression matching and expiry, severity overrides, strategy remediation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sitelens.config import Config, Suppression, WasteThresholds, load_config
from sitelens.errors import UsageError
from sitelens.findings import finding
from sitelens.strategy import Strategy, remediation_for
from sitelens.suppress import apply_config, matches

GOOD = """
fail-on = "medium"
requirements = ["req/app.txt"]

[severity]
sl107 = "info"
SL101 = "critical"

[waste]
lowest-efficiency = 0.9
highest_wasted_bytes = 50_000_000
highest_user_wasted_percent = 0.1
min_wasted_bytes = 1_000_000

[[suppress]]
rule = "SL101"
match = "jinja2"
reason = "intended"
expires = 2026-12-31

[[suppress]]
rule = "sl206"
reason = "k8s sets runAsUser"
expires = "2027-01-15"
"""


def test_config_good(tmp_path: Path) -> None:
    p = tmp_path / ".sitelens.toml"
    p.write_text(GOOD)
    cfg = load_config(cwd=tmp_path)
    assert cfg.source == p and cfg.fail_on == "medium"
    assert cfg.severity == {"SL107": "info", "SL101": "critical"}
    assert cfg.requirements == (tmp_path / "req/app.txt",)  # relative to the config file
    assert cfg.waste == WasteThresholds(0.9, 50_000_000, 0.1, 1_000_000)
    assert cfg.suppress[0] == Suppression("SL101", "intended", "jinja2", dt.date(2026, 12, 31),
                                          f"{p}: suppress[0]")
    assert cfg.suppress[1].rule == "SL206" and cfg.suppress[1].expires == dt.date(2027, 1, 15)
    assert cfg.suppress[1].match is None


def test_config_discovery_order(tmp_path: Path) -> None:
    assert load_config(cwd=tmp_path) == Config()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(cwd=tmp_path) == Config()  # a pyproject without [tool.sitelens] is not ours
    (tmp_path / "pyproject.toml").write_text('[tool.sitelens]\nfail-on = "low"\n')
    assert load_config(cwd=tmp_path).fail_on == "low"
    (tmp_path / ".sitelens.toml").write_text('fail-on = "none"\n')
    assert load_config(cwd=tmp_path).fail_on == "none"  # .sitelens.toml first
    explicit = tmp_path / "ci.toml"
    explicit.write_text('[tool.sitelens]\nfail-on = "info"\n')  # a [tool.sitelens] table anywhere
    assert load_config(explicit, cwd=tmp_path).fail_on == "info"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('fail-on = "severe"', "fail-on"),
        ('fail_on = 3', "fail-on"),
        ('[severity]\nSL999 = "low"', "unknown rule"),
        ('[severity]\nSL101 = "none"', "severity.SL101"),
        ('severity = "low"', "severity must be a table"),
        ('[[suppress]]\nrule = "SL101"', "reason"),
        ('[[suppress]]\nrule = "SL101"\nreason = "  "', "reason"),
        ('[[suppress]]\nreason = "x"', "needs a rule"),
        ('[[suppress]]\nrule = "SL101"\nreason = "x"\nexpires = "31/12/2026"', "expires"),
        ('[[suppress]]\nrule = "SL101"\nreason = "x"\nwhy = "y"', "unknown key"),
        ('[[suppress]]\nrule = "SL101"\nreason = "x"\nmatch = 3', "match"),
        ('suppress = {rule = "SL101"}', "array of tables"),
        ('requirements = [1]', "requirements"),
        ('[waste]\nlowest_efficiency = 1.5', "lowest_efficiency"),
        ('[waste]\nhighest_wasted_bytes = 1.5', "whole number"),
        ('[waste]\nmax_layers = 3', "unknown waste key"),
        ('colour = "red"', "unknown key"),
        ('fail-on = ', "invalid TOML"),
    ],
)
def test_config_bad(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text + "\n")
    with pytest.raises(UsageError) as err:
        load_config(p)
    assert needle in str(err.value) and str(p) in str(err.value)


def test_config_explicit_pyproject_without_table(tmp_path: Path) -> None:
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\n')
    with pytest.raises(UsageError, match=r"no \[tool.sitelens\] table"):
        load_config(p)
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def _f(rule: str = "SL101", sev: str = "high", **ev: object):  # type: ignore[no-untyped-def]
    return finding(rule, "t", "m", dict(ev), "fix", key=tuple(sorted(ev)), severity=sev)


def test_suppression_matching() -> None:
    f = _f(distribution="jinja2", paths=["/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info"],
           owners=["dpkg:python3-jinja2"])
    def sup(match: str | None, rule: str = "SL101") -> Suppression:
        return Suppression(rule, "r", match)
    assert matches(sup(None), f)
    assert matches(sup("Jinja2"), f) and matches(sup("jinja_2".replace("_", "")), f)
    assert matches(sup("/usr/lib/python3/dist-packages/*"), f)
    assert matches(sup("dpkg:python3-jinja2"), f)
    assert matches(sup(f.fingerprint), f)
    assert not matches(sup("markupsafe"), f)
    assert not matches(sup("/usr/local/*"), f)
    assert not matches(sup(None, rule="SL102"), f)


def test_apply_config_overrides_expiry_and_unused() -> None:
    a = _f(distribution="jinja2")
    b = _f("SL303", "low", paths=["/root/.cache/pip"])
    cfg = Config(
        severity={"SL303": "medium"},
        suppress=(
            Suppression("SL101", "r1", "jinja2", dt.date(2026, 6, 30)),
            Suppression("SL303", "r2", "/root/.cache/*", dt.date(2026, 6, 29)),
            Suppression("SL105", "r3", "six"),
        ),
    )
    out, statuses = apply_config([a, b], cfg, today=dt.date(2026, 6, 30))
    assert out[0].suppressed and out[0].suppression == {
        "rule": "SL101", "match": "jinja2", "reason": "r1", "expires": "2026-06-30"}
    assert not out[1].suppressed  # expired the day before
    assert (out[1].severity, out[1].default_severity) == ("medium", "low")
    assert [(s.status, s.matched) for s in statuses] == [("active", 1), ("expired", 1),
                                                         ("unused", 0)]
    assert not a.suppressed  # inputs are not mutated
    out2, statuses2 = apply_config([a, b], cfg, today=dt.date(2026, 7, 1))
    assert not out2[0].suppressed and statuses2[0].status == "expired"


def test_remediation_for_strategies() -> None:
    texts = {"venv": "V", "system": "S", "multi-stage": "M", "default": "D"}
    assert remediation_for("venv", texts) == "V"
    assert remediation_for("user", texts) == "S"  # --user falls back to the system style
    assert remediation_for("distro", {"distro": "X", "default": "D"}) == "X"
    assert remediation_for("conda", texts) == "V"
    assert remediation_for(Strategy("system", multi_stage=True), texts) == "M"
    assert remediation_for(Strategy("unknown"), {"default": "D"}) == "D"
    with pytest.raises(KeyError):
        remediation_for("venv", {"system": "S"})
