"""Every CPython in the image, found from files alone (nothing from the image is executed).

An interpreter is a regular, non-script file named ``python``, ``pythonX`` or ``pythonX.Y[abi]``
in a ``bin`` directory (``/usr/bin``, ``/usr/local/bin``, ``/opt/rh/*/root/usr/bin``, pyenv's
``versions/*/bin``, conda prefixes' ``bin``), or RHEL/CentOS 8's
``/usr/libexec/platform-python3.6`` (the interpreter dnf runs; ``/usr/bin/python3`` exists only
when a python3X module is installed). Launchers inside venvs (a ``pyvenv.cfg`` beside or above
them) are venvs, not interpreters (see ``venv.py``); a ``python`` package extracted in a conda
package cache (``pkgs/python-3.11.7-h…/bin``, ``info/index.json`` beside ``bin``) is cache
content that nothing runs. The version comes from the file name, then ``lib/pythonX.Y``,
``libpythonX.Y``, ``_sysconfigdata``; prefix and exec_prefix follow CPython's getpath landmark
search (``Modules/getpath.py``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..fs import Filesystem
from . import _pyfs
from .model import Interpreter

_EXE_NAME = re.compile(r"^python(?:(\d)(?:\.(\d+))?)?([dmu]*)$")
_PLATFORM_DIR = "/usr/libexec"
_PLATFORM_PREFIX = "platform-"
_LIBDIR_NAME = re.compile(r"^python(\d)\.(\d+)([dmut]*)$")
_LIBPYTHON = re.compile(r"^libpython(\d)\.(\d+)([dmut]*)\.so")
_SYSCONF_VAR = re.compile(r"""['"](prefix|exec_prefix|PLATLIBDIR|ABIFLAGS|VERSION|LIBDIR)['"]\s*:\s*['"]([^'"]*)['"]""")

# Where pyenv and conda put interpreters; any */bin dir is scanned anyway.
DEFAULT_PREFIX = "/usr/local"


@dataclass
class _Candidate:
    path: str  # as found
    real: str  # resolved


def parse_sysconfigdata(text: str) -> dict[str, str]:
    """The few build variables we need from a ``_sysconfigdata_*.py`` file (first occurrence)."""
    out: dict[str, str] = {}
    for m in _SYSCONF_VAR.finditer(text):
        out.setdefault(m.group(1), m.group(2))
    return out


def is_venv_launcher(fs: Filesystem, path: str) -> bool:
    """A ``pyvenv.cfg`` beside the launcher or one level up (getpath and site both look there)."""
    bindir = posixpath.dirname(path)
    return fs.lookup(posixpath.join(posixpath.dirname(bindir), "pyvenv.cfg")) is not None or (
        fs.lookup(posixpath.join(bindir, "pyvenv.cfg")) is not None
    )


def _in_conda_package(fs: Filesystem, real: str) -> bool:
    """An extracted conda package (a package cache's ``NAME-VERSION-BUILD/``), not a prefix."""
    root = posixpath.dirname(posixpath.dirname(real))
    return fs.lookup(posixpath.join(root, "info", "index.json")) is not None


def _candidates(fs: Filesystem) -> list[_Candidate]:
    out = []
    for node in fs.nodes():
        path = node.entry.path
        # cheap tests first: a handful of the image's paths pass them
        if "/bin/" not in path and not path.startswith("/usr/libexec/platform-"):
            continue
        # a node's path is normalised and absolute: rpartition is dirname and basename here
        parent, _, name = path.rpartition("/")
        if not name.startswith(("python", _PLATFORM_PREFIX)):
            continue
        if parent == _PLATFORM_DIR and name.startswith(_PLATFORM_PREFIX):
            name = name[len(_PLATFORM_PREFIX):]
        elif posixpath.basename(parent) != "bin":
            continue
        if not _EXE_NAME.match(name):
            continue
        real = fs.resolve(path)
        target = fs.get(real) if real else None
        if real is None or target is None or target.kind not in ("file", "hardlink"):
            continue
        if target.entry.head is not None:  # a script (pyenv shim, wrapper), not a binary
            continue
        if not target.mode & 0o111:
            continue
        out.append(_Candidate(path, real))
    return out


def _version_from_name(name: str) -> tuple[str | None, str]:
    m = _EXE_NAME.match(name.removeprefix(_PLATFORM_PREFIX))
    if m and m.group(1) and m.group(2):
        return f"{m.group(1)}.{m.group(2)}", m.group(3) or ""
    return None, ""


def _ancestors(path: str) -> list[str]:
    """``path`` and its parents up to "/" (or up to "" for a relative path, whose dirname
    stops changing there: a hostile ``home = bin`` must not loop)."""
    out = []
    cur = path
    while True:
        out.append(cur)
        parent = posixpath.dirname(cur)
        if cur == "/" or parent == cur:
            return out
        cur = parent


def _version_from_tree(fs: Filesystem, bindir: str) -> tuple[str | None, str]:
    """``lib*/pythonX.Y`` or ``libpythonX.Y.so`` near the binary (nearest ancestor first)."""
    for d in _ancestors(posixpath.dirname(bindir)):
        for libdir in ("lib", "lib64"):
            base = posixpath.join(d, libdir)
            names = fs.listdir(base)
            found = []
            for name in names:
                m = _LIBDIR_NAME.match(name)
                if m and fs.lookup(posixpath.join(base, name, "os.py")) is not None:
                    found.append((int(m.group(1)), int(m.group(2)), m.group(3)))
                lm = _LIBPYTHON.match(name)
                if lm:
                    found.append((int(lm.group(1)), int(lm.group(2)), lm.group(3)))
            if found:
                major, minor, abi = max(found)
                return f"{major}.{minor}", abi
    return None, ""


def search_up(
    fs: Filesystem, start: str, landmarks: list[str], want_dir: bool = False, who: _pyfs.Cred = _pyfs.ROOT
) -> str | None:
    """getpath's ``search_up``: the first ancestor of ``start`` (inclusive) holding a landmark."""
    if not start:
        return None
    # getpath's C dirname() turns "/opt" into "", so the root itself is never tried.
    for d in _ancestors(posixpath.normpath(start)):
        if d == "/":
            break
        for lm in landmarks:
            p = posixpath.join(d, lm)
            if _pyfs.isdir(fs, p, who) if want_dir else _pyfs.isfile(fs, p, who):
                return d
    return None


@dataclass
class Prefixes:
    prefix: str
    exec_prefix: str
    found: bool  # landmarks found (False: the compile-time fallback was used)


def landmark_prefixes(
    fs: Filesystem,
    executable_dir: str,
    version: str,
    platlibdir: str,
    abiflags_t: str,
    compile_prefix: str,
    compile_exec_prefix: str,
    who: _pyfs.Cred = _pyfs.ROOT,
) -> Prefixes:
    """prefix and exec_prefix as getpath computes them when searching from ``executable_dir``."""
    major, minor = version.split(".", 1)
    stdlib_sub = f"{platlibdir}/python{major}.{minor}{abiflags_t}"
    zip_lm = f"{platlibdir}/python{major}{minor}{abiflags_t}.zip"
    prefix = search_up(fs, executable_dir, [zip_lm], who=who)
    if prefix is None:
        landmarks = [f"{stdlib_sub}/os.py", f"{stdlib_sub}/os.pyc"]
        prefix = search_up(fs, executable_dir, landmarks, who=who)
    found = prefix is not None
    if prefix is None:
        prefix = compile_prefix
    exec_prefix = search_up(fs, executable_dir, [f"{stdlib_sub}/lib-dynload"], True, who)
    if exec_prefix is None:
        exec_prefix = compile_exec_prefix or prefix
    return Prefixes(prefix, exec_prefix, found)


def _platlibdir(fs: Filesystem, bindir: str, version: str) -> str:
    """``lib64`` when the stdlib lives there (Fedora/RHEL/SUSE 3.9+), else ``lib``."""
    for d in _ancestors(posixpath.dirname(bindir)):
        if fs.lookup(f"{d}/lib/python{version}/os.py") is not None:
            return "lib"
        if fs.lookup(f"{d}/lib64/python{version}/os.py") is not None:
            return "lib64"
    return "lib"


def _sysconfig(fs: Filesystem, stdlib: str) -> dict[str, str]:
    for name in fs.listdir(stdlib):
        if name.startswith("_sysconfigdata") and name.endswith(".py"):
            text = fs.read_text(posixpath.join(stdlib, name))
            if text:
                vars_ = parse_sysconfigdata(text)
                if vars_:
                    return vars_
    return {}


def _flavor(fs: Filesystem, real: str, prefix: str, platlibdir: str, os_release: dict[str, str]) -> str:
    if real.startswith("/opt/rh/"):
        return "scl"
    if fs.lookup(posixpath.join(prefix, "conda-meta")) is not None:
        return "conda"
    if prefix != "/usr":
        return "upstream"
    ids = {os_release.get("ID", "").lower(), *os_release.get("ID_LIKE", "").lower().split()}
    if fs.lookup("/usr/lib/python3/dist-packages") is not None or ids & {"debian", "ubuntu"}:
        return "debian"
    if platlibdir == "lib64" or ids & {"fedora", "rhel", "centos"}:
        return "fedora"
    if "alpine" in ids:
        return "alpine"
    return "upstream"


def _rank(c: _Candidate) -> tuple[int, int, str]:
    """Prefer the real file, then the most specific name (python3.11 over python3)."""
    return (0 if c.path == c.real else 1, -len(posixpath.basename(c.path)), c.path)


def find_interpreters(
    fs: Filesystem, os_release: dict[str, str] | None = None, warnings: list[str] | None = None
) -> list[Interpreter]:
    """One :class:`Interpreter` per distinct real binary outside venvs, sorted by path."""
    os_release = os_release or {}
    groups: dict[str, list[_Candidate]] = {}
    for c in _candidates(fs):
        if is_venv_launcher(fs, c.path) or _in_conda_package(fs, c.real):
            continue
        groups.setdefault(c.real, []).append(c)
    out = []
    for real, cands in groups.items():
        cands.sort(key=_rank)
        version, abi = None, ""
        for c in [_Candidate(real, real), *cands]:
            version, abi = _version_from_name(posixpath.basename(c.path))
            if version:
                break
        if not version:
            version, abi = _version_from_tree(fs, posixpath.dirname(real))
        if not version:
            if warnings is not None:
                warnings.append(f"{cands[0].path}: looks like a Python interpreter but its version is unknown")
            continue
        out.append(describe_interpreter(fs, cands[0].path, real, version, abi, os_release))
    out.sort(key=lambda i: i.path)
    return out


def describe_interpreter(
    fs: Filesystem, path: str, real: str, version: str, abi: str, os_release: dict[str, str]
) -> Interpreter:
    bindir = posixpath.dirname(real)
    platlibdir = _platlibdir(fs, bindir, version)
    # The compile-time prefix is only known from _sysconfigdata, found through the landmarks.
    pre = landmark_prefixes(fs, bindir, version, platlibdir, "", DEFAULT_PREFIX, "")
    stdlib = f"{pre.prefix}/{platlibdir}/python{version}"
    sc = _sysconfig(fs, stdlib) if pre.found else {}
    if sc.get("PLATLIBDIR") in ("lib", "lib64") and sc["PLATLIBDIR"] != platlibdir:
        platlibdir = sc["PLATLIBDIR"]
        pre = landmark_prefixes(fs, bindir, version, platlibdir, "", DEFAULT_PREFIX, "")
        stdlib = f"{pre.prefix}/{platlibdir}/python{version}"
    compile_prefix = sc.get("prefix") or DEFAULT_PREFIX
    compile_exec = sc.get("exec_prefix") or compile_prefix
    if not pre.found:
        pre = landmark_prefixes(fs, bindir, version, platlibdir, "", compile_prefix, compile_exec)
    return Interpreter(
        path=path,
        real_path=real,
        version=version,
        flavor=_flavor(fs, real, pre.prefix, platlibdir, os_release),
        prefix=pre.prefix,
        exec_prefix=pre.exec_prefix,
        platlibdir=platlibdir,
        stdlib=stdlib if fs.lookup(stdlib) is not None else None,
        externally_managed=fs.lookup(f"{stdlib}/EXTERNALLY-MANAGED") is not None,
        abiflags=sc.get("ABIFLAGS", abi),
        compile_prefix=compile_prefix,
        compile_exec_prefix=compile_exec,
    )
