"""checks/bytecode.py: SL115 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File
from sitelens.image import ImageConfig
from tests.checks.check_support import SITE, run_rules, site_entries


def test_sl115_a_user_who_cannot_write_the_cache_recompiles():
    out = run_rules(site_entries(), ImageConfig(user="app"), rules={"SL115"})
    # root may write __pycache__; app (1001) and the arbitrary UID (group 0, 0755 dir) may not
    assert sorted(n for f in out for n in f.evidence["identities"]) == ["arbitrary-uid", "image-user"]
    assert {f.evidence["count"] for f in out} == {1}
    assert "compileall" in out[0].remediation


def test_sl115_quiet_when_the_bytecode_ships():
    pyc = [Dir(f"{SITE}/__pycache__", 0o755), File(f"{SITE}/__pycache__/mod.cpython-311.pyc", b"\0" * 16)]
    assert run_rules([*site_entries(), *pyc], ImageConfig(user="app"), rules={"SL115"}) == []


def test_sl115_dontwritebytecode_judges_root_too():
    cfg = ImageConfig(user="app", env={"PYTHONDONTWRITEBYTECODE": "1"})
    out = run_rules(site_entries(), cfg, rules={"SL115"})
    assert "root" in {n for f in out for n in f.evidence["identities"]}
    assert "PYTHONDONTWRITEBYTECODE" in out[0].message
