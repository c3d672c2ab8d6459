"""The permission engine on filesystems built from real layer tars."""

from __future__ import annotations

import struct

import pytest

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.inventory.model import Identity
from sitelens.permissions import Permissions, parse_acl_text, parse_acl_xattr
from tests.helpers import fs_from_spec

ROOT = Identity("root", 0, 0)
APP = Identity("image-user", 1001, 1001)
ARB = Identity("arbitrary-uid", 1000620000, 0, [0])
OTHER = Identity("user:2000", 2000, 2000)


@pytest.fixture(scope="module")
def perms() -> Permissions:
    spec = ImageSpec([LayerSpec([
        Dir("/opt"),
        Dir("/opt/venv", 0o700, 1001, 1001),
        Dir("/opt/venv/bin", 0o755, 1001, 1001),
        File("/opt/venv/bin/python", b"\x7fELF", 0o755, 1001, 1001),
        Dir("/root", 0o700),
        Dir("/root/.local", 0o755),
        File("/root/.local/mod.py", b"x = 1\n"),
        Dir("/app", 0o775, 1001, 0),
        File("/app/main.py", b"print(1)\n", 0o664, 1001, 0),
        Dir("/odd", 0o070, 12345, 0),  # owner class has no bits: 12345 is denied
        File("/usr/bin/python3.11", b"\x7fELF", 0o755),
        Symlink("/usr/bin/python3", "python3.11"),
        Symlink("/usr/bin/vpy", "/opt/venv/bin/python"),
        Symlink("/usr/bin/loop", "loop"),
        File("/usr/bin/script", b"#!/bin/sh\necho\n", 0o711),
        File("/noexec", b"data", 0o644),
        Dir("/xonly", 0o711),
        File("/xonly/secret.py", b"", 0o644),
        Dir("/wo", 0o777),
        Dir("/acl", 0o750, 0, 0),
        File("/acl/f", b"", 0o640, 0, 0, pax={
            "SCHILY.acl.access": "user::rw-,user:alice:r--:2000,group::r--,mask::r--,other::---"}),
        Dir("/aclx", 0o700, 0, 0),
    ]), LayerSpec([
        # a later layer relaxes /acl only for uid 2000 via the binary xattr form
        Dir("/acl", 0o750, 0, 0),
    ])])
    fs = fs_from_spec(spec)
    return Permissions(fs)


def test_owner_group_other_classes_only_that_class_bits(perms):
    assert perms.list(APP, "/opt/venv").allowed
    a = perms.list(ARB, "/opt/venv")
    assert not a.allowed
    assert a.denied_by.path == "/opt/venv" and a.denied_by.mode_str == "0700"
    assert a.denied_by.owner == "1001:1001" and a.denied_by.klass == "other"
    odd = perms.traverse(Identity("x", 12345, 0, [0]), "/odd")
    assert not odd.allowed and odd.denied_by.klass == "owner"  # group bits do not apply to owner
    assert perms.traverse(ARB, "/odd").allowed


def test_ancestors_need_x_and_first_denying_component_is_named(perms):
    a = perms.read(ARB, "/root/.local/mod.py")
    assert not a.allowed and a.denied_by.path == "/root" and a.denied_by.need == "x"
    assert "search (x)" in a.reason() and "0700" in a.reason()
    assert perms.read(ROOT, "/root/.local/mod.py").allowed
    assert perms.stat(APP, "/root/.local").allowed is False


def test_symlinks_are_followed_and_their_targets_dirs_checked(perms):
    assert perms.execute(ARB, "/usr/bin/python3").allowed
    v = perms.execute(ARB, "/usr/bin/vpy")
    assert not v.allowed and v.denied_by.path == "/opt/venv"
    assert perms.execute(APP, "/usr/bin/vpy").real == "/opt/venv/bin/python"
    loop = perms.read(ROOT, "/usr/bin/loop")
    assert not loop.allowed and loop.missing


def test_root_bypass_except_exec_needs_an_x_bit(perms):
    assert perms.write(ROOT, "/opt/venv").allowed
    assert not perms.execute(ROOT, "/noexec").allowed
    assert perms.execute(ROOT, "/usr/bin/script").allowed


def test_script_needs_read_too(perms):
    s = perms.execute(ARB, "/usr/bin/script")
    assert not s.allowed and s.denied_by.need == "rx"
    assert perms.execute(ARB, "/usr/bin/python3.11").allowed  # a binary: x alone


def test_xonly_dir_reach_but_not_list(perms):
    assert perms.read(ARB, "/xonly/secret.py").allowed
    lst = perms.list(ARB, "/xonly")
    assert not lst.allowed and lst.denied_by.need == "rx"


def test_write_dir_needs_wx_and_group0(perms):
    assert perms.write(ARB, "/app").allowed  # group 0, g=u
    assert perms.write(ARB, "/app/main.py").allowed
    assert not perms.write(OTHER, "/app").allowed
    assert perms.create(OTHER, "/wo/new.py").allowed
    assert not perms.create(OTHER, "/usr/bin/new").allowed


def test_missing_and_not_a_directory(perms):
    m = perms.read(APP, "/nope/x")
    assert not m.allowed and m.missing == "/nope" and not m.exists
    n = perms.list(APP, "/noexec")
    assert not n.allowed and n.denied_by.klass == "not a directory"


def test_acl_text_named_user_and_mask(perms):
    alice = Identity("alice", 2000, 2000)
    a = perms.read(alice, "/acl/f")  # /acl is 0750 root:root: alice is "other" there
    assert not a.allowed and a.denied_by.path == "/acl"
    # the file's ACL grants alice r (masked r) but not w
    node = perms.fs.get("/acl/f")
    from sitelens.permissions import Cred

    assert perms.allows(node, Cred.of(alice), 4) is None
    d = perms.allows(node, Cred.of(alice), 2)
    assert d is not None and d.klass.startswith("acl user:2000")
    assert perms.allows(node, Cred.of(Identity("b", 2001, 2001)), 4) is not None


def test_parse_acl_forms():
    acl = parse_acl_text("user::rwx,user:bob:rw-,group::r-x,group:staff:rwx:50,mask::r-x,other::---",
                         users={"bob": 7})
    assert [(a.tag, a.qualifier, a.perms) for a in acl] == [
        ("user_obj", None, 7), ("user", 7, 6), ("group_obj", None, 5), ("group", 50, 7),
        ("mask", None, 5), ("other", None, 0)]
    blob = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", t, p, i) for t, p, i in
        [(1, 7, 0xFFFFFFFF), (2, 5, 2000), (4, 5, 0xFFFFFFFF), (0x10, 5, 0xFFFFFFFF), (0x20, 0, 0xFFFFFFFF)])
    x = parse_acl_xattr(blob)
    assert ("user", 2000, 5) in [(a.tag, a.qualifier, a.perms) for a in x]
    assert parse_acl_xattr(b"junk") == []


def test_acl_xattr_form_on_a_directory():
    blob = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", t, p, i) for t, p, i in
        [(1, 7, 0xFFFFFFFF), (2, 5, 2000), (4, 0, 0xFFFFFFFF), (0x10, 5, 0xFFFFFFFF),
         (0x20, 0, 0xFFFFFFFF)])
    fs = fs_from_spec(ImageSpec([LayerSpec([
        File("/d/f", b"", 0o644),
        Dir("/d", 0o700),
    ])]))
    # The fixture writer cannot put pax headers on directories: patch the entry's xattrs the way
    # the indexer stores SCHILY.xattr.system.posix_acl_access.
    fs.get("/d").entry.xattrs = {"system.posix_acl_access": blob}
    p = Permissions(fs)
    a = p.read(Identity("u", 2000, 2000), "/d/f")
    assert a.allowed and "/d" in a.acls
    b = p.read(Identity("u", 2001, 2001), "/d/f")
    assert not b.allowed and b.denied_by.klass == "acl other::"


def test_capability_xattr_is_reported():
    fs = fs_from_spec(ImageSpec([LayerSpec([
        File("/usr/bin/ping", b"\x7fELF", 0o755,
             pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00"}),
    ])]))
    a = Permissions(fs).execute(ARB, "/usr/bin/ping")
    assert a.allowed and a.capabilities and a.evidence()["file_capabilities"] is True
