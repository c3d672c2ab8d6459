"""Which files' bytes the layer index keeps, and which get an md5 or sha1 besides the sha256.

The inventory reads only these bytes, so this is the one place that decides what a check can
know about file *contents*. Changing a rule here changes what an index holds: bump
``INDEX_FORMAT`` in ``index.py`` so cached indexes are rebuilt.
"""

from __future__ import annotations

import posixpath
import re

from ..dbreaders import KIB, MIB, READERS

# Files anywhere whose exact path we need.
_EXACT = {
    "/etc/passwd": 4 * MIB,
    "/etc/group": 4 * MIB,
    "/etc/os-release": 64 * KIB,
    "/usr/lib/os-release": 64 * KIB,
    "/etc/debian_version": 4 * KIB,
    "/etc/alpine-release": 4 * KIB,
    "/etc/redhat-release": 4 * KIB,
    "/etc/system-release": 4 * KIB,
    "/etc/pip.conf": 64 * KIB,
}

# Package databases: each reader's own rule (dbreaders.py), asked only under its roots, or for a
# database under any prefix, only for members inside a dir of its name.
_DB_RULES = tuple((tuple(r + "/" for r in reader.roots), reader.capture) for reader in READERS if reader.roots)
_DB_ROOTS = tuple(root for roots, _ in _DB_RULES for root in roots)
_DB_DIRS = tuple((f"/{reader.dir_name}/", reader.capture) for reader in READERS if reader.dir_name)
# importlib.metadata matches the suffixes case-insensitively, so capture them that way too
_META_DIR = re.compile(r"\.(?i:dist-info|egg-info)/|/EGG-INFO/")
_PY_NAMES = re.compile(
    r"(^pyvenv\.cfg$|\.pth$|\._pth$|^EXTERNALLY-MANAGED$|^_sysconfigdata.*\.py$"
    r"|^__editable___.*_finder\.py$|\.egg-link$|\.(?i:egg-info)$)"
)
# An application's requirement and lock files (the inventory finds them by the same names).
REQUIREMENT_FILE = re.compile(r"^(requirements.*\.(txt|in)|.*-requirements\.txt|constraints.*\.txt)$")
LOCK_FILE = re.compile(r"^(Pipfile\.lock|poetry\.lock|pdm\.lock|uv\.lock|pylock(\..*)?\.toml|pyproject\.toml)$")
# pyenv: its shims (small bash scripts naming PYENV_ROOT), ``.python-version`` files and the global
# ``$PYENV_ROOT/version`` (captured when the root's name says pyenv: /root/.pyenv, /opt/pyenv);
# PDM's ``.pdm-python`` (the project's interpreter, for ``pdm run``)
_PYENV = re.compile(r"(/shims/[^/]+$|/\.python-version$|/[^/]*pyenv[^/]*/version$|/\.pdm-python$)")
# Zip archives Python imports from: the stdlib zip (getpath always lists it) and zipped eggs. The
# import resolver reads their central directory; a bigger one stays unknown ("not captured").
_ZIP_NAMES = re.compile(r"^(python\d+\.zip|.+\.egg)$")

# A __pycache__ pyc's header (magic, flags, source mtime and size, or source hash): whether it
# stands in for an unreadable source (inventory/imports.py). 16 bytes, never the code.
PYC_HEADER = 16

# Shell fragments that set up a Software Collection's environment (inventory/scl.py): each
# collection's enable script, scl-utils' per-collection prefix, s2i's BASH_ENV file.
_SCL_FILES = re.compile(r"^(/opt/rh/[^/]+/enable|/etc/scl/conf/[^/]+|/opt/app-root/etc/scl_enable)$")

# Files whose md5 we compute besides the sha256: what dpkg may own on the Python side.
_MD5_PATH = re.compile(r"/python[^/]*/|-packages/|/s?bin/|/conda-meta/")


def capture_limit(path: str) -> int:
    """How many bytes of this regular file to keep in the index (0: none)."""
    limit = _EXACT.get(path)
    if limit:
        return limit
    if path.startswith(_DB_ROOTS):
        for roots, rule in _DB_RULES:
            if path.startswith(roots):
                n = rule(path)
                if n:
                    return n
    for part, rule in _DB_DIRS:
        if part in path:
            n = rule(path)
            if n:
                return n
    name = posixpath.basename(path)
    if _META_DIR.search(path):
        return 16 * MIB
    if _PY_NAMES.search(name):
        return 4 * MIB
    if (REQUIREMENT_FILE.match(name) or LOCK_FILE.match(name)) and "-packages/" not in path:
        return 1 * MIB
    if _ZIP_NAMES.match(name):
        return 32 * MIB
    if _SCL_FILES.match(path):
        return 64 * KIB
    if name.endswith(".pyc") and path.endswith("/__pycache__/" + name):
        return PYC_HEADER
    if _PYENV.search(path):
        return 4 * KIB
    return 0


# Trees no OS package manager installs into (Debian policy 9.1.2, the FHS: /usr/local, /opt
# add-ons, homes, the app): an md5 there could never be compared with a package database.
_NOT_PACKAGED = ("/usr/local/", "/opt/", "/home/", "/root/", "/app/", "/srv/", "/tmp/", "/var/tmp/")


def wants_md5(path: str) -> bool:
    """md5 is what dpkg's md5sums (and old rpm file digests) record: only where a package may
    own the file, so images full of pip/venv files under /usr/local or /opt do not pay for it."""
    return not path.startswith(_NOT_PACKAGED) and _MD5_PATH.search(path) is not None


# Where apk's ``py3-*`` packages put Python files: the only place an apk sha1 (``Z:Q1…``) is
# worth comparing. Alpine has no /usr/local split and no dist-packages, so this one tree covers it.
_SHA1_PATH = re.compile(r"^/usr/lib/python3\.\d+/site-packages/")


def wants_sha1(path: str) -> bool:
    """sha1 is what apk's installed database records per file. Only the site-packages of a
    ``/usr`` Python: on Debian images nothing lives there; on Fedora it is the noarch purelib,
    the one tree where the extra hash costs anything (see benchmarks/bench_sha1.py)."""
    return _SHA1_PATH.match(path) is not None
