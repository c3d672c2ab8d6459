"""checks/runnable.py: SL205 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File
from sitelens.image import ImageConfig
from sitelens.inventory.model import Entrypoint
from tests.checks.check_support import run_rules, site_entries

PY = "/usr/local/bin/python3.11"
EP = Entrypoint(["python3.11", "/app/main.py"], interpreter=PY, script="/app/main.py")


def _interp(mode: int) -> list:  # type: ignore[type-arg]
    return [Dir("/usr/local/bin", 0o755), File(PY, b"\x7fELF", mode), *site_entries()]


def test_sl205_only_the_identity_the_mode_shuts_out():
    # root:root 0750: group 0 (root, the arbitrary UID) may run it, the image user (1001) may not
    out = run_rules(_interp(0o750), ImageConfig(user="app"), rules={"SL205"}, entrypoint=EP)
    assert [(f.evidence["identities"], f.evidence["interpreter"]) for f in out] == [(["image-user"], PY)]
    assert "chmod 0755" in out[0].remediation
    assert out[0].severity == "critical"  # the catalog's default


def test_sl205_quiet_for_an_executable_or_absent_interpreter():
    assert run_rules(_interp(0o755), ImageConfig(user="app"), rules={"SL205"}, entrypoint=EP) == []
    # no such file: a dangling entrypoint is another rule's finding
    assert run_rules(site_entries(), ImageConfig(user="app"), rules={"SL205"}, entrypoint=EP) == []
