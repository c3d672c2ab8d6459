"""The OS package-database readers: for each, where its database lives, what of it the layer
index must capture, and which function parses it — declared together, in one table.

The layer index (``layers/capture.py``) keeps the bytes these rules ask for; the inventory
(``inventory/ospkg.py``) calls each reader whose database is present; the strategy takes its
``OS_INSTALLERS`` from the managers named here. Adding a package manager is its parser module
plus one row in ``READERS``. This module imports nothing of either stage: a reader is named as
``"module:function"`` and loaded only when its database is in the image.

Capture rules see a layer member's own path, before symlinks of lower layers are known, so a
reader lists every spelling its database has on usr-merged images (``/lib -> usr/lib``).

A database that lives under any prefix rather than at fixed roots (conda's ``conda-meta/`` in
every environment) names the directory it lives in instead (``dir_name``): its capture rule is
asked for members with that directory in their path, and its reader finds its databases itself.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

RPM_DIRS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm", "/usr/share/rpm")
_RPM_NAMES = {"Packages", "Packages.db", "rpmdb.sqlite", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm"}
_DPKG_INFO = re.compile(r"^/var/lib/dpkg/info/[^/]+\.(list|md5sums|conffiles)$")
APK_INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


@dataclass(frozen=True)
class DbReader:
    manager: str  # dpkg | rpm | apk | conda: also the installer name of what it owns
    roots: tuple[str, ...]  # directories its database lives in (any spelling); () with dir_name
    capture: Callable[[str], int]  # bytes of a member under ``roots`` (or ``dir_name``) to keep (0: none)
    read: str  # "module:function": (Filesystem) -> list[OsPackageDb]
    dir_name: str | None = None  # a database under any prefix: the name of the dir holding it


def _dpkg_capture(path: str) -> int:
    if path == "/var/lib/dpkg/status":
        return 64 * MIB
    if _DPKG_INFO.match(path) or path.startswith("/var/lib/dpkg/status.d/"):
        return 16 * MIB
    return 0


def _rpm_capture(path: str) -> int:
    return 256 * MIB if posixpath.basename(path) in _RPM_NAMES and posixpath.dirname(path) in RPM_DIRS else 0


def _apk_capture(path: str) -> int:
    return 64 * MIB if path in APK_INSTALLED else 0


# PrefixRecords (one per package; a big package's file list runs to a few MB) and the history
_CONDA_META = re.compile(r"/conda-meta/(?:[^/]+\.json|history)$")


def _conda_capture(path: str) -> int:
    return 16 * MIB if _CONDA_META.search(path) else 0


READERS: tuple[DbReader, ...] = (
    DbReader("dpkg", ("/var/lib/dpkg",), _dpkg_capture, "sitelens.inventory.dpkg:read_dpkg_dbs"),
    DbReader("rpm", RPM_DIRS, _rpm_capture, "sitelens.inventory.rpm:read_rpm_dbs"),
    DbReader("apk", ("/lib/apk/db", "/usr/lib/apk/db"), _apk_capture, "sitelens.inventory.apk:read_apk_dbs"),
    DbReader("conda", (), _conda_capture, "sitelens.inventory.conda:read_conda_dbs", dir_name="conda-meta"),
)

OS_INSTALLERS = frozenset(r.manager for r in READERS)
