"""The import path one interpreter builds for one runtime identity, computed from files.

Two stages, as in CPython: ``getpath`` (``Modules/getpath.py``: PYTHONPATH, the stdlib zip, the
stdlib dir and lib-dynload under the landmark prefixes, or a ``._pth`` file instead) and
``site.main()`` (venv site dir at once, the user site, the distribution's site dirs, ``.pth``
lines). Site dirs that do not exist, or that the identity cannot reach, are left out exactly where
CPython leaves them out. ``sys.path[0]`` (script dir or ``''``) depends on how Python is invoked
and is not part of the result. The rule book is
``/work/shared/reference/python-paths-and-permissions.md``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..fs import Filesystem
from ..image import ImageConfig
from . import _pyfs
from .interpreters import landmark_prefixes
from .model import Identity, Interpreter, PathEntry, PthEffect
from .pth_lines import interpret
from .venv import getpath_cfg, read_cfg, site_cfg, unreadable_site_cfg

FEDORA_LOCAL = "/usr/local"


@dataclass
class SysPath:
    entries: list[PathEntry] = field(default_factory=list)
    pth_imports: list[tuple[str, str]] = field(default_factory=list)  # (pth file, line)
    pth_effects: list[PthEffect] = field(default_factory=list)  # what each of those lines does
    prefix: str = ""  # sys.prefix (the venv when one is active)
    base_prefix: str = ""
    venv_active: bool = False
    user_site: str | None = None  # USER_SITE as site computes it (absolute or cwd-relative)
    user_site_enabled: bool = False
    site_imported: bool = True
    # set when the interpreter cannot start for this identity (seen: an unreadable pyvenv.cfg
    # makes site.venv() raise, "Fatal Python error: init_import_site")
    startup_error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.entries]


def who_of(identity: Identity) -> _pyfs.Cred:
    return _pyfs.Cred.of(identity)


def passwd_home(fs: Filesystem, uid: int) -> str | None:
    """``pwd.getpwuid(uid).pw_dir`` from the image's /etc/passwd (first matching line)."""
    text = fs.read_text("/etc/passwd")
    if not text:
        return None
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and parts[2].strip() == str(uid):
            return parts[5]
    return None


def runtime_env(config: ImageConfig, identity: Identity) -> dict[str, str]:
    """The process environment: the image's Env, plus HOME as the runtime sets it when unset."""
    env = dict(config.env)
    if "HOME" not in env and identity.home is not None:
        env["HOME"] = identity.home
    return env


def user_base(fs: Filesystem, env: dict[str, str], identity: Identity) -> str:
    """``site._getuserbase()``: PYTHONUSERBASE (even under -E), else ``expanduser('~/.local')``."""
    if env.get("PYTHONUSERBASE"):
        return env["PYTHONUSERBASE"]
    if "HOME" in env:
        home: str | None = env["HOME"]
    else:
        home = passwd_home(fs, identity.uid)
        if home is None and identity.has_passwd_entry:
            home = identity.home
    if home is None:
        return "~/.local"  # expanduser leaves the path unchanged: relative to the cwd
    return (home.rstrip("/") + "/.local") or "/"


def site_packages_dirs(flavor: str, prefix: str, version: str, platlibdir: str, is_virtual: bool) -> list[str]:
    """``site.getsitepackages([prefix])`` for one prefix, with the distribution's patches."""
    libdirs = [platlibdir] + (["lib"] if platlibdir != "lib" else [])
    if flavor == "debian":
        out = []
        if is_virtual:
            out.append(f"{prefix}/lib/python{version}/site-packages")
        out.append(f"{prefix}/local/lib/python{version}/dist-packages")
        out.append(f"{prefix}/lib/python3/dist-packages")
        out += [f"{prefix}/{d}/python{version}/dist-packages" for d in libdirs]
        return [posixpath.normpath(p) for p in out]
    return [posixpath.normpath(f"{prefix}/{d}/python{version}/site-packages") for d in libdirs]


class _Builder:
    def __init__(self, fs: Filesystem, who: _pyfs.Cred, cwd: str, version: str,
                 env: dict[str, str] | None = None) -> None:
        self.fs = fs
        self.env = env or {}
        self.who = who
        self.cwd = cwd
        self.version = version
        self.out = SysPath()
        self.known: set[str] = set()

    def add(
        self,
        path: str,
        origin: str,
        exists: bool | None = None,
        site_dir: bool = False,
        added_by: str | None = None,
    ) -> None:
        if exists is None:
            exists = _pyfs.exists(self.fs, path, self.who)
        listable = exists and _pyfs.listdir(self.fs, path, self.who) is not None
        self.out.entries.append(PathEntry(path, origin, exists, site_dir, added_by, listable))

    def addsitedir(self, sitedir: str, origin: str) -> None:
        sd = _pyfs.abspath(sitedir, self.cwd)
        if sd not in self.known:
            self.add(sd, origin, True, site_dir=True)
            self.known.add(sd)
        else:
            for e in self.out.entries:
                if e.path == sd:
                    e.site_dir = True
        names = _pyfs.listdir(self.fs, sd, self.who)
        if names is None:
            return
        minor = int(self.version.split(".")[1]) if "." in self.version else 0
        pths = sorted(n for n in names if n.endswith(".pth") and not (minor >= 13 and n.startswith(".")))
        for name in pths:
            self.addpackage(sd, name)

    def addpackage(self, sitedir: str, name: str) -> None:
        full = posixpath.join(sitedir, name)
        if not _pyfs.can_read(self.fs, full, self.who):
            return  # an unreadable .pth is skipped silently
        data = self.fs.read_bytes(full)
        if data is None:
            if _pyfs.isfile(self.fs, full, self.who):
                self.out.warnings.append(f"{full}: content not captured; its lines are unknown")
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.out.warnings.append(f"{full}: not valid UTF-8; site stops reading it at the bad byte")
            text = data.decode("utf-8", "ignore")
        for line in text.splitlines(keepends=True):
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith(("import ", "import\t")):
                # Executed by site; sitelens only records it (it may change sys.path or meta_path).
                # In a venv site.venv() and the PREFIXES loop both process the venv's site dir, so
                # CPython runs such a line twice: it is one line of one file, recorded once.
                rec = (full, line.rstrip("\r\n"))
                if rec not in self.out.pth_imports:
                    self.out.pth_imports.append(rec)
                    effect, changes = interpret(full, rec[1], self.env)
                    self.out.pth_effects.append(effect)
                    for op, index, path in changes:
                        self.path_call(op, index, path, full)
                continue
            target = _pyfs.abspath(posixpath.join(sitedir, line.rstrip()), self.cwd)
            if target not in self.known and _pyfs.exists(self.fs, target, self.who):
                self.add(target, "pth", True, added_by=full)
                self.known.add(target)


    def path_call(self, op: str, index: int | None, path: str, pth: str) -> None:
        """A literal ``sys.path.insert``/``append`` run by a .pth line (no normalisation, duplicates
        kept: list semantics)."""
        target = _pyfs.abspath(path, self.cwd)
        exists = _pyfs.exists(self.fs, target, self.who)
        entry = PathEntry(target, "pth", exists, False, pth,
                          exists and _pyfs.listdir(self.fs, target, self.who) is not None)
        n = len(self.out.entries)
        if op == "append" or index is None:
            self.out.entries.append(entry)
        else:
            self.out.entries.insert(min(index if index >= 0 else max(0, n + index), n), entry)
        self.known.add(target)


def _flag_set(flags: list[str] | set[str] | None) -> set[str]:
    out: set[str] = set()
    for f in flags or ():
        out.update(f.lstrip("-"))
    return out


def compute_sys_path(
    fs: Filesystem,
    interpreter: Interpreter,
    executable: str,
    identity: Identity,
    config: ImageConfig,
    flags: list[str] | set[str] | None = None,
) -> SysPath:
    """``sys.path[1:]`` of ``executable`` (an interpreter or venv launcher) run by ``identity``."""
    fl = _flag_set(flags)
    isolated = "I" in fl
    use_env = not (isolated or "E" in fl)
    env = runtime_env(config, identity)
    cwd = config.workdir or "/"
    who = who_of(identity)
    version = interpreter.version
    b = _Builder(fs, who, cwd, version, env)
    out = b.out

    # ---- getpath ------------------------------------------------------------------------
    real = fs.resolve(executable) or interpreter.real_path
    home_env = env.get("PYTHONHOME") if use_env else None
    executable_dir = posixpath.dirname(real)
    if not home_env:
        cfg_path = getpath_cfg(fs, executable, who)
        cfg = read_cfg(fs, cfg_path) if cfg_path else None
        if cfg is not None and cfg.home is not None:
            executable_dir = cfg.home
    # A ._pth beside the executable (as launched, then resolved) overrides everything, even
    # PYTHONHOME: getpath then uses its dir as home and turns the environment off.
    pth_file = None
    for p in (executable, real):
        if _pyfs.can_read(fs, p + "._pth", who):
            pth_file = p + "._pth"
            break
    if pth_file is not None:
        home_env = posixpath.dirname(pth_file)
    if home_env:
        prefix, had, exec_prefix = home_env.partition(":")
        if not had:
            exec_prefix = prefix
    else:
        pre = landmark_prefixes(
            fs,
            executable_dir,
            version,
            interpreter.platlibdir,
            "",
            interpreter.compile_prefix or interpreter.prefix,
            interpreter.compile_exec_prefix or interpreter.exec_prefix,
            who,
        )
        prefix, exec_prefix = pre.prefix, pre.exec_prefix
    major, minor = version.split(".", 1)
    stdlib = posixpath.join(prefix, f"{interpreter.platlibdir}/python{version}")
    if pth_file is not None:
        # getpath sets config "isolated" and "use_environment = 0" here, but (seen with 3.11)
        # only PYTHONPATH and PYTHONHOME lose their effect: the user site stays on and
        # PYTHONNOUSERSITE still turns it off (those flags were read before getpath ran).
        out.site_imported = False
        text = fs.read_text(pth_file) or ""
        for line in text.splitlines():
            line = line.partition("#")[0].strip()
            if not line:
                continue
            if line == "import site":
                out.site_imported = True
            elif not line.startswith("import "):
                # normalised even without site (seen with 3.11 and -S)
                b.add(posixpath.normpath(posixpath.join(posixpath.dirname(pth_file), line)), "_pth")
    else:
        ppath = env.get("PYTHONPATH") if use_env else None
        if ppath:
            for p in ppath.split(":"):
                b.add(_pyfs.abspath(p, cwd), "pythonpath")
        plat = interpreter.platlibdir
        b.add(posixpath.join(prefix, f"{plat}/python{major}{minor}.zip"), "stdlib")
        b.add(stdlib, "stdlib")
        b.add(posixpath.join(exec_prefix, f"{plat}/python{version}/lib-dynload"), "lib-dynload")
    out.prefix = out.base_prefix = prefix

    if "S" in fl or not out.site_imported:
        out.site_imported = False
        return out

    # site.removeduppaths(): make absolute and keep the first of each path
    seen: set[str] = set()
    kept = []
    for e in out.entries:
        e.path = _pyfs.abspath(e.path, cwd)
        if e.path in seen:
            continue
        seen.add(e.path)
        kept.append(e)
    out.entries = kept
    b.known = set(seen)

    # ---- site.main() --------------------------------------------------------------------
    no_user_site = "s" in fl or isolated or bool(use_env and env.get("PYTHONNOUSERSITE"))
    enable_user = not no_user_site
    prefixes = [prefix, exec_prefix]
    is_virtual = False
    venv_cfg = site_cfg(fs, executable, who)
    if venv_cfg is None:
        unreadable = unreadable_site_cfg(fs, executable, who)
        if unreadable is not None:
            out.startup_error = (
                f"site.venv() cannot read {unreadable} (PermissionError): the interpreter exits "
                "at start-up with 'Fatal Python error: init_import_site'"
            )
            return out
    if venv_cfg is not None:
        cfg = read_cfg(fs, venv_cfg)
        system_site = cfg.system_site if cfg else "true"
        venv_prefix = posixpath.dirname(posixpath.dirname(_pyfs.abspath(executable, cwd)))
        out.prefix = venv_prefix
        out.venv_active = is_virtual = True
        for sd in site_packages_dirs(interpreter.flavor, venv_prefix, version, interpreter.platlibdir, True):
            if _pyfs.isdir(fs, sd, who):
                b.addsitedir(sd, "venv-site")
        if system_site == "true":
            prefixes.insert(0, venv_prefix)
        else:
            prefixes = [venv_prefix]
            enable_user = False
    out.user_site_enabled = enable_user
    out.user_site = f"{user_base(fs, env, identity)}/lib/python{version}/site-packages"
    if enable_user and _pyfs.isdir(fs, _pyfs.abspath(out.user_site, cwd), who):
        b.addsitedir(out.user_site, "user-site")
    if interpreter.flavor == "fedora" and enable_user and "RPM_BUILD_ROOT" not in env:
        prefixes.insert(0, FEDORA_LOCAL)
    seen_prefix: set[str] = set()
    for p in prefixes:
        if not p or p in seen_prefix:
            continue
        seen_prefix.add(p)
        for sd in site_packages_dirs(interpreter.flavor, p, version, interpreter.platlibdir, is_virtual):
            if _pyfs.isdir(fs, sd, who):
                b.addsitedir(sd, "venv-site" if is_virtual and p == out.prefix else "site")
    return out
