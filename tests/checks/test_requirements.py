"""checks/requirements.py: SL108, SL116 on hand-built inventories over real layer tars."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, LayerSpec, Symlink
from sitelens.checks.requirements import requirement_not_effective, unmet_requirement
from sitelens.inventory.model import Entrypoint, Environment, Inventory, PathEntry, Venv
from tests.checks.check_support import LIB64, LOCAL, ctx_for, dist, fedora_env


def test_unmet_requirement_uses_winner_and_markers() -> None:
    app = dist(
        "app", "1.0", LOCAL, requires=["requests>=2.30", "tomli>=1; python_version < '3.11'", "idna; extra == 'socks'"]
    )
    dists = [app, dist("requests", "2.28.1", LOCAL), dist("requests", "2.32.0", LIB64)]
    ctx = ctx_for([LayerSpec([File("/x", b"")])], Inventory(environments=[fedora_env(dists)]))
    (f,) = list(unmet_requirement(ctx))
    # a satisfying 2.32.0 exists, but 2.28.1 resolves first
    assert f.evidence["versions"] == ["1.0", "2.28.1"] and "requests>=2.30" in f.message


def test_requirements_option_and_near_miss() -> None:
    dists = [dist("jinja2", "3.1.2", LIB64, "rpm", 0)]
    inv = Inventory(environments=[fedora_env(dists)])
    ctx = ctx_for([LayerSpec([File("/x", b"")])], inv, requirements=[("req.txt", "jinja2>=3.1.3\n")])
    (f,) = list(requirement_not_effective(ctx))
    assert f.evidence["source"] == "req.txt" and f.evidence["identity"] == ["arbitrary-uid", "image-user"]
    ok = ctx_for([LayerSpec([File("/x", b"")])], inv, requirements=[("req.txt", "jinja2>=3.1,<4\n")])
    assert list(requirement_not_effective(ok)) == []


def test_entrypoint_through_another_launcher_name_targets_the_venv() -> None:
    """``python3 app.py`` with /opt/venv/bin first on PATH: the venv's launcher is known as
    ``…/python``, its ``python3`` links to the system binary. SL116 judges the venv (which lacks
    jinja2), not the system interpreter the link resolves to (which has it)."""
    system = fedora_env([dist("jinja2", "3.1.4", LIB64, "rpm", 0)])
    site = "/opt/venv/lib/python3.12/site-packages"
    venv = Environment(
        "/opt/venv/bin/python", "venv", system.interpreter, "/opt/venv",
        venv=Venv("/opt/venv", "/opt/venv/pyvenv.cfg", "/usr/bin", False, "3.12", "/usr/bin/python3.12"),
        sys_path={"image-user": [PathEntry(site, "site", site_dir=True)]},
    )
    inv = Inventory(environments=[system, venv],
                    entrypoint=Entrypoint(argv=["python3", "app.py"], interpreter="/opt/venv/bin/python3"))
    layers = [LayerSpec([Dir("/usr"), Dir("/usr/bin"), File("/usr/bin/python3.12", b"\x7fELF", 0o755),
                         Dir("/opt"), Dir("/opt/venv"), Dir("/opt/venv/bin"),
                         Symlink("/opt/venv/bin/python", "/usr/bin/python3.12"),
                         Symlink("/opt/venv/bin/python3", "python")])]
    (f,) = list(requirement_not_effective(ctx_for(layers, inv, requirements=[("req.txt", "jinja2>=3\n")])))
    assert "/opt/venv" in f.message and "jinja2" in f.message
