"""checks/interpreter_abi.py: SL113 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import File
from sitelens.image import ImageConfig
from tests.checks.check_support import SITE, run_rules, site_entries

GLIBC = File("/lib64/ld-linux-x86-64.so.2", b"\x7fELF")


def _abi(*names: str) -> list:  # type: ignore[type-arg]
    return [GLIBC, *site_entries(), *(File(f"{SITE}/{n}", b"\x7fELF") for n in names)]


def test_sl113_other_python_and_other_libc():
    out = run_rules(_abi("_a.cpython-310-x86_64-linux-gnu.so", "_b.cpython-311-x86_64-linux-musl.so"),
                    ImageConfig(user="app"), rules={"SL113"})
    assert len(out) == 1  # unowned files of one site dir: one finding
    f = out[0]
    assert f.evidence["paths"] == [f"{SITE}/_a.cpython-310-x86_64-linux-gnu.so",
                                   f"{SITE}/_b.cpython-311-x86_64-linux-musl.so"]
    assert "built for CPython 3.10" in f.message and "built for musl on a glibc image" in f.message
    assert f.severity == "high"


def test_sl113_quiet_for_a_matching_extension():
    assert run_rules(_abi("_a.cpython-311-x86_64-linux-gnu.so", "_c.abi3.so"),
                     ImageConfig(user="app"), rules={"SL113"}) == []
