"""The analysis split over two processes (forked.py) gives the report one process gives.

On real images (Debian 12 root, Debian's pip and venv, PyPI wheels: fixtures/sl1_images.py) the
JSON document is the same with and without the fork; a check that crashes in the child is
recorded (or raised) as in one process; a child that is really killed has its part computed in
the parent and the audit says so."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from fixtures import sl1_images as imgs
from fixtures.imagebuilder import Built
from sitelens import audit as audit_mod
from sitelens import waste as waste_mod
from sitelens.audit import AuditOptions, AuditResult, audit_image
from sitelens.fs import Filesystem
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from sitelens.pipeline import load
from sitelens.report.json_report import audit_document
from tests.audit.audit_testcheck import HIGH_JINJA, write_marker_image
from tests.helpers import image_from_built, require_tool

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".fixture-cache" / "sl1-index"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    require_tool("mmdebstrap", "chroot")
    work = tmp_path_factory.mktemp("audit-forked")
    venvs = imgs.venv_images(work)
    return {"local-shadow": imgs.local_shadow(work).built,
            "user-site-shadow": imgs.user_site_shadow(work).built,
            "venv-relocated": venvs["venv-relocated"].built,
            "upstream-pip-deletes": imgs.upstream_pip_deletes(work).built}


def _audit(built: Built, name: str, fork: bool) -> AuditResult:
    image = image_from_built(built, ref=f"fixture/{name}")
    indexes = load_indexes(image, LayerCache(CACHE, enabled=True))
    fs = Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])
    return audit_image(image, indexes, fs, AuditOptions(), fork=fork)


def _doc(result: AuditResult) -> str:
    return json.dumps(audit_document(result, "none"), sort_keys=True)


@pytest.mark.parametrize("name", ["local-shadow", "user-site-shadow", "venv-relocated", "upstream-pip-deletes"])
def test_forked_audit_writes_the_same_report(images: dict[str, Built], name: str) -> None:
    one = _audit(images[name], name, fork=False)
    two = _audit(images[name], name, fork=True)
    assert one.findings, "the scenario image has findings to compare"
    assert _doc(two) == _doc(one)


def _marker_audit(tmp: Path, fork: bool, on_error: str) -> AuditResult:
    ref = write_marker_image(tmp, [HIGH_JINJA], crash=True)
    with load(ref, cache_dir=tmp / "cache") as loaded:
        return audit_image(loaded.image, loaded.indexes, loaded.fs, AuditOptions(on_check_error=on_error), fork=fork)


def test_a_check_crashing_in_the_child_is_recorded_as_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the test checks (tests/audit/audit_testcheck.py) run in the child for this test
    monkeypatch.setattr(audit_mod, "CHILD_CHECK_MODULES", audit_mod.CHILD_CHECK_MODULES | {"audit_testcheck"})
    forked = _marker_audit(tmp_path / "a", fork=True, on_error="record")
    single = _marker_audit(tmp_path / "b", fork=False, on_error="record")
    assert [f.check for f in forked.errors] == [f.check for f in single.errors]
    assert forked.errors[0].check.endswith("crash_on_marker")
    assert "deliberate crash" in forked.errors[0].error
    assert [f.fingerprint for f in forked.findings] == [f.fingerprint for f in single.findings]
    with pytest.raises(RuntimeError, match="deliberate crash"):
        _marker_audit(tmp_path / "c", fork=True, on_error="raise")


def test_a_killed_child_leaves_its_part_to_the_parent(
    images: dict[str, Built], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    real = waste_mod.layer_waste

    def dies_in_child(fs, indexes):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(fs, indexes)

    monkeypatch.setattr(waste_mod, "layer_waste", dies_in_child)
    killed = _audit(images["local-shadow"], "local-shadow", fork=True)
    monkeypatch.setattr(waste_mod, "layer_waste", real)
    single = _audit(images["local-shadow"], "local-shadow", fork=False)
    assert any("killed by signal 9" in w for w in killed.inventory.warnings)
    assert [f.fingerprint for f in killed.findings] == [f.fingerprint for f in single.findings]
    assert killed.waste.to_json() == single.waste.to_json()
