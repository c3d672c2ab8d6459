"""The bundled demo image: small, readable by the CLI with no engine or network, laid out as
fixtures/demo/README.md promises, and rebuildable from the real debs and wheels."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sitelens.pipeline import load

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo" / "jinja2-demo.tar"
DP = "/usr/lib/python3/dist-packages"
LOCAL = "/usr/local/lib/python3.11/dist-packages"


def test_demo_is_committed_and_small() -> None:
    assert DEMO.is_file()
    assert DEMO.stat().st_size < 1_000_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with load(str(DEMO), cache_dir=tmp_path_factory.mktemp("cache")) as loaded:
        yield loaded


def test_cli_ls_lists_pip_dir(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", "from sitelens.cli import main; main()", "ls", str(DEMO), LOCAL],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    names = [line.split()[-1] for line in r.stdout.splitlines()[1:]]
    assert names == ["jinja2", "jinja2-3.1.4.dist-info"]
    assert all(" 1 " in f" {line} " for line in r.stdout.splitlines()[1:])  # layer column


def test_cli_ls_json_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", "from sitelens.cli import main; main()", "ls", str(DEMO), "/no/such"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert r.returncode == 2 and r.stderr.strip() == "sitelens: /no/such: no such file or directory in the image"


def test_layout_matches_readme(demo) -> None:  # type: ignore[no-untyped-def]
    fs, image = demo.fs, demo.image
    assert len(image.layers) == 3
    assert image.config.user is None and image.config.workdir == "/app"
    assert image.config.cmd == ["python3", "/app/app.py"]
    assert fs.resolve("/usr/bin/python3") == "/usr/bin/python3.11"
    assert b"placeholder" in (fs.get("/usr/bin/python3.11").entry.data or b"placeholder")
    assert fs.get("/usr/lib/python3.11/os.py").layer == 0
    assert fs.read_text("/usr/lib/python3.11/EXTERNALLY-MANAGED").startswith("[externally-managed]")
    assert "ID=debian" in fs.read_text("/etc/os-release")
    status = fs.read_text("/var/lib/dpkg/status")
    assert "Package: python3-jinja2\nStatus: install ok installed\n" in status
    assert "Version: 3.1.2-1+deb12u3" in status and "Version: 2.1.2-1+b1" in status
    assert fs.get(f"{DP}/Jinja2-3.1.2.egg-info").kind == "dir"
    record = fs.read_text(f"{LOCAL}/jinja2-3.1.4.dist-info/RECORD")
    assert "jinja2/__init__.py,sha256=" in record
    assert fs.read_text(f"{LOCAL}/jinja2-3.1.4.dist-info/INSTALLER") == "pip\n"
    assert fs.read_text("/app/requirements.txt") == "Jinja2>=3.1.4\n"


def test_pip_overwrote_a_dpkg_owned_file(demo) -> None:  # type: ignore[no-untyped-def]
    fs = demo.fs
    path = f"{DP}/markupsafe/__init__.py"
    assert [(c.layer, c.action) for c in fs.history(path)] == [(0, "added"), (1, "modified")]
    md5sums = fs.read_text("/var/lib/dpkg/info/python3-markupsafe.md5sums")
    recorded = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in md5sums.splitlines()}
    assert recorded[path.lstrip("/")] != fs.get(path).entry.md5.hex()
    # untouched dpkg files still match their md5sums
    native = f"{DP}/markupsafe/_native.py"
    assert recorded[native.lstrip("/")] == fs.get(native).entry.md5.hex()
    assert fs.get(f"{DP}/MarkupSafe-2.1.2.egg-info") and fs.get(f"{DP}/MarkupSafe-2.1.5.dist-info")


def _shape(fs) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    out = []
    for n in fs.walk("/"):
        e = n.entry
        same_bytes = None if n.path.endswith(".pyc") or e.kind != "file" else e.sha256
        out.append((n.path, e.kind, e.mode, e.uid, e.gid, e.link, same_bytes, n.layer))
    return out


@pytest.mark.slow
def test_rebuild_is_equivalent(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "fixtures" / "demo"))
    try:
        import build_demo
    finally:
        sys.path.pop(0)
    try:
        debs = build_demo.download_debs(tmp_path / "debs")
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"Debian mirror not reachable: {exc}")
    out = tmp_path / "demo.tar"
    try:
        build_demo.build_demo(out, tmp_path / "debs")
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"PyPI not reachable: {exc}")
    assert debs
    with load(str(out), use_cache=False) as rebuilt:
        assert _shape(rebuilt.fs) == _shape(demo.fs)
        assert [layer.diff_id for layer in rebuilt.image.layers][2] == demo.image.layers[2].diff_id
    assert hashlib.sha256(out.read_bytes()).hexdigest()  # readable, complete
