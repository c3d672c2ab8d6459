"""SL204 on an image built for arbitrary UIDs (``chgrp -R 0 && chmod -R g=u`` over a real venv,
USER 1001 in group 0): group-0 write access is the runtime user's own and stays silent; the same
site dir writable by *other* or by a foreign gid (1234) fires. Each verdict is checked against
the kernel in the chroot: who, besides root and the runtime identities, can plant a module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from perm_support import (  # type: ignore[import-not-found]
    ARB_CONFIG,
    ARB_SITE,
    ARB_VENV,
    Planted,
    fs_from_root,
    kernel,
    run_checks,
)

from fixtures.debian_root import run_in_root
from sitelens.fs import Filesystem
from sitelens.image import Image
from sitelens.inventory.builder import build_inventory
from sitelens.inventory.model import Identity

STRANGER = Identity("stranger", 2000, 2000)
GROUP_1234 = Identity("gid-1234", 2001, 1234)


def _sl204(fs: Filesystem) -> list:  # type: ignore[type-arg]
    inv = build_inventory(fs, Image("arbuid", None, ARB_CONFIG, []))
    assert f"{ARB_VENV}/bin/python" in [e.executable for e in inv.environments]
    return run_checks(fs, inv, ARB_CONFIG, {"SL204"})


@contextmanager
def _changed(planted: Planted, tmp_path, do: str, undo: str) -> Iterator[Filesystem]:  # type: ignore[no-untyped-def]
    """The root after a Dockerfile-like step run in the chroot; undone afterwards."""
    proc = run_in_root(planted.root, ["/bin/sh", "-ec", do])
    assert proc.returncode == 0, proc.stderr
    try:
        yield fs_from_root(planted.root, tmp_path)
    finally:
        proc = run_in_root(planted.root, ["/bin/sh", "-ec", undo])
        assert proc.returncode == 0, proc.stderr


def test_group0_g_eq_u_venv_is_silent_and_only_runtime_ids_can_write(arbitrary_uid_venv: Planted) -> None:
    p = arbitrary_uid_venv
    node = p.fs.get(ARB_SITE)
    assert node is not None and node.gid == 0 and node.mode & 0o070 == 0o070 and node.mode & 0o002 == 0
    assert _sl204(p.fs) == []
    # reality: the arbitrary UID (gid 0) writes its own venv, a stranger cannot
    assert kernel(p, p.ident("arbitrary-uid"), [("create", ARB_SITE)]) == [True]
    assert kernel(p, p.ident("image-user"), [("create", ARB_SITE)]) == [True]
    assert kernel(p, STRANGER, [("create", ARB_SITE), ("create", ARB_VENV)]) == [False, False]


def test_other_writable_site_dir_fires(arbitrary_uid_venv: Planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = arbitrary_uid_venv
    with _changed(p, tmp_path, f"chmod o+w {ARB_SITE}", f"chmod o-w {ARB_SITE}") as fs:
        out = _sl204(fs)
        assert kernel(p, STRANGER, [("create", ARB_SITE)]) == [True]
    assert [(f.evidence["paths"][0], f.evidence["writer"], f.severity) for f in out] == [
        (ARB_SITE, "any user (world-writable)", "high")]
    assert "chmod -R o-w" in out[0].remediation


def test_site_dir_writable_by_a_foreign_gid_fires(arbitrary_uid_venv: Planted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = arbitrary_uid_venv
    with _changed(p, tmp_path, f"chgrp -R 1234 {ARB_SITE}", f"chgrp -R 0 {ARB_SITE}") as fs:
        out = _sl204(fs)
        real = kernel(p, GROUP_1234, [("create", ARB_SITE)])
        assert kernel(p, p.ident("arbitrary-uid"), [("create", ARB_SITE)]) == [False]
    assert real == [True]
    assert [(f.evidence["paths"][0], f.evidence["writer"], f.severity) for f in out] == [
        (ARB_SITE, "group 1234", "high")]
    assert out[0].evidence["count"] > 10  # the dir and every file of six's install below it
    assert f"chgrp -R 0 {ARB_SITE}" in out[0].remediation
