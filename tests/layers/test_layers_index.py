"""The layer indexer on real tars: names, types, whiteouts, captured bytes, digests, pax records."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from fixtures.imagebuilder import Device, Dir, File, Hardlink, Opaque, Symlink, Whiteout, layer_tar
from sitelens.errors import CorruptImage
from sitelens.layers.index import INDEX_FORMAT, build_index, normalize_member_name


def index_of(tar: bytes):  # type: ignore[no-untyped-def]
    return build_index(io.BytesIO(tar), "sha256:" + hashlib.sha256(tar).hexdigest(), "test")


def by_path(idx):  # type: ignore[no-untyped-def]
    return {e.path: e for e in idx.entries}


def tar_of(members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def reg(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), mode
    return ti, data


LONG_DIR = "usr/lib/python3/dist-packages/" + "/".join(["deeply_nested_package_name"] * 8)
LONG_NAME = LONG_DIR + "/module_with_a_long_name.py"


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_names_and_long_link_targets(fmt: int) -> None:
    assert len(LONG_NAME) > 255
    link = tarfile.TarInfo("usr/bin/tool")
    link.type, link.linkname = tarfile.SYMTYPE, "/" + LONG_NAME
    hard = tarfile.TarInfo(LONG_DIR + "/hardlinked_copy_with_a_long_name.py")
    hard.type, hard.linkname = tarfile.LNKTYPE, LONG_NAME
    tar = tar_of([reg(LONG_NAME, b"x = 1\n"), (link, None), (hard, None)], fmt)
    entries = by_path(index_of(tar))
    assert entries["/" + LONG_NAME].kind == "file"
    assert entries["/" + LONG_NAME].sha256 == hashlib.sha256(b"x = 1\n").digest()
    assert entries["/usr/bin/tool"].link == "/" + LONG_NAME
    assert entries["/" + LONG_DIR + "/hardlinked_copy_with_a_long_name.py"].link == "/" + LONG_NAME


def test_ustar_prefix_field_is_joined() -> None:
    name = "a" * 120 + "/b.txt"  # too long for name[100], fits prefix + name
    tar = tar_of([reg(name, b"1")], tarfile.USTAR_FORMAT)
    assert "/" + name in by_path(index_of(tar))


def test_every_kind_mode_owner_size_and_digest() -> None:
    tar = layer_tar([
        Dir("/etc", 0o750, 0, 42),
        File("/etc/conf", b"abc", 0o4711, 1000, 1001),
        Symlink("/etc/link", "../usr/bin/x", 5, 6),
        Hardlink("/etc/hard", "/etc/conf"),
        Device("/dev/null", "char", 1, 3),
        Device("/dev/sda", "block", 8, 0),
    ])
    e = by_path(index_of(tar))
    assert (e["/etc"].kind, e["/etc"].mode, e["/etc"].gid) == ("dir", 0o750, 42)
    f = e["/etc/conf"]
    assert (f.kind, f.mode, f.uid, f.gid, f.size) == ("file", 0o4711, 1000, 1001, 3)
    assert f.sha256 == hashlib.sha256(b"abc").digest()
    assert f.md5 is None and f.data is None  # not a python-ish or captured path
    assert (e["/etc/link"].kind, e["/etc/link"].link, e["/etc/link"].uid) == ("symlink", "../usr/bin/x", 5)
    assert (e["/etc/hard"].kind, e["/etc/hard"].link) == ("hardlink", "/etc/conf")
    # Device nodes are recorded as metadata: sitelens never creates image files, so they are harmless.
    assert e["/dev/null"].kind == "char" and e["/dev/sda"].kind == "block"
    assert e["/dev/null"].size == 0


def test_fifo_is_indexed() -> None:
    ti = tarfile.TarInfo("run/pipe")
    ti.type = tarfile.FIFOTYPE
    assert by_path(index_of(tar_of([(ti, None)])))["/run/pipe"].kind == "fifo"


def test_whiteouts_opaque_and_bare_wh_file() -> None:
    tar = layer_tar([
        Whiteout("/usr/lib/old"),
        Opaque("/opt/app"),
        File("/tmp/.wh.", b"not a whiteout"),
        File("/.wh..wh.plnk/123.456", b""),  # aufs bookkeeping, not a file of the image
    ])
    idx = index_of(tar)
    kinds = [(x.path, x.kind) for x in idx.entries]
    assert ("/usr/lib/old", "whiteout") in kinds
    assert ("/opt/app", "opaque") in kinds
    # A bare ".wh." is a regular file with that name, never a whiteout of the empty name.
    assert ("/tmp/.wh.", "file") in kinds
    assert not any(p.startswith("/.wh..wh.plnk") for p, _ in kinds)


def test_captured_bytes_md5_and_truncation_flag() -> None:
    record = b"jinja2/__init__.py,sha256=abc,100\n"
    status = b"Package: x\nStatus: install ok installed\n\n"
    tar = layer_tar([
        File("/usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/RECORD", record),
        File("/var/lib/dpkg/status", status),
        File("/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n"),
        File("/usr/lib/python3/dist-packages/jinja2/__init__.py", b"# code\n"),
        File("/srv/big.bin", b"\0" * 5000),
    ])
    e = by_path(index_of(tar))
    rec = e["/usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/RECORD"]
    assert rec.data == record and not rec.truncated
    assert rec.md5 == hashlib.md5(record).digest()
    assert e["/var/lib/dpkg/status"].data == status
    assert e["/etc/passwd"].data is not None
    code = e["/usr/lib/python3/dist-packages/jinja2/__init__.py"]
    assert code.data is None and code.md5 == hashlib.md5(b"# code\n").digest()
    assert e["/srv/big.bin"].data is None


def test_capture_limit_truncates_but_digest_covers_everything() -> None:
    body = b"root:x:0:0::/root:/bin/sh\n" * 200_000  # > 4 MiB passwd limit
    e = by_path(index_of(layer_tar([File("/etc/passwd", body)])))["/etc/passwd"]
    assert e.truncated and e.data is not None and len(e.data) == 4 << 20
    assert e.data == body[: 4 << 20]
    assert e.sha256 == hashlib.sha256(body).digest() and e.size == len(body)


def test_shebang_head_is_first_line_only() -> None:
    script = b"#!/usr/bin/python3.11 -I\nimport sys\n"
    tar = layer_tar([File("/usr/local/bin/tool", script, 0o755), File("/usr/bin/elf", b"\x7fELF...")])
    e = by_path(index_of(tar))
    assert e["/usr/local/bin/tool"].head == b"#!/usr/bin/python3.11 -I"
    assert e["/usr/bin/elf"].head is None


def test_shebang_head_is_bounded() -> None:
    script = b"#!" + b"x" * 10_000 + b"\n"
    head = by_path(index_of(layer_tar([File("/bin/s", script)])))["/bin/s"].head
    assert head is not None and len(head) <= 256


def test_xattrs_and_acl_from_pax_records() -> None:
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    pax = {
        "SCHILY.xattr.security.capability": cap.decode("latin-1"),
        "SCHILY.xattr.user.note": "hello",
        "SCHILY.acl.access": "user::rw-,user:1000:r--,group::r--,mask::r--,other::---",
    }
    e = by_path(index_of(layer_tar([File("/usr/bin/ping", b"ELF", 0o755, pax=pax)])))["/usr/bin/ping"]
    assert e.xattrs == {"security.capability": cap, "user.note": b"hello"}
    assert e.acl == "user::rw-,user:1000:r--,group::r--,mask::r--,other::---"


def test_pax_uid_gid_and_size_override_header_fields() -> None:
    ti, data = reg("srv/f", b"12345")
    ti.uid, ti.gid = 3_000_000_000, 4_000_000_000  # too big for octal: tarfile writes pax records
    e = by_path(index_of(tar_of([(ti, data)])))["/srv/f"]
    assert (e.uid, e.gid, e.size) == (3_000_000_000, 4_000_000_000, 5)


def test_root_member_and_dot_slash_prefixes_normalise() -> None:
    d = tarfile.TarInfo("./")
    d.type, d.mode = tarfile.DIRTYPE, 0o700
    tar = tar_of([(d, None), reg("./usr//bin/./x", b"1")])
    e = by_path(index_of(tar))
    assert e["/"].mode == 0o700
    assert "/usr/bin/x" in e


def test_inner_dotdot_that_stays_inside_is_accepted() -> None:
    assert normalize_member_name("usr/lib/../bin/x", "t") == "/usr/bin/x"


@pytest.mark.parametrize("name", ["../etc/passwd", "usr/../../etc/passwd", "/etc/passwd", "a/\0/b"])
def test_names_leaving_the_root_are_refused(name: str) -> None:
    with pytest.raises(CorruptImage):
        normalize_member_name(name, "t")


def test_tar_bytes_and_content_bytes() -> None:
    tar = layer_tar([File("/a", b"x" * 10), File("/b", b"y" * 5), Dir("/c")])
    idx = index_of(tar)
    assert idx.tar_bytes == len(tar)
    assert idx.content_bytes == 15


def test_index_format_is_a_positive_int() -> None:
    assert isinstance(INDEX_FORMAT, int) and INDEX_FORMAT >= 1


def test_captured_bytes_per_layer_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitelens.layers import index as index_mod

    monkeypatch.setattr(index_mod, "MAX_CAPTURED", 10_000)
    files = [File(f"/usr/lib/python3/dist-packages/p{i}-1.dist-info/RECORD", b"x" * 3000) for i in range(5)]
    with pytest.raises(CorruptImage, match="metadata files"):
        index_of(layer_tar(files))
    # under the cap the same kind of layer is fine
    assert len(index_of(layer_tar(files[:3])).entries) == 3


def test_member_split_across_reader_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force tiny reads so headers and data straddle the reader's buffer refills.
    from sitelens.layers import tarstream

    monkeypatch.setattr(tarstream, "CHUNK", 700)
    script = b"#!/usr/bin/env python3\n" + b"print(1)\n" * 500
    tar = layer_tar([File("/usr/bin/tool", script, 0o755), File("/etc/passwd", b"root:x:0:0::/:/bin/sh\n" * 90),
                     File("/z", b"z")])
    idx = index_of(tar)
    e = by_path(idx)
    assert e["/usr/bin/tool"].head == b"#!/usr/bin/env python3"
    assert e["/usr/bin/tool"].sha256 == hashlib.sha256(script).digest()
    assert e["/etc/passwd"].data == b"root:x:0:0::/:/bin/sh\n" * 90
    assert idx.tar_bytes == len(tar)
