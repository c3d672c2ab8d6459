"""Which ``PyInit_`` names an extension module exports, read while its layer streams.

Real extension modules (zstandard's and isal's, installed with sitelens) in a real layer tar:
the names come from the ELF file's first loadable segment (where the dynamic string table
lives), whether the file arrives in one piece or in many chunks; a file that names none there
is scanned to its end; a bundled library whose name cannot be imported is not read at all."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import tarfile
from pathlib import Path

import isal.isal_zlib
import pytest
import zstandard.backend_c

from sitelens.layers.index import ExportScan, build_index, elf_first_segment

SITE = "usr/local/lib/python3.11/site-packages"
BIG = Path(zstandard.backend_c.__file__).read_bytes()  # ≈ 11 MB: streamed in chunks
SMALL = Path(isal.isal_zlib.__file__).read_bytes()  # ≈ 0.5 MB: read from the reader's buffer
SO = ".cpython-311-x86_64-linux-gnu.so"


def _index(members: dict[str, bytes]) -> dict[str, tuple[str, ...] | None]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o755
            tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    idx = build_index(io.BytesIO(raw), "sha256:" + hashlib.sha256(raw).hexdigest(), "test")
    return {e.path: e.pyinit for e in idx.entries}


def test_real_extensions_export_their_module_name() -> None:
    got = _index({f"{SITE}/zstandard/backend_c{SO}": BIG, f"{SITE}/isal/isal_zlib{SO}": SMALL})
    assert got[f"/{SITE}/zstandard/backend_c{SO}"] == ("backend_c",)
    assert got[f"/{SITE}/isal/isal_zlib{SO}"] == ("isal_zlib",)


def test_a_library_no_import_can_name_is_not_read() -> None:
    got = _index({f"{SITE}/zstandard.libs/libzstd-1a2b3c4d.so": BIG})
    assert got[f"/{SITE}/zstandard.libs/libzstd-1a2b3c4d.so"] is None


def test_the_first_segment_decides_and_chunking_does_not_matter() -> None:
    end = elf_first_segment(BIG)
    assert 0 < end < len(BIG) // 2
    # a name after the segment (as in a symbol table or a string constant) is not an export
    data = BIG + b"\0PyInit_elsewhere\0"
    whole = ExportScan()
    whole.feed(data)
    assert whole.finish() == ("backend_c",)
    rng = random.Random(7)
    for _ in range(5):
        scan, i = ExportScan(), 0
        while i < len(data):
            n = rng.choice([1, 9, 300, 4095, 4096, 65536, 1 << 20])
            scan.feed(memoryview(data)[i : i + n])
            i += n
        assert scan.finish() == ("backend_c",)


def test_an_elf_file_without_names_in_its_first_segment_is_scanned_to_its_end() -> None:
    true = shutil.which("true")
    if true is None:
        pytest.skip("no true(1)")
    elf = Path(true).read_bytes()
    assert elf_first_segment(elf) > 0 and b"PyInit_" not in elf
    got = _index({f"{SITE}/late{SO}": elf + b"\0PyInit_late\0"})
    assert got[f"/{SITE}/late{SO}"] == ("late",)


@pytest.mark.parametrize("head", [b"", b"\x7fELF", b"\x7fELF\x02\x01" + b"\0" * 10, b"not an elf at all" * 8])
def test_not_an_elf_header_means_the_whole_file(head: bytes) -> None:
    assert elf_first_segment(head) == 0
    scan = ExportScan()
    scan.feed(head + b"\0PyInit_mod\0")
    assert scan.finish() == ("mod",)


def test_program_headers_pointing_past_the_head_are_not_trusted() -> None:
    hostile = bytearray(BIG[:64])
    hostile[0x20:0x28] = (1 << 40).to_bytes(8, "little")  # e_phoff far beyond the file
    assert elf_first_segment(bytes(hostile)) == 0
