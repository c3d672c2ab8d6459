"""The audit result cache: a second identical run is answered from it with the same reports and
exit code; any change to what decides the result (config, a host file's content) misses; a
corrupt entry is ignored with one warning line; --no-cache and --no-result-cache bypass it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sitelens.cli import app

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "jinja2-demo.tar"
HIT = "(result cache)"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .sitelens.toml / pyproject.toml is discovered
    return tmp_path


def audit(work: Path, *extra: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["audit", f"docker-archive:{DEMO}", "-f", "json", "-v",
                                   "--cache-dir", str(work / "cache"), *extra], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def entries(work: Path) -> list[Path]:
    return sorted((work / "cache").glob("results-v*/*/*.res"))


def test_second_run_is_a_hit_with_the_same_report_and_exit_code(work: Path) -> None:
    code, first, err = audit(work)
    assert HIT not in err and len(entries(work)) == 1
    shutil.rmtree(next((work / "cache").glob("layers-v*")))  # a hit needs no layer index
    code2, second, err2 = audit(work)
    assert HIT in err2
    assert (code2, second) == (code, first)
    assert code == 1  # the demo image has findings at or above high
    # the inventory's warnings are printed again from the entry, like the first run did
    assert [w for w in err2.splitlines() if "warning:" in w] == [w for w in err.splitlines() if "warning:" in w]


def test_a_changed_config_or_host_file_misses(work: Path) -> None:
    _, plain, _ = audit(work)
    (work / ".sitelens.toml").write_text('fail-on = "none"\n')
    code, out, err = audit(work)
    assert HIT not in err and code == 0 and out != plain
    req = work / "requirements.txt"
    req.write_text("jinja2==3.1.4\n")
    audit(work, "--requirements", str(req))
    assert HIT in audit(work, "--requirements", str(req))[2]
    req.write_text("jinja2==3.1.2\n")  # same path, other content
    assert HIT not in audit(work, "--requirements", str(req))[2]
    assert HIT not in audit(work, "-f", "console")[2]  # another format is another result
    assert len(entries(work)) == 5


def test_a_corrupt_entry_is_ignored_with_one_warning(work: Path) -> None:
    code, first, _ = audit(work)
    (entry,) = entries(work)
    blob = bytearray(entry.read_bytes())
    blob[-5] ^= 0xFF
    entry.write_bytes(bytes(blob))
    code2, second, err = audit(work)
    assert (code2, second) == (code, first)
    warned = [line for line in err.splitlines() if "corrupt audit result cache entry" in line]
    assert len(warned) == 1 and warned[0].startswith("sitelens: warning: ")
    assert HIT not in err
    assert HIT in audit(work)[2]  # rewritten by the run that ignored it
    entry.write_bytes(b"garbage")
    assert audit(work)[:2] == (code, first)


def test_no_cache_and_no_result_cache_bypass_it(work: Path) -> None:
    code, first, _ = audit(work)
    for flag in ("--no-cache", "--no-result-cache"):
        code2, out, err = audit(work, flag)
        assert HIT not in err and (code2, out) == (code, first)
    assert len(entries(work)) == 1
