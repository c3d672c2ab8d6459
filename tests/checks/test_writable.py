"""checks/writable.py: SL204 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File
from sitelens.image import ImageConfig
from tests.checks.check_support import SITE, run_rules, site_entries


def test_sl204_group_writable_by_a_foreign_group_is_high():
    out = run_rules(site_entries(0o775, gid=50), ImageConfig(user="app"), rules={"SL204"})
    assert [(f.severity, f.evidence["writer"]) for f in out] == [("high", "group 50")]
    assert out[0].evidence["writable"][0]["mode"] == "0775"


def test_sl204_group0_writable_site_packages_is_the_runtime_users_own():
    """chgrp -R 0 && chmod -R g=u (OpenShift): group 0 is root's and the arbitrary UID's."""
    assert run_rules(site_entries(0o775, gid=0, file_mode=0o664), ImageConfig(user="app"), rules={"SL204"}) == []


def test_sl204_group_or_owner_of_a_runtime_identity_is_silent_a_stranger_is_not():
    # group 1001 is the image user's (app:x:1001:1001): its own access
    assert run_rules(site_entries(0o775, gid=1001), ImageConfig(user="app"), rules={"SL204"}) == []
    # the same dir owned by uid 1001: the image user's own
    entries = [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, 0o755, 1001, 0)]
    assert run_rules(entries, ImageConfig(user="app"), rules={"SL204"}) == []
    # owned by a build uid no runtime identity has
    entries = [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, 0o755, 2000, 0)]
    out = run_rules(entries, ImageConfig(user="app"), rules={"SL204"})
    assert [(f.severity, f.evidence["writer"]) for f in out] == [("high", "owner uid 2000")]
    assert "chown -R 0:0" in out[0].remediation
    # ... unless the image runs as uid 2000
    assert run_rules(entries, ImageConfig(user="2000"), rules={"SL204"}) == []


def test_sl204_group0_app_dir_on_pythonpath_is_not_reported():
    entries = [Dir("/app", 0o775, 1001, 0), File("/app/app.py", b"", 0o664, 1001, 0)]
    out = run_rules(entries, ImageConfig(user="app"), sys_path=[("/app", "pythonpath")],
               rules={"SL204"})
    assert out == []
    # ... but world-writable is reported even for the app's own dir
    out = run_rules([Dir("/app", 0o777, 1001, 0)], ImageConfig(user="app"),
               sys_path=[("/app", "pythonpath")], rules={"SL204"})
    assert len(out) == 1 and out[0].severity == "high"


def test_sl204_writable_pth_and_pycache_inside_a_clean_site_dir():
    entries = [*site_entries(), File(f"{SITE}/evil.pth", b"import os\n", 0o666),
               Dir(f"{SITE}/__pycache__", 0o777)]
    out = run_rules(entries, ImageConfig(user="app"), rules={"SL204"})
    assert len(out) == 1
    paths = {w["path"] for w in out[0].evidence["writable"]}
    assert paths == {f"{SITE}/evil.pth", f"{SITE}/__pycache__"}
    assert "evil.pth" in out[0].message and ".pth" in out[0].message


def test_sl204_nested_import_dirs_are_reported_once_each():
    entries = [Dir("/usr/local/lib/python3.11", 0o777), Dir(SITE, 0o777),
               File(f"{SITE}/mod.py", b"", 0o666)]
    out = run_rules(entries, ImageConfig(user="app"), rules={"SL204"},
               sys_path=[("/usr/local/lib/python3.11", "stdlib"), (SITE, "site")])
    got = {f.evidence["paths"][0]: sorted(w["path"] for w in f.evidence["writable"]) for f in out}
    assert got == {"/usr/local/lib/python3.11": ["/usr/local/lib/python3.11"],
                   SITE: [SITE, f"{SITE}/mod.py"]}


def test_sl204_world_writable_ancestor_but_not_a_sticky_one():
    out = run_rules([Dir("/usr/local", 0o777), *site_entries()], ImageConfig(user="app"), rules={"SL204"})
    assert [w["where"] for w in out[0].evidence["writable"]] == ["ancestor"]
    out = run_rules([Dir("/usr/local", 0o1777), *site_entries()], ImageConfig(user="app"), rules={"SL204"})
    assert out == []


def test_sl204_acl_granting_write_to_a_named_user():
    acl = "user::rw-,user:2000:rw-:2000,group::r--,mask::rw-,other::r--"
    out = run_rules(site_entries(pax={"SCHILY.acl.access": acl}), ImageConfig(user="app"), rules={"SL204"})
    assert [f.evidence["writer"] for f in out] == ["acl user:2000"]
    # the same ACL with a read-only mask grants nothing
    acl = "user::rw-,user:2000:rw-:2000,group::r--,mask::r--,other::r--"
    assert run_rules(site_entries(pax={"SCHILY.acl.access": acl}), ImageConfig(user="app"),
                rules={"SL204"}) == []
