"""SL1xx checks end to end on real images: Debian 12's own dpkg database, pip, venv and wheels
from PyPI, run through the real pipeline (layer index, filesystem, inventory, checks). Every rule
has an image where it must fire and a near-miss where it must not; the chroot oracle asks the
image's own interpreter which Jinja2 it imports, as each identity, and holds sitelens to it."""

from __future__ import annotations

import fcntl
import json
import pickle
from pathlib import Path

import pytest

from fixtures import sl1_images as imgs
from fixtures.debian_root import chroot_mounts, run_in_root
from sitelens.checks.helpers import winners
from tests.checks.sl1_harness import Audited, audit
from tests.helpers import require_tool

SL1 = tuple(f"SL1{i:02d}" for i in range(1, 17))
ORACLE = (
    "import importlib.metadata as m, json, jinja2; "
    "print(json.dumps([m.version('jinja2'), jinja2.__file__, jinja2.__version__]))"
)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("mmdebstrap", "chroot")
    # Shared by the xdist workers of one run (the documented basetemp-parent pattern): each
    # scenario is built once per run, under a lock, and its image pickled for the other worker.
    shared = tmp_path_factory.getbasetemp().parent / "sl1-shared"
    shared.mkdir(exist_ok=True)
    return shared


_built: dict[str, imgs.Scenario] = {}


def scenario(work: Path, name: str) -> imgs.Scenario:
    if name in _built:
        return _built[name]
    group = "venv" if name.startswith("venv-") else name
    done = work / f"{group}.pickle"
    with open(work / f"{group}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if done.exists():
                made = pickle.loads(done.read_bytes())
            else:
                made = imgs.venv_images(work) if group == "venv" else {name: imgs.SCENARIOS[name](work)}
                done.write_bytes(pickle.dumps(made))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _built.update(made)
    return _built[name]


_audits: dict[str, Audited] = {}


def audited(work: Path, name: str) -> Audited:
    if name not in _audits:
        _audits[name] = audit(scenario(work, name).built, SL1)
    return _audits[name]


def oracle(root: Path, userspec: str | None, home: str, python: str = "python3") -> list[str]:
    with chroot_mounts(root):
        proc = run_in_root(
            root,
            [python, "-c", ORACLE],
            userspec=userspec,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home},
            cwd="/",
        )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def winner(a: Audited, executable: str, identity: str, name: str = "jinja2"):  # type: ignore[no-untyped-def]
    env = next(e for e in a.inventory.environments if e.executable == executable)
    return winners(env, env.sys_path[identity])[name]


def test_seed_story_user_site(work: Path) -> None:
    """pip install --user -r requirements.txt as root: only root sees 3.1.4."""
    a = audited(work, "user-site-shadow")
    (sl101,) = a.rule("SL101")
    assert sl101.severity == "high"
    assert sl101.evidence["distribution"] == "jinja2"
    assert sl101.evidence["versions"] == ["3.1.4", "3.1.2"]
    assert sl101.evidence["identity"] == ["root"]
    assert sl101.evidence["owners"][1] == "dpkg:python3-jinja2"
    assert sl101.evidence["owners"][0].startswith("pip:/root/.local/lib/python3.11/site-packages/")
    assert "layer 3" in sl101.message and "pip install --user" in sl101.message
    (sl102,) = a.rule("SL102")
    assert sl102.evidence["distribution"] == "jinja2"
    assert "root: 3.1.4" in sl102.message and "image-user, arbitrary-uid: 3.1.2" in sl102.message
    sl116 = [f for f in a.rule("SL116") if f.evidence["distribution"] == "jinja2"]
    assert len(sl116) == 1
    assert sl116[0].evidence["source"] == "/app/requirements.txt"
    assert sl116[0].evidence["identity"] == ["arbitrary-uid", "image-user"]
    assert "Requirement already satisfied" in sl116[0].message
    # MarkupSafe>=2.0 is met by Debian's 2.1.2; the python_version<'3.8' line is not for 3.11
    assert [f.evidence["distribution"] for f in a.rule("SL116")] == ["jinja2"]
    (sl109,) = a.rule("SL109")
    assert sl109.evidence["distributions"] == ["jinja2"]
    assert not a.rule("SL103") and not a.rule("SL105") and not a.rule("SL108")


def test_seed_story_oracle(work: Path) -> None:
    sc = scenario(work, "user-site-shadow")
    a = audited(work, "user-site-shadow")
    assert sc.root is not None
    for identity, userspec, home in (
        ("root", None, "/root"),
        ("image-user", "1000:1000", "/home/app"),
        ("arbitrary-uid", "1000620000:0", "/"),
    ):
        version, file, _ = oracle(sc.root, userspec, home)
        w = winner(a, "/usr/bin/python3.11", identity)
        assert (w.version, Path(file).parent.parent.as_posix()) == (version, w.site_dir), identity


@pytest.mark.parametrize(
    "name,severity,version", [("local-shadow", "high", "3.1.4"), ("local-shadow-same", "low", "3.1.2")]
)
def test_local_shadow_and_oracle(work: Path, name: str, severity: str, version: str) -> None:
    a = audited(work, name)
    (f,) = a.rule("SL101")
    assert f.severity == severity
    assert f.evidence["paths"][0].startswith("/usr/local/lib/python3.11/dist-packages/")
    assert f.evidence["identity"] == ["image-user", "arbitrary-uid", "root"]
    assert not a.rule("SL102") and not a.rule("SL103") and not a.rule("SL105")
    sc = scenario(work, name)
    assert sc.root is not None
    got, file, _ = oracle(sc.root, "1000620000:0", "/")
    assert got == version == f.evidence["versions"][0]
    assert file.startswith("/usr/local/lib/python3.11/dist-packages/jinja2/")


def test_upstream_pip_deletes_dpkg_files(work: Path) -> None:
    a = audited(work, "upstream-pip-deletes")
    (f,) = a.rule("SL103")
    assert f.evidence["owners"][0] == "dpkg:python3-jinja2"
    assert f.evidence["owners"][1].startswith("pip:/usr/local/lib/python3.11/dist-packages/jinja2-3.1.4")
    assert "/usr/lib/python3/dist-packages/jinja2/__init__.py" in f.evidence["deleted"]
    assert f.evidence["changed"] == []
    assert f.evidence["layers"] == [2]
    assert "uninstalled it and installed Jinja2 3.1.4" in f.message
    # only the jinja2 copy left: no shadowing of jinja2 (pip 24.2 over Debian's pip is real)
    assert [x.evidence["distribution"] for x in a.rule("SL101")] == ["pip"]
    assert not a.rule("SL104") and not a.rule("SL105")  # nothing left for two owners to share


def test_target_overwrite_two_owners_and_duplicate_metadata(work: Path) -> None:
    a = audited(work, "target-overwrite")
    (sl103,) = a.rule("SL103")
    assert "/usr/lib/python3/dist-packages/jinja2/__init__.py" in sl103.evidence["changed"]
    assert sl103.evidence["layers"] == [1]
    assert "now claimed by Jinja2 3.1.4" in sl103.message
    (sl104,) = a.rule("SL104")
    assert sl104.evidence["owners"][0] == "dpkg:python3-jinja2"
    assert "/usr/lib/python3/dist-packages/jinja2/__init__.py" in sl104.evidence["paths"]
    (sl105,) = a.rule("SL105")
    assert sorted(sl105.evidence["versions"]) == ["3.1.2", "3.1.4"]
    assert not a.rule("SL101")  # one directory: not shadowing
    # --target skips pip's PEP 668 check: dpkg's dist-packages is not pip's scheme dir
    assert not a.rule("SL109")


def test_target_install_is_not_sl109_a_plain_one_is(work: Path) -> None:
    sc = scenario(work, "target-deps")
    assert "externally-managed-environment" in sc.notes["plain"]  # pip refuses a plain install
    a = audited(work, "target-deps")
    (sl109,) = a.rule("SL109")
    assert sl109.evidence["distributions"] == ["jinja2"]
    assert sl109.evidence["paths"][0].startswith("/usr/local/lib/python3.11/dist-packages/")
    # six sits in /opt/deps, pip-installed (INSTALLER=pip) and on every identity's path
    env = next(e for e in a.inventory.environments if e.executable == "/usr/bin/python3.11")
    six = next(d for d in env.distributions if d.name == "six")
    assert (six.site_dir, six.installer) == ("/opt/deps", "pip")
    assert sc.root is not None
    with chroot_mounts(sc.root):
        proc = run_in_root(sc.root, ["python3", "-c", "import six; print(six.__file__)"],
                           env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/opt/deps"})
    assert proc.stdout.strip() == "/opt/deps/six.py"


def test_plain_debian_is_quiet(work: Path) -> None:
    """The stock root: distro RECORDs that never verified (python3-pip's) are no finding."""
    a = audited(work, "venv-clean")
    for rule in SL1:
        assert not a.rule(rule), (rule, [f.message for f in a.rule(rule)])


def test_misc_requirements_records_orphans_abi_dead_site(work: Path) -> None:
    a = audited(work, "misc")
    missing = sorted(f.evidence["requirement"].split(">")[0] for f in a.rule("SL108"))
    assert missing == ["Werkzeug", "blinker", "click", "itsdangerous"]  # not importlib-metadata
    assert all(f.evidence["distribution"] == "flask" for f in a.rule("SL108"))
    (sl106,) = a.rule("SL106")
    assert sl106.evidence["distribution"] == "six"
    assert sl106.evidence["changed"] == ["/usr/local/lib/python3.11/dist-packages/six.py"]
    assert sl106.evidence["layers"] == [1, 5]
    assert sorted(p for f in a.rule("SL107") for p in f.evidence["paths"]) == [
        "/usr/local/lib/python3.11/dist-packages/helpers.py",
        "/usr/local/lib/python3.11/dist-packages/vendored",
    ]
    (sl113,) = a.rule("SL113")
    assert sl113.evidence["distribution"] == "markupsafe"
    assert "cpython-39" in sl113.evidence["paths"][0]
    (sl112,) = a.rule("SL112")
    assert sl112.evidence["paths"] == ["/usr/local/lib/python3.9/site-packages"]
    assert sl112.evidence["bytes"] > 0
    assert not a.rule("SL111")  # the root's pip wrote /usr/local/bin/flask with #!/usr/bin/python3


def test_abi_musl_and_near_miss(work: Path) -> None:
    (f,) = audited(work, "musl").rule("SL113")
    assert "musl" in f.message and "glibc" in f.message
    assert not audited(work, "abi-ok").rule("SL113")


def test_venvs(work: Path) -> None:
    (sl111,) = audited(work, "venv-relocated").rule("SL111")
    assert sl111.evidence["interpreter"] == "/build/venv/bin/python3"
    assert "/opt/venv/bin/pip" in sl111.evidence["paths"]
    assert not audited(work, "venv-relocated").rule("SL110")
    (sl110,) = audited(work, "venv-foreign-home").rule("SL110")
    assert sl110.severity == "critical"
    assert "/usr/local/bin/python3.12 dangles" in sl110.message
    leak = audited(work, "venv-system-leak")
    (sl114,) = leak.rule("SL114")
    assert sl114.evidence["distribution"] == "jinja2"
    assert sl114.evidence["versions"] == ["3.1.4", "3.1.2"]
    assert not leak.rule("SL101")  # venv-vs-system pairs are SL114's


def test_venv_leak_oracle(work: Path) -> None:
    sc = scenario(work, "venv-system-leak")
    a = audited(work, "venv-system-leak")
    assert sc.root is not None
    version, file, _ = oracle(sc.root, "1000620000:0", "/", python="/opt/venv/bin/python")
    w = winner(a, "/opt/venv/bin/python", "arbitrary-uid")
    assert (version, str(Path(file).parent.parent)) == (w.version, w.site_dir)


def test_findings_are_stable_and_json_ready(work: Path) -> None:
    a = audited(work, "user-site-shadow")
    again = audit(scenario(work, "user-site-shadow").built, SL1)
    assert [f.fingerprint for f in a.findings] == [f.fingerprint for f in again.findings]
    for f in a.findings:
        json.dumps(f.to_json())
        assert f.remediation and f.message


def test_overwrite_oracles(work: Path) -> None:
    """What pip overwrote, confirmed by the image's interpreter: after ``--target --upgrade`` the
    code in dist-packages is 3.1.4 while metadata may say either version (SL105); after upstream
    pip's upgrade the dpkg copy is gone and /usr/local's 3.1.4 is imported."""
    sc = scenario(work, "target-overwrite")
    a = audited(work, "target-overwrite")
    assert sc.root is not None
    meta, file, code = oracle(sc.root, "1000620000:0", "/")
    assert file == "/usr/lib/python3/dist-packages/jinja2/__init__.py"
    assert code == "3.1.4"  # the files SL103 says pip's RECORD now claims
    assert meta in a.rule("SL105")[0].evidence["versions"]
    sc = scenario(work, "upstream-pip-deletes")
    a = audited(work, "upstream-pip-deletes")
    assert sc.root is not None
    meta, file, code = oracle(sc.root, None, "/root")
    w = winner(a, "/usr/bin/python3.11", "root")
    assert (meta, code, str(Path(file).parent.parent)) == (w.version, w.version, w.site_dir)
