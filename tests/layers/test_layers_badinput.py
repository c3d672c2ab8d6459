"""Bad layer input through the real pipeline and the real CLI: exit 3, one line, no traceback,
nothing written outside the cache dir. Images are real OCI layouts read through ``oci:``."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.imagebuilder import (
    Built,
    Device,
    Dir,
    File,
    Hardlink,
    ImageSpec,
    LayerSpec,
    Symlink,
    build,
    write_oci_layout,
)
from sitelens.errors import CorruptImage, ImageError
from sitelens.image import layers_from_config
from sitelens.pipeline import load

BIG = os.urandom(20_000)
GOOD = LayerSpec([Dir("/etc"), File("/etc/os-release", b"ID=debian\n"), File("/etc/big", BIG)])
SECOND = LayerSpec([Dir("/srv"), File("/srv/a", b"a" * 5000), File("/srv/b", b"b" * 70_000)])


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def with_blob(built: Built, i: int, blob: bytes, tar: bytes | None = None, codec: str | None = None) -> Built:
    """The same image with layer ``i`` replaced; the manifest digest follows the new blob, the
    config's diff_id follows ``tar`` only when given (so content and diff_id can disagree)."""
    layers = list(built.layers)
    old_blob, old_tar, old_codec = layers[i]
    layers[i] = (blob, tar if tar is not None else old_tar, codec or old_codec)
    cfg = json.loads(built.config)
    cfg["rootfs"]["diff_ids"] = [_sha(t) for _, t, _ in layers]
    return Built(json.dumps(cfg, sort_keys=True).encode(), layers, built.spec)


def layout(tmp_path: Path, built: Built, mutate_blob: Callable[[bytes], bytes] | None = None, layer: int = 0) -> str:
    """Write an OCI layout; ``mutate_blob`` rewrites a stored blob in place (same name)."""
    out = write_oci_layout(built, tmp_path / "img")
    if mutate_blob is not None:
        blob = built.layers[layer][0]
        path = out / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()
        path.write_bytes(mutate_blob(blob))
    return f"oci:{out}"


def flip(at: int) -> Callable[[bytes], bytes]:
    def f(b: bytes) -> bytes:
        i = at if at >= 0 else len(b) + at
        return b[:i] + bytes([b[i] ^ 0xFF]) + b[i + 1 :]
    return f


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, 6, mtime=0)


def raw_header(name: str, size: int, fmt: int) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size = size
    return ti.tobuf(fmt, "utf-8", "surrogateescape")


# ---- the cases ----------------------------------------------------------------------------------

def case_truncated_gzip(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD, SECOND]), "gzip")
    blob = b.layers[1][0]
    return layout(tmp, with_blob(b, 1, blob[: len(blob) // 2])), "gzip"


def case_corrupt_gzip(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), "gzip")
    blob = b.layers[0][0]
    return layout(tmp, with_blob(b, 0, flip(len(blob) // 2)(blob))), "gzip"


def case_gzip_bad_crc(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), "gzip")
    return layout(tmp, with_blob(b, 0, flip(-6)(b.layers[0][0]))), "gzip"


def case_truncated_zstd(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD, SECOND]), "zstd")
    blob = b.layers[1][0]
    return layout(tmp, with_blob(b, 1, blob[: len(blob) - 40])), "zstd"


def case_corrupt_zstd(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), "zstd")
    blob = b.layers[0][0]
    return layout(tmp, with_blob(b, 0, flip(len(blob) // 2)(blob))), "zstd"


def case_truncated_tar(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    tar = b.layers[0][1]
    cut = tar[: tar.index(BIG[:64]) + 6000]  # inside /etc/big's data
    return layout(tmp, with_blob(b, 0, cut, cut)), "truncated"


def case_truncated_tar_in_gzip(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    cut = b.layers[0][1][:1200]  # mid-header stream, validly compressed
    return layout(tmp, with_blob(b, 0, gzip_member(cut), cut, "gzip")), "truncated"


def case_bad_tar_checksum(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    tar = bytearray(b.layers[0][1])
    tar[5] ^= 0x20  # a byte of the first member's name, checksum left as it was
    return layout(tmp, with_blob(b, 0, bytes(tar), bytes(tar))), "checksum"


def case_blob_digest_mismatch(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD, SECOND]), None)
    tar = b.layers[1][1]
    at = tar.index(b"a" * 100) + 10  # file content: the tar still parses
    return layout(tmp, b, flip(at), layer=1), "digest"


def case_diff_id_mismatch(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD, SECOND]), "gzip")
    other = build(ImageSpec([LayerSpec([File("/x", b"x")])]), "gzip").layers[0][1]
    cfg = json.loads(b.config)
    cfg["rootfs"]["diff_ids"][1] = _sha(other)
    return layout(tmp, Built(json.dumps(cfg).encode(), b.layers, b.spec)), "diff_id"


def hostile(entries: list) -> Built:  # type: ignore[type-arg]
    # Only the second layer has raw (hostile) names; the first is an ordinary good layer.
    bad = build(ImageSpec([LayerSpec(entries)]), "gzip", hostile=True).layers[0]
    return with_blob(build(ImageSpec([GOOD, LayerSpec([])]), "gzip"), 1, bad[0], bad[1])


def case_dotdot_escape(tmp: Path) -> tuple[str, str]:
    return layout(tmp, hostile([File("../../etc/cron.d/evil", b"* * * * * root id\n")])), "escapes the root"


def case_dotdot_inner_escape(tmp: Path) -> tuple[str, str]:
    return layout(tmp, hostile([Dir("usr"), File("usr/../../x", b"x")])), "escapes the root"


def case_absolute_name(tmp: Path) -> tuple[str, str]:
    return layout(tmp, hostile([File("/etc/abs", b"x")])), "absolute"


def case_hardlink_outside(tmp: Path) -> tuple[str, str]:
    return layout(tmp, hostile([Hardlink("etc/shadow-copy", "../../../etc/shadow")])), "escapes the root"


def case_member_claims_2tb(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    tar = raw_header("huge.bin", 2 << 40, tarfile.GNU_FORMAT) + b"\0" * 1024
    return layout(tmp, with_blob(b, 0, gzip_member(tar), tar, "gzip")), "absurd size"


def case_pax_claims_2tb(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    tar = raw_header("huge.bin", 2 << 40, tarfile.PAX_FORMAT) + b"\0" * 1024
    return layout(tmp, with_blob(b, 0, tar, tar, "plain")), "absurd size"


def case_pax_header_too_big(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    ti = tarfile.TarInfo("x")
    ti.pax_headers = {"comment": "c" * (2 << 20)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b""))
    tar = buf.getvalue()
    return layout(tmp, with_blob(b, 0, tar, tar, "plain")), "1 MiB"


def case_garbage_blob(tmp: Path) -> tuple[str, str]:
    b = build(ImageSpec([GOOD]), None)
    junk = os.urandom(4096)
    return layout(tmp, with_blob(b, 0, junk, junk, "plain")), ""


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_pipeline_refuses(case: str, tmp_path: Path) -> None:
    ref, expect = CASES[case](tmp_path)
    with pytest.raises(ImageError) as info, load(ref, cache_dir=tmp_path / "cache"):
        pass
    assert info.value.exit_code == 3
    assert expect.lower() in str(info.value).lower()
    assert "\n" not in str(info.value)


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cwd, tmp, home = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "home"
    for d in (cwd, tmp, home):
        d.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from sitelens.cli import main; sys.argv[0] = 'sitelens'; main()",
         *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def assert_nothing_written_outside_cache(tmp_path: Path) -> None:
    for d in ("cwd", "tmp", "home"):
        assert list((tmp_path / d).iterdir()) == [], f"{d} was written to"
    cache = tmp_path / "xdg"
    if cache.exists():
        for p in cache.rglob("*"):
            # layer indexes and the cache's own bookkeeping (per-layer locks, the journal)
            assert p.is_dir() or p.suffix in (".idx", ".lock") or p.name == "journal", f"stray file in cache: {p}"


# ``audit`` checks a local blob's stored digest after indexing (layers/verify.py), ``ls`` while
# indexing: both must refuse every case the same way.
@pytest.mark.parametrize("command", [["ls", "{ref}", "/"], ["audit", "{ref}"]], ids=["ls", "audit"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_exit_3_one_line(case: str, command: list[str], tmp_path: Path) -> None:
    ref, expect = CASES[case](tmp_path)
    r = run_cli([a.format(ref=ref) for a in command], tmp_path)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sitelens: "), r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert expect.lower() in lines[0].lower()
    assert_nothing_written_outside_cache(tmp_path)


# ---- accepted on purpose ------------------------------------------------------------------------

def test_device_nodes_and_fifos_are_indexed_not_refused(tmp_path: Path) -> None:
    spec = ImageSpec([GOOD, LayerSpec([Dir("/dev"), Device("/dev/null", "char", 1, 3),
                                        Device("/dev/sda", "block", 8, 0)])])
    with load(layout(tmp_path, build(spec)), cache_dir=tmp_path / "c") as loaded:
        assert loaded.fs.get("/dev/null").kind == "char"
        assert loaded.fs.get("/dev/sda").kind == "block"
    r = run_cli(["ls", layout(tmp_path / "again", build(spec)), "/dev"], tmp_path)
    assert r.returncode == 0 and "crw-rw-rw-" in r.stdout and "brw-rw-rw-" in r.stdout


def test_symlinks_pointing_outside_are_kept_and_resolve_inside(tmp_path: Path) -> None:
    spec = ImageSpec([GOOD, LayerSpec([Symlink("/etc/evil", "../../../../etc/os-release"),
                                        Symlink("/etc/abs", "/../../../etc/os-release")])])
    with load(layout(tmp_path, build(spec)), cache_dir=tmp_path / "c") as loaded:
        assert loaded.fs.resolve("/etc/evil") == "/etc/os-release"
        assert loaded.fs.read_bytes("/etc/abs") == b"ID=debian\n"  # the image's, not the host's


def test_unknown_media_type_is_refused() -> None:
    doc = {"rootfs": {"diff_ids": ["sha256:" + "0" * 64]}}
    with pytest.raises(CorruptImage, match="media type"):
        layers_from_config(doc, [("sha256:" + "1" * 64, "application/x-not-a-layer", 3)], "t")


# ---- bombs: bounded memory ----------------------------------------------------------------------

BOMB_BYTES = 2 << 30  # inflates to 2 GiB from ~2 MiB of gzip


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A valid layer: one 2 GiB file of zeros at a captured path (dpkg status, 64 MiB limit),
    as a multi-member gzip stream of ~2 MiB. The diff_id is right, so it must be indexed."""
    tmp = tmp_path_factory.mktemp("bomb")
    header = raw_header("var/lib/dpkg/status", BOMB_BYTES, tarfile.GNU_FORMAT)
    zeros = bytes(1 << 20)
    zmember = gzip.compress(zeros, 9, mtime=0)
    tail = b"\0" * ((-BOMB_BYTES) % 512) + b"\0" * 1024
    diff = hashlib.sha256(header)
    for _ in range(BOMB_BYTES >> 20):
        diff.update(zeros)
    diff.update(tail)
    blob = gzip_member(header) + zmember * (BOMB_BYTES >> 20) + gzip_member(tail)
    base = build(ImageSpec([GOOD]), "gzip")
    cfg = json.loads(base.config)
    cfg["rootfs"]["diff_ids"] = ["sha256:" + diff.hexdigest()]
    # Built wants the uncompressed tar only for its diff_id, which the config now carries.
    bomb = Built(json.dumps(cfg).encode(), [(blob, b"", "gzip")], base.spec)
    assert len(blob) < 4 << 20
    return f"oci:{write_oci_layout(bomb, tmp / 'img')}"


@pytest.mark.slow
def test_gzip_bomb_is_refused_once_past_the_ratio(gzip_bomb: str) -> None:
    # 2 GiB from 2 MiB (1000x) with a right diff_id: a valid layer, but no real layer inflates
    # like that (issue 14: a 20 GiB one took 41 s). It stops at the 1 GiB floor, never stored.
    from sitelens.decompress import INFLATE_FLOOR, INFLATE_RATIO

    assert BOMB_BYTES > INFLATE_FLOOR and BOMB_BYTES > INFLATE_RATIO * (BOMB_BYTES >> 10)
    with pytest.raises(CorruptImage, match="decompression bomb"), load(gzip_bomb, use_cache=False):
        pass


def test_a_bomb_header_alone_is_truncated(tmp_path: Path) -> None:
    # The header promises 1 TiB - 1 (under the absurd-size cap) and the stream ends: truncated.
    b = build(ImageSpec([GOOD]), None)
    tar = raw_header("big", (1 << 40) - 1, tarfile.GNU_FORMAT)
    with pytest.raises(CorruptImage, match="truncated"), load(
        layout(tmp_path, with_blob(b, 0, gzip_member(tar), tar, "gzip")), use_cache=False
    ):
        pass
