"""checks/privilege.py: SL206, SL207 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File
from sitelens.image import ImageConfig
from tests.checks.check_support import run_rules, site_entries


def test_sl206_and_identity_fallback_without_inventory_identities():
    out = run_rules(site_entries(), ImageConfig(), rules={"SL206"}, identities=False)
    assert [f.rule for f in out] == ["SL206"]
    assert run_rules(site_entries(), ImageConfig(user="app"), rules={"SL206"}, identities=False) == []
    assert [f.rule for f in run_rules(site_entries(), ImageConfig(user="0:0"), rules={"SL206"})] == ["SL206"]


def test_sl207_setuid_setgid_and_capabilities_not_setgid_dirs():
    entries = [File("/usr/bin/su", b"", 0o4755), File("/usr/bin/wall", b"", 0o2755, 0, 5),
               Dir("/var/mail", 0o2775), File("/usr/bin/ping", b"", 0o755,
                                                  pax={"SCHILY.xattr.security.capability": "\x01"})]
    out = run_rules(entries, ImageConfig(user="app"), rules={"SL207"})
    got = {f.evidence["paths"][0]: f.evidence["bits"] for f in out}
    assert got == {"/usr/bin/su": ["setuid"], "/usr/bin/wall": ["setgid"],
                   "/usr/bin/ping": ["file capabilities"]}
