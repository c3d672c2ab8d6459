"""checks/requirements.py: SL108, SL116 on hand-built inventories over real layer tars."""

from __future__ import annotations

from fixtures.imagebuilder import File, LayerSpec
from sitelens.checks.requirements import requirement_not_effective, unmet_requirement
from sitelens.inventory.model import (
    Inventory,
)
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
