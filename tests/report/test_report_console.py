"""The console report of the real demo image, read as a user reads it: no Python reprs, no
identity shown twice, no word cut, COLUMNS honoured, the worst finding's story told once."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

from report_support import DEMO, run

from sitelens.humanize import human_bytes, plain_command, short_command


def _console(workdir: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    code, out, err = run("audit", str(DEMO), "--cache-dir", str(workdir / "cache"), *extra, env=env)
    assert code == 1, err
    return out


def _created_by() -> list[str]:
    with tarfile.open(DEMO) as tar:
        f = tar.extractfile("manifest.json")
        assert f is not None
        manifest = json.load(f)
        cfg = tar.extractfile(manifest[0]["Config"])
        assert cfg is not None
        return [h["created_by"] for h in json.load(cfg)["history"]]


def test_no_python_reprs(workdir: Path) -> None:
    out = _console(workdir)
    for repr_ in ("{'", "'}", "False", "True", "None", "[]"):
        assert repr_ not in out, repr_
    assert "write /app: denied by /app (dir mode 0755, owner 0:0" in out


def test_no_duplicate_identities_or_evidence_rows(workdir: Path) -> None:
    out = _console(workdir, env={"COLUMNS": "220"})
    # image-user is uid 0: its import path and root's are one block, not three
    assert out.count("/usr/local/lib/python3.11/dist-packages → /usr/lib/python3/dist-packages") == 1
    assert "image-user, arbitrary-uid, root:" in out
    rows = [re.match(r"│ (\w+)\s", line) for line in out.splitlines()]
    keys = [m.group(1) for m in rows if m]
    for singular in ("identity", "distribution"):
        # a finding never shows both the singular row and its plural
        panels = out.split("╭─")
        for panel in panels:
            assert not (f"│ {singular} " in panel and f"│ {singular}s " in panel), panel[:200]
    assert "deleted" not in keys  # empty evidence rows are left out


def test_commands_cut_at_word_boundaries(workdir: Path) -> None:
    out = _console(workdir)
    words = {w for cmd in _created_by() for w in plain_command(cmd).split()}
    flat = " ".join(line.strip("│ ") for line in out.splitlines())
    assert not re.search(r"\w\.\.\.", flat)  # the old "pip instal..." truncation
    cuts = re.findall(r"(\S+)…", flat)
    assert cuts, "the demo's long pip command is shortened somewhere"
    for token in cuts:
        assert token.lstrip("(") in words, f"cut mid-word: {token}…"


def test_json_and_sarif_messages_cut_at_word_boundaries(workdir: Path) -> None:
    words = {w for cmd in _created_by() for w in plain_command(cmd).split()}
    code, out, _ = run("audit", str(DEMO), "-o", "json=r.json", "-o", "sarif=r.sarif")
    messages = [f["message"] for f in json.loads((workdir / "r.json").read_text())["findings"]]
    messages += [r["message"]["text"] for r in json.loads((workdir / "r.sarif").read_text())["runs"][0]["results"]]
    text = "\n".join(messages)
    assert "…" in text and not re.search(r"\w\.\.\.", text)
    assert all(token.lstrip("(") in words for token in re.findall(r"(\S+)…", text))


def test_debug_adds_the_traceback(workdir: Path) -> None:
    code, _, err = run("audit", "/nope.tar", "--debug")
    assert code == 3 and "Traceback" in err and err.endswith("sitelens: /nope.tar: no such file or directory\n")


def test_columns_is_honoured_when_piped(workdir: Path) -> None:
    for width in (80, 132):
        out = _console(workdir, env={"COLUMNS": str(width)})
        assert max(len(line) for line in out.splitlines()) == width


def test_worst_finding_told_once(workdir: Path) -> None:
    out = _console(workdir)
    assert out.count("Jinja2 is installed 2 times on the import path") == 1
    assert out.count("Fix: Let one installer own jinja2") == 1


def test_short_command_and_bytes_units() -> None:
    cmd = "/bin/sh -c pip install --break-system-packages Jinja2==3.1.4 && pip install x"
    assert short_command(cmd, 50) == "pip install --break-system-packages…"
    assert short_command("RUN /bin/sh -c apt-get update # buildkit") == "RUN apt-get update"
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 << 20, 3 << 30, None)] == \
        ["0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 GiB", "-"]


def test_one_byte_formatter() -> None:
    # the IEC formatter is the only one: no SI units left in any report module
    src = Path(__file__).resolve().parents[2] / "src" / "sitelens"
    for py in src.rglob("*.py"):
        text = py.read_text()
        assert not re.search(r'"(KB|MB|GB)"', text), py


def test_other_console_reports_follow_columns(workdir: Path) -> None:
    for command in ("inventory", "layers"):
        for width in (100, 150):
            code, out, _ = run(command, str(DEMO), env={"COLUMNS": str(width)})
            assert code == 0
            assert max(len(line) for line in out.splitlines()) <= width, command
            assert "…/" not in out and "dist-packages/jin…" not in out
