"""The rule catalog: every RULES.md id, one page each with the required sections, docs/rules
identical to the packaged pages, and `sitelens rules` / `sitelens explain` printing them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitelens.cli import app
from sitelens.findings import SEVERITIES
from sitelens.rules.catalog import RULES, all_rules, docs_files, rule_page

REPO = Path(__file__).resolve().parents[2]
# RULES.md is the contract; its ids are repeated here so the test runs without shared/.
CONTRACT_IDS = [f"SL1{n:02d}" for n in range(1, 17)] + [f"SL20{n}" for n in range(1, 8)] + [
    f"SL30{n}" for n in range(1, 7)]
SECTIONS = ["## What it means", "## Why it matters in a container", "## How to fix it",
            "## How to silence it"]
STRATEGIES = ["venv image", "system or `--user` install", "distro packages", "multi-stage build"]


def _rules_md() -> Path | None:
    for base in (REPO.parent / "shared", Path("/work/shared")):
        if (base / "RULES.md").is_file():
            return base / "RULES.md"
    return None


def test_catalog_matches_the_contract() -> None:
    assert [r.id for r in all_rules()] == CONTRACT_IDS
    assert all(r.severity in SEVERITIES for r in all_rules())
    assert len({r.name for r in all_rules()}) == len(CONTRACT_IDS)
    md = _rules_md()
    if md is None:
        pytest.skip("shared/RULES.md not present beside the repo")
    rows = re.findall(r"^\| (SL\d{3}) \| ([a-z-]+) \| ([a-z]+)", md.read_text(), re.M)
    assert [r[0] for r in rows] == CONTRACT_IDS
    for rid, name, sev in rows:
        assert RULES[rid].name == name
        if sev != "gate":
            assert RULES[rid].severity == sev, rid


@pytest.mark.parametrize("rid", CONTRACT_IDS)
def test_rule_page_has_every_section(rid: str) -> None:
    page = rule_page(rid)
    rule = RULES[rid]
    assert page.startswith(f"# {rid} {rule.name}\n")
    positions = [page.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    fix = " ".join(page[page.index("## How to fix it"):page.index("## How to silence it")].split())
    for strategy in STRATEGIES:  # the fix for each way of building an image
        assert strategy in fix, f"{rid}: no fix for {strategy}"
    silence = page[page.index("## How to silence it"):]
    assert f'rule = "{rid}"' in silence and "reason = " in silence  # a config example
    assert f"**{rule.severity}**" in page.split("\n\n")[1]


def test_docs_rules_is_the_same_text() -> None:
    docs = REPO / "docs" / "rules"
    expected = docs_files()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in docs.iterdir() if p.is_file()}
    assert set(on_disk) == set(expected), "regenerate: python -m sitelens.rules --write-docs docs/rules"
    for name, text in expected.items():
        assert on_disk[name] == text, f"docs/rules/{name} drifted: python -m sitelens.rules --write-docs docs/rules"


def test_docs_schema_is_the_packaged_schema() -> None:
    assert (REPO / "docs/schema/audit-v1.json").read_bytes() == (
        REPO / "src/sitelens/report/schema.json").read_bytes()


@pytest.mark.parametrize("rid", CONTRACT_IDS)
def test_explain_prints_the_docs_page(rid: str) -> None:
    res = CliRunner().invoke(app, ["explain", rid.lower()])
    assert res.exit_code == 0
    assert res.stdout == (REPO / "docs" / "rules" / f"{rid}.md").read_text(encoding="utf-8")


def test_explain_unknown_rule_is_usage_error() -> None:
    res = CliRunner().invoke(app, ["explain", "SL999"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "sitelens: unknown rule 'SL999' (see `sitelens rules`)"


def test_rules_lists_every_rule() -> None:
    res = CliRunner().invoke(app, ["rules"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for rule in all_rules():
        line = next(ln for ln in res.stdout.splitlines() if f" {rule.id} " in ln)
        assert rule.name in line and rule.severity in line
    res = CliRunner().invoke(app, ["rules", "--format", "json"])
    import json

    doc = json.loads(res.stdout)
    assert [r["id"] for r in doc] == CONTRACT_IDS
    assert all(r["docs"].endswith(f"docs/rules/{r['id']}.md") for r in doc)
