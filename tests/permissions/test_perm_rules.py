"""The permission rules on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec
from sitelens.image import ImageConfig
from sitelens.inventory.identities import resolve_identities
from sitelens.inventory.model import Environment, Interpreter, Inventory, PathEntry
from tests.helpers import fs_from_spec

SITE = "/usr/local/lib/python3.11/site-packages"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\napp:x:1001:1001::/home/app:/bin/sh\n"


def _run(entries, config: ImageConfig, sys_path=None, rules=None, identities=True):  # type: ignore[no-untyped-def]
    import sitelens.checks  # noqa: F401
    from sitelens.checks.base import REGISTRY, Context
    from sitelens.image import Image

    fs = fs_from_spec(ImageSpec([LayerSpec([File("/etc/passwd", PASSWD), *entries])]))
    idents = resolve_identities(fs, config) if identities else []
    interp = Interpreter("/usr/local/bin/python3", "/usr/local/bin/python3.11", "3.11",
                         "upstream", "/usr/local", "/usr/local")
    env = Environment("/usr/local/bin/python3", "system", interp, "/usr/local")
    for i in idents or resolve_identities(fs, config):
        env.sys_path[i.name] = [PathEntry(p, origin, True, origin == "site")
                                for p, origin in (sys_path or [(SITE, "site")])]
    inv = Inventory(identities=idents, interpreters=[interp], environments=[env])
    ctx = Context(fs, inv, Image("t", None, config, []), [])
    out = []
    for rc in REGISTRY:
        if rules is None or set(rc.rules) & rules:
            out.extend(rc.fn(ctx))
    return out


def _site(mode: int = 0o755, gid: int = 0, **kw):  # type: ignore[no-untyped-def]
    return [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, mode, 0, gid),
            File(f"{SITE}/mod.py", b"x = 1\n", kw.get("file_mode", 0o644), 0, kw.get("file_gid", 0),
                 pax=kw.get("pax"))]


def test_sl204_group_writable_by_a_foreign_group_is_high():
    out = _run(_site(0o775, gid=50), ImageConfig(user="app"), rules={"SL204"})
    assert [(f.severity, f.evidence["writer"]) for f in out] == [("high", "group 50")]
    assert out[0].evidence["writable"][0]["mode"] == "0775"


def test_sl204_group0_writable_site_packages_is_the_runtime_users_own():
    """chgrp -R 0 && chmod -R g=u (OpenShift): group 0 is root's and the arbitrary UID's."""
    assert _run(_site(0o775, gid=0, file_mode=0o664), ImageConfig(user="app"), rules={"SL204"}) == []


def test_sl204_group_or_owner_of_a_runtime_identity_is_silent_a_stranger_is_not():
    # group 1001 is the image user's (app:x:1001:1001): its own access
    assert _run(_site(0o775, gid=1001), ImageConfig(user="app"), rules={"SL204"}) == []
    # the same dir owned by uid 1001: the image user's own
    entries = [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, 0o755, 1001, 0)]
    assert _run(entries, ImageConfig(user="app"), rules={"SL204"}) == []
    # owned by a build uid no runtime identity has
    entries = [Dir("/usr/local/lib/python3.11", 0o755), Dir(SITE, 0o755, 2000, 0)]
    out = _run(entries, ImageConfig(user="app"), rules={"SL204"})
    assert [(f.severity, f.evidence["writer"]) for f in out] == [("high", "owner uid 2000")]
    assert "chown -R 0:0" in out[0].remediation
    # ... unless the image runs as uid 2000
    assert _run(entries, ImageConfig(user="2000"), rules={"SL204"}) == []


def test_sl204_group0_app_dir_on_pythonpath_is_not_reported():
    entries = [Dir("/app", 0o775, 1001, 0), File("/app/app.py", b"", 0o664, 1001, 0)]
    out = _run(entries, ImageConfig(user="app"), sys_path=[("/app", "pythonpath")],
               rules={"SL204"})
    assert out == []
    # ... but world-writable is reported even for the app's own dir
    out = _run([Dir("/app", 0o777, 1001, 0)], ImageConfig(user="app"),
               sys_path=[("/app", "pythonpath")], rules={"SL204"})
    assert len(out) == 1 and out[0].severity == "high"


def test_sl204_writable_pth_and_pycache_inside_a_clean_site_dir():
    entries = [*_site(), File(f"{SITE}/evil.pth", b"import os\n", 0o666),
               Dir(f"{SITE}/__pycache__", 0o777)]
    out = _run(entries, ImageConfig(user="app"), rules={"SL204"})
    assert len(out) == 1
    paths = {w["path"] for w in out[0].evidence["writable"]}
    assert paths == {f"{SITE}/evil.pth", f"{SITE}/__pycache__"}
    assert "evil.pth" in out[0].message and ".pth" in out[0].message


def test_sl204_nested_import_dirs_are_reported_once_each():
    entries = [Dir("/usr/local/lib/python3.11", 0o777), Dir(SITE, 0o777),
               File(f"{SITE}/mod.py", b"", 0o666)]
    out = _run(entries, ImageConfig(user="app"), rules={"SL204"},
               sys_path=[("/usr/local/lib/python3.11", "stdlib"), (SITE, "site")])
    got = {f.evidence["paths"][0]: sorted(w["path"] for w in f.evidence["writable"]) for f in out}
    assert got == {"/usr/local/lib/python3.11": ["/usr/local/lib/python3.11"],
                   SITE: [SITE, f"{SITE}/mod.py"]}


def test_sl203_home_equal_to_workdir_is_one_finding():
    out = _run([Dir("/srv", 0o755)], ImageConfig(user="1234", workdir="/srv",
                                                env={"HOME": "/srv"}), rules={"SL203"})
    mine = [f for f in out if "image-user" in f.evidence["identities"]]
    assert len(mine) == 1 and mine[0].evidence["what"] == ["HOME", "WorkingDir"]
    assert "HOME and WorkingDir /srv is not writable" in mine[0].message


def test_sl204_world_writable_ancestor_but_not_a_sticky_one():
    out = _run([Dir("/usr/local", 0o777), *_site()], ImageConfig(user="app"), rules={"SL204"})
    assert [w["where"] for w in out[0].evidence["writable"]] == ["ancestor"]
    out = _run([Dir("/usr/local", 0o1777), *_site()], ImageConfig(user="app"), rules={"SL204"})
    assert out == []


def test_sl204_acl_granting_write_to_a_named_user():
    acl = "user::rw-,user:2000:rw-:2000,group::r--,mask::rw-,other::r--"
    out = _run(_site(pax={"SCHILY.acl.access": acl}), ImageConfig(user="app"), rules={"SL204"})
    assert [f.evidence["writer"] for f in out] == ["acl user:2000"]
    # the same ACL with a read-only mask grants nothing
    acl = "user::rw-,user:2000:rw-:2000,group::r--,mask::r--,other::r--"
    assert _run(_site(pax={"SCHILY.acl.access": acl}), ImageConfig(user="app"),
                rules={"SL204"}) == []


def test_sl201_unreadable_file_in_site_dir():
    out = _run(_site(file_mode=0o600), ImageConfig(user="app"), rules={"SL201"})
    idents = sorted(n for f in out for n in f.evidence["identities"])
    assert idents == ["arbitrary-uid", "image-user"]
    assert out[0].evidence["unreadable"][0] == {"path": f"{SITE}/mod.py", "kind": "file",
                                                "mode": "0600", "owner": "0:0"}
    # group 0 may read a 0640 root:root file: only the image user is denied
    out = _run(_site(file_mode=0o640), ImageConfig(user="app"), rules={"SL201"})
    assert [f.evidence["identities"] for f in out] == [["image-user"]]


def test_sl206_and_identity_fallback_without_inventory_identities():
    out = _run(_site(), ImageConfig(), rules={"SL206"}, identities=False)
    assert [f.rule for f in out] == ["SL206"]
    assert _run(_site(), ImageConfig(user="app"), rules={"SL206"}, identities=False) == []
    assert [f.rule for f in _run(_site(), ImageConfig(user="0:0"), rules={"SL206"})] == ["SL206"]


def test_sl207_setuid_setgid_and_capabilities_not_setgid_dirs():
    entries = [File("/usr/bin/su", b"", 0o4755), File("/usr/bin/wall", b"", 0o2755, 0, 5),
               Dir("/var/mail", 0o2775), File("/usr/bin/ping", b"", 0o755,
                                                  pax={"SCHILY.xattr.security.capability": "\x01"})]
    out = _run(entries, ImageConfig(user="app"), rules={"SL207"})
    got = {f.evidence["paths"][0]: f.evidence["bits"] for f in out}
    assert got == {"/usr/bin/su": ["setuid"], "/usr/bin/wall": ["setgid"],
                   "/usr/bin/ping": ["file capabilities"]}


def test_sl203_home_slash_for_an_arbitrary_uid_and_missing_workdir():
    # /etc/passwd group-writable: CRI-O injects nothing, so HOME is "/" for the arbitrary uid
    entries = [File("/etc/passwd", PASSWD, 0o664), Dir("/home/app", 0o700, 1001, 1001)]
    out = _run(entries, ImageConfig(user="app", workdir="/srv/app"), rules={"SL203"})
    got = {(n, w, f.evidence["paths"][0]) for f in out for w in f.evidence["what"]
           for n in f.evidence["identities"]}
    assert got == {("arbitrary-uid", "HOME", "/"), ("arbitrary-uid", "WorkingDir", "/srv/app"),
                   ("image-user", "WorkingDir", "/srv/app"),
                   ("root", "HOME", "/root")}  # this tiny image has no /root at all
    root_home = next(f for f in out if f.evidence["identity"] == "root")
    assert "HOME=/root does not exist" in root_home.message
    assert "chgrp -R 0" in out[0].remediation
