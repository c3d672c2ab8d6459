"""checks/venv_integrity.py: SL110, SL111, SL112 on hand-built inventories over real layer tars."""

from __future__ import annotations

from fixtures.imagebuilder import File, LayerSpec
from sitelens.checks.venv_integrity import dead_site_packages, stale_shebang
from sitelens.inventory.model import (
    Inventory,
)
from sitelens.inventory.scripts import find_scripts
from tests.checks.check_support import ctx_for


def test_stale_shebang_env_lookup_and_near_miss() -> None:
    layers = [
        LayerSpec(
            [
                File("/usr/bin/python3.11", b"\x7fELF", 0o755),
                File("/usr/local/bin/ok", b"#!/usr/bin/python3.11\n", 0o755),
                File("/usr/local/bin/viaenv", b"#!/usr/bin/env python3.11\n", 0o755),
                File("/usr/local/bin/gone", b"#!/usr/bin/env python3.9\n", 0o755),
                File("/app/venv/bin/tool", b"#!/build/venv/bin/python\n", 0o755),
            ]
        )
    ]
    ctx = ctx_for(layers, Inventory())
    ctx.inventory.scripts = find_scripts(ctx.fs)
    found = {f.evidence["interpreter"]: f.evidence["paths"] for f in stale_shebang(ctx)}
    assert found == {
        "/build/venv/bin/python": ["/app/venv/bin/tool"],
        "python3.9 (via /usr/bin/env on PATH)": ["/usr/local/bin/gone"],
    }


def test_dead_site_packages_needs_a_missing_interpreter() -> None:
    sp = "/usr/local/lib/python3.9/site-packages"
    files = [File(f"{sp}/six-1.16.0.dist-info/METADATA", b"Name: six\n"), File(f"{sp}/six.py", b"")]
    (f,) = list(dead_site_packages(ctx_for([LayerSpec(files)], Inventory())))
    assert f.evidence["paths"] == [sp]
    with_39 = [*files, File("/usr/local/bin/python3.9", b"\x7fELF", 0o755)]
    assert list(dead_site_packages(ctx_for([LayerSpec(with_39)], Inventory()))) == []
