"""Identities from the image config and the image's /etc/passwd and /etc/group (runc's rules)."""

from __future__ import annotations

from fixtures.imagebuilder import File, ImageSpec, LayerSpec
from sitelens.image import ImageConfig
from sitelens.inventory.identities import (
    ARBITRARY_UID,
    parse_group,
    parse_passwd,
    parse_user_option,
    resolve_identities,
)
from tests.helpers import fs_from_spec

PASSWD = (
    b"root:x:0:0:root:/root:/bin/bash\n"
    b"# a comment\n"
    b"+nis\n"
    b"broken:x:notanumber:0::/:/bin/sh\n"
    b"app:x:1001:1001:App:/home/app:/bin/sh\n"
    b"short:x:7:7\n"
)
GROUP = b"root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nweb:x:33: app \nbad:x:zz:app\n"


def _fs(passwd: bytes | None = PASSWD, passwd_mode: int = 0o644, passwd_uid: int = 0):
    entries = [File("/etc/group", GROUP)]
    if passwd is not None:
        entries.append(File("/etc/passwd", passwd, mode=passwd_mode, uid=passwd_uid))
    return fs_from_spec(ImageSpec([LayerSpec(entries)]))


def by_name(idents):
    return {i.name: i for i in idents}


def test_parse_passwd_and_group():
    pw = parse_passwd(PASSWD)
    assert [p.name for p in pw] == ["root", "app", "short"]
    assert pw[1].home == "/home/app" and pw[1].uid == 1001 and pw[1].shell == "/bin/sh"
    assert pw[2].home == "" and pw[2].gid == 7
    gr = parse_group(GROUP)
    assert [(g.name, g.gid) for g in gr] == [("root", 0), ("app", 1001), ("staff", 50), ("web", 33)]
    assert gr[2].members == ("app", "other")
    assert gr[3].members == ("app",)
    assert parse_passwd(b"\xff\xfe:garbage\n") == []


def test_user_by_name_gets_passwd_gid_home_and_supplementary_groups():
    ids = by_name(resolve_identities(_fs(), ImageConfig(user="app")))
    u = ids["image-user"]
    assert (u.uid, u.gid, u.groups, u.home, u.username) == (1001, 1001, [50, 33], "/home/app", "app")
    assert u.has_passwd_entry


def test_numeric_user_found_in_passwd_behaves_like_the_name():
    u = by_name(resolve_identities(_fs(), ImageConfig(user="1001")))["image-user"]
    assert (u.uid, u.gid, u.groups, u.home) == (1001, 1001, [50, 33], "/home/app")


def test_explicit_group_drops_supplementary_groups():
    u = by_name(resolve_identities(_fs(), ImageConfig(user="app:staff")))["image-user"]
    assert (u.uid, u.gid, u.groups) == (1001, 50, [])
    u = by_name(resolve_identities(_fs(), ImageConfig(user="1001:0")))["image-user"]
    assert (u.uid, u.gid, u.groups) == (1001, 0, [])


def test_unknown_numeric_uid_gets_gid0_and_home_slash():
    u = by_name(resolve_identities(_fs(), ImageConfig(user="5000")))["image-user"]
    assert (u.uid, u.gid, u.home, u.has_passwd_entry) == (5000, 0, "/", False)


def test_home_env_wins_over_passwd():
    u = by_name(resolve_identities(_fs(), ImageConfig(user="app", env={"HOME": "/data"})))
    assert u["image-user"].home == "/data"
    assert u["root"].home == "/data"  # the container env applies to every identity


def test_unset_user_is_root():
    ids = by_name(resolve_identities(_fs(), ImageConfig()))
    assert (ids["image-user"].uid, ids["image-user"].home) == (0, "/root")
    assert ids["root"].uid == 0


def test_unknown_user_name_warns_and_says_runc_fails():
    warnings: list[str] = []
    u = by_name(resolve_identities(_fs(), ImageConfig(user="nobody"), warnings=warnings))
    assert u["image-user"].username == "nobody"
    assert u["image-user"].uid == -1 and not u["image-user"].has_passwd_entry
    assert len(warnings) == 1 and "runc would refuse to start" in warnings[0]


def test_arbitrary_uid_crio_injects_passwd_line_home_from_workdir_or_tmp():
    ids = by_name(resolve_identities(_fs(), ImageConfig(user="1001", workdir="/srv")))
    a = ids["arbitrary-uid"]
    assert (a.uid, a.gid, a.groups) == (ARBITRARY_UID, 0, [0])
    assert a.has_passwd_entry and a.username == "default" and a.home == "/srv"
    a = by_name(resolve_identities(_fs(), ImageConfig()))["arbitrary-uid"]
    assert a.home == "/tmp"
    a = by_name(resolve_identities(_fs(), ImageConfig(env={"HOME": "/h"}, workdir="/w")))
    assert a["arbitrary-uid"].home == "/h"


def test_arbitrary_uid_no_injection_when_passwd_writable_or_absent():
    for fs in (_fs(passwd_mode=0o664), _fs(passwd_mode=0o646), _fs(passwd=None)):
        a = by_name(resolve_identities(fs, ImageConfig(workdir="/srv")))["arbitrary-uid"]
        assert not a.has_passwd_entry and a.username is None and a.home == "/"
    # owned and writable by that very uid (an nss_wrapper-style entrypoint adds it itself)
    fs = _fs(passwd_mode=0o644, passwd_uid=ARBITRARY_UID)
    a = by_name(resolve_identities(fs, ImageConfig(workdir="/srv")))["arbitrary-uid"]
    assert not a.has_passwd_entry and a.home == "/"


def test_extra_users_and_which():
    ids = resolve_identities(_fs(), ImageConfig(user="app"), ["2000", "1001:0", "2000"],
                             which={"arbitrary-uid"})
    assert [i.name for i in ids] == ["arbitrary-uid", "user:2000", "user:1001:0"]
    assert (ids[1].uid, ids[1].gid, ids[1].home) == (2000, 0, "/")
    assert (ids[2].uid, ids[2].gid, ids[2].home) == (1001, 0, "/home/app")


def test_parse_user_option():
    assert parse_user_option("1000:0") == "1000:0"
    for bad in ("app", "1:x", ":0", ""):
        try:
            parse_user_option(bad)
        except ValueError as exc:
            assert "UID[:GID]" in str(exc)
        else:
            raise AssertionError(bad)
