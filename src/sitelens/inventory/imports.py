"""What ``import X`` really loads, for one identity: CPython's import system, from files alone.

``sys.meta_path`` holds BuiltinImporter, FrozenImporter, PathFinder and then whatever ``.pth``
``import`` lines appended (setuptools' PEP 660 editable finders). PathFinder walks ``sys.path``;
for a directory entry a FileFinder (``importlib._bootstrap_external``, 3.8–3.13):

- lists the entry once (``os.listdir``: ``r`` on it, search on its ancestors); an entry it
  cannot list is skipped silently, as is an entry that does not exist or cannot be stat'ed;
- if ``X`` is in the listing, stats ``X/__init__<suffix>`` for each loader suffix (extension
  suffixes, ``.py``, ``.pyc``): that needs search on the entry *and* on ``X/``. None found but
  ``X/`` stats as a directory → a namespace *portion*, used only when no later entry has a regular
  package or module (so a package dir an identity cannot traverse silently falls through to the
  next copy, or becomes an empty namespace package);
- else stats ``X<suffix>`` for the names present, in the same suffix order.
A zip entry (``python3XY.zip``, a zipped egg) goes to zipimport instead (no extension modules).
Loading then reads the file: a source module must read its source (PermissionError when it
cannot) unless its ``__pycache__`` bytecode is readable and valid without it — a timestamp pyc
whose recorded mtime and size match the source, or an unchecked hash-based pyc (a stale pyc, as
layers with clamped mtimes leave, or a checked hash-based one does not spare the read); an
extension module that cannot be mapped raises ImportError; a sourceless ``.pyc`` is read directly.

Nothing here depends on the order of metadata directories: the code that loads is attributed to
an owner by digest (:mod:`.attribution`), and ``importlib.metadata.version()`` is answered
separately (:func:`metadata_version`), the way importlib.metadata searches.
"""

from __future__ import annotations

import io
import keyword
import posixpath
import re
from dataclasses import dataclass, field

from ..fs import Filesystem
from ..permissions import Cred, engine
from .distributions import parse_finder_mapping
from .model import ImportStep, PathEntry, PthEffect
from .pth_lines import FINDER_LINE, NSPKG_LINE, is_distutils_shim

# Modules 3.11+ freezes into the binary (Python/frozen.c, the "stdlib - startup" and "stdlib -
# runpy" sets): sys.path cannot shadow them; their __file__ still names the stdlib copy.
FROZEN_311 = frozenset({
    "abc", "codecs", "io", "_collections_abc", "_sitebuiltins", "genericpath", "ntpath",
    "posixpath", "os", "site", "stat", "importlib.util", "importlib.machinery", "runpy",
    "__hello__", "__phello__", "zipimport",
})


def extension_suffixes(version: str, arch: str = "x86_64-linux-gnu") -> list[str]:
    """``importlib.machinery.EXTENSION_SUFFIXES`` of a CPython ``version`` on Linux."""
    major, minor = version.split(".", 1)
    return [f".cpython-{major}{minor}-{arch}.so", ".abi3.so", ".so"]


def loader_suffixes(version: str, arch: str = "x86_64-linux-gnu") -> list[tuple[str, str]]:
    """FileFinder's (suffix, loader kind) order: extensions, then source, then bytecode."""
    return [*((s, "extension") for s in extension_suffixes(version, arch)), (".py", "source"), (".pyc", "bytecode")]


def is_module_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


@dataclass
class Found:
    """The outcome of one top-level import for one identity."""

    file: str | None = None  # module.__file__ (None: namespace package or failure)
    error: str | None = None  # exception class name
    kind: str | None = None  # extension | source | bytecode | namespace | frozen | zip | editable
    package_dir: str | None = None  # X/ for a package
    namespace: list[str] = field(default_factory=list)
    steps: list[ImportStep] = field(default_factory=list)
    note: str = ""


def pyc_stands_in(header: bytes | None, source_mtime: int, source_size: int) -> str:
    """Whether SourceLoader.get_code takes a cached pyc without reading its source (PEP 552):
    a timestamp pyc when its recorded mtime and size match the source's stat, an unchecked
    hash-based pyc always; a checked hash-based pyc makes it read the source to compare hashes.
    Returns "valid: …" or the reason it is not used. (The magic number is not compared: the
    cache tag in the file name already pins the interpreter's minor version.)"""
    if header is None or len(header) < 16:
        return "its header is short or was not captured"
    flags = int.from_bytes(header[4:8], "little")
    if flags & 0b1:
        if flags & 0b10:
            return "a checked hash-based pyc: the source is read to verify it"
        return "valid: an unchecked hash-based pyc"
    if flags:
        return f"invalid flags {flags:#x}"
    mtime, size = int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little")
    if mtime != source_mtime & 0xFFFFFFFF or size != source_size & 0xFFFFFFFF:
        return (f"stale: it records source mtime {mtime} and size {size}, the source has "
                f"{source_mtime & 0xFFFFFFFF} and {source_size}")
    return "valid: its timestamp and size match the source"


def _namespace_shim_lines(pth_imports: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(.pth file, module) of every setuptools ``-nspkg.pth`` line, in the order site ran them (a
    nested namespace's line names it dotted; its ``sitedir`` is the dir its .pth file is in)."""
    out: list[tuple[str, str]] = []
    for pth, line in pth_imports:
        m = NSPKG_LINE.search(line)
        if m and "f_locals['sitedir']" in line:
            out.append((pth, m.group(1)))
    return out


class ImportResolver:
    """Resolves top-level imports for one interpreter × identity × import path.

    ``entries`` is ``sys.path`` in order (sys.path[0] excluded: it depends on the invocation);
    ``pth_imports`` the ``import`` lines of ``.pth`` files that site ran for this identity, and
    ``pth_effects`` what each does (:mod:`.pth_lines`, which read the environment: setuptools'
    distutils shim depends on ``SETUPTOOLS_USE_DISTUTILS``).
    """

    def __init__(
        self,
        fs: Filesystem,
        cred: Cred,
        version: str,
        entries: list[PathEntry],
        pth_imports: list[tuple[str, str]] | None = None,
        arch: str = "x86_64-linux-gnu",
        stdlib: str | None = None,
        pth_effects: list[PthEffect] | None = None,
    ) -> None:
        self.fs = fs
        self.cred = cred
        self.perm = engine(fs)
        self.version = version
        self.entries = entries
        self.suffixes = loader_suffixes(version, arch)
        self.stdlib = stdlib
        self._listing: dict[str, tuple[str, set[str] | None, str]] = {}
        minor = int(version.split(".")[1]) if version.count(".") == 1 and version.split(".")[1].isdigit() else 0
        self.frozen = FROZEN_311 if minor >= 11 else frozenset()
        self.cache_tag = "cpython-" + version.replace(".", "")
        self.editable = self._editable_mappings(pth_imports or [])
        self._shim_lines = _namespace_shim_lines(pth_imports or [])
        self._shim_runs: dict[str, list[tuple[str, str]]] | None = None
        # setuptools' distutils-precedence.pth lines, in site's order
        self.distutils_shims = [e for e in pth_effects or [] if is_distutils_shim(e.line)]

    def meta_path_modules(self) -> set[str]:
        """Top-level modules a ``sys.meta_path`` shim of a ``.pth`` line answers for (besides the
        editable finders' mappings): ``distutils`` wherever a distutils shim line runs."""
        return {"distutils"} if self.distutils_shims else set()

    # ---- file tests as the identity makes them --------------------------------------------------

    def _stat(self, path: str) -> str | None:
        """Kind of what ``os.stat`` reports (links followed), None when it fails for us."""
        acc = self.perm.stat(self.cred, path)
        if not acc.allowed or acc.real is None:
            return None
        node = self.fs.get(acc.real)
        return None if node is None else ("file" if node.kind in ("file", "hardlink") else node.kind)

    def _readable(self, path: str) -> bool:
        return self.perm.read(self.cred, path).allowed

    def _entry(self, entry: str) -> tuple[str, set[str] | None, str]:
        """(kind, names, why) of a sys.path entry: kind is dir | zip | missing | unlistable."""
        got = self._listing.get(entry)
        if got is not None:
            return got
        kind = self._stat(entry)
        out: tuple[str, set[str] | None, str]
        if kind is None:
            acc = self.perm.stat(self.cred, entry)
            why = acc.reason() if acc.denied_by is not None else "does not exist"
            out = ("missing", None, why)
        elif kind == "file":
            out = self._zip_entry(entry)
        elif kind != "dir":
            out = ("missing", None, "not a directory")
        else:
            acc = self.perm.read(self.cred, entry)
            if not acc.allowed:
                out = ("unlistable", None, f"cannot be listed: {acc.reason()}")
            else:
                out = ("dir", set(self.fs.listdir(entry)), "")
        self._listing[entry] = out
        return out

    def _zip_entry(self, entry: str) -> tuple[str, set[str] | None, str]:
        if not self._readable(entry):
            why = self.perm.read(self.cred, entry).reason()
            return ("unlistable", None, f"zip archive not readable: {why}")
        node = self.fs.lookup(entry)
        data = node.entry.data if node is not None else None
        if data is None or (node is not None and node.entry.truncated):
            return ("unlistable", None, "zip archive content not captured: its modules are unknown")
        import zipfile  # only images with a zip on sys.path pay for it

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return ("unlistable", None, "not a valid zip archive (zipimport and FileFinder both refuse it)")
        return ("zip", names, "")

    # ---- the search -----------------------------------------------------------------------------

    def find(self, name: str) -> Found:
        out = Found()
        if name in self.frozen:
            out.kind = "frozen"
            out.file = f"{self.stdlib}/{name}.py" if self.stdlib else None
            out.steps.append(ImportStep("<frozen>", "loaded", "frozen into the interpreter: sys.path is not searched"))
            return out
        shims = self._shims().get(name)
        if shims:
            shimmed = self._from_shims(name, shims)
            if shimmed.kind is not None:
                return shimmed
            out.steps.extend(shimmed.steps)  # every line raised: the lines said why, the search follows
        if name == "distutils" and self.distutils_shims:
            shimmed = self._distutils_shim()
            if shimmed.kind is not None:
                return shimmed
            out.steps.extend(shimmed.steps)  # no shim, or it fell back: the search follows
        return self._search(name, self.entries, out)

    def _distutils_shim(self) -> Found:
        """``import distutils`` through setuptools' ``DistutilsMetaFinder`` (``kind`` None: not
        through it; the steps say why).

        A ``distutils-precedence.pth`` line runs ``__import__('_distutils_hack').add_shim()`` while
        site builds the path (only when ``SETUPTOOLS_USE_DISTUTILS`` is ``local``): the import
        searches the path as it is then (up to the line's own site dir), and fails — the line
        raises, site skips the rest of that file — when it finds no regular ``_distutils_hack``.
        The first line that imports it puts its finder first on ``sys.meta_path``; later lines get
        the same module back and add nothing. At ``import distutils`` the finder imports
        ``setuptools._distutils``: ``setuptools`` is whichever copy the normal search finds first
        (not necessarily the one that shipped the shim), and ``distutils`` is that copy's
        ``_distutils`` package. Importing setuptools runs its ``__init__``, which imports
        ``distutils`` again through the finder before anything else of setuptools can fail: only
        a setuptools that cannot be imported as a package, or has no ``_distutils`` that loads,
        makes the finder return nothing, and the normal search goes on. A ``_distutils`` dir
        without a visible ``__init__`` (one the identity cannot search) imports as a namespace
        package, and that is what ``distutils`` becomes (seen: ``__file__`` None)."""
        out = Found()
        order = [pe.path for pe in self.entries]
        hack: Found | None = None
        for eff in self.distutils_shims:
            if eff.effect != "distutils-shim":
                out.steps.append(ImportStep(eff.pth, "absent", eff.detail))
                continue
            if hack is not None:
                continue  # add_shim(): the finder is on sys.meta_path already
            sitedir = posixpath.dirname(eff.pth)
            upto = order.index(sitedir) + 1 if sitedir in order else len(order)
            got = self._load(self._search("_distutils_hack", self.entries[:upto], Found()), "_distutils_hack")
            if got.file is None or got.error is not None:
                why = got.error or ("a namespace package without add_shim" if got.kind == "namespace"
                                    else "ModuleNotFoundError")
                out.steps.append(ImportStep(eff.pth, "absent", f"its line could not import _distutils_hack ({why}): "
                                            "it raised, and site skipped the rest of that .pth file"))
                continue
            hack = got
            out.steps.append(ImportStep(eff.pth, "loaded", f"its line put setuptools' distutils shim first on "
                                        f"sys.meta_path (_distutils_hack from {got.file})", got.file))
        if hack is None:
            return out
        setuptools = self.find("setuptools")
        if setuptools.error is not None or setuptools.package_dir is None or setuptools.file is None:
            what = setuptools.error or ("a namespace package" if setuptools.kind == "namespace" else "not a package")
            out.steps.append(ImportStep("<distutils shim>", "absent", f"the shim cannot import setuptools._distutils "
                                        f"(setuptools: {what}): it returns nothing and the search goes on"))
            return out
        pkg = setuptools.package_dir
        _, names, _ = self._entry(pkg)
        kind, init, detail = self._find_in_dir(pkg, "_distutils", names) if names is not None else (None, None, "")
        if kind == "namespace":
            out.kind, out.namespace = "namespace", [f"{pkg}/_distutils"]
            out.steps.append(ImportStep(pkg, "namespace", f"the distutils shim imports setuptools (found at "
                                        f"{setuptools.file}); its _distutils is only a namespace portion ({detail}), "
                                        "and that namespace package becomes distutils", f"{pkg}/_distutils"))
            return out
        loaded = self._load(Found(file=init, kind=kind)) if kind is not None else None
        if loaded is None or loaded.file is None or loaded.error is not None:
            why = (loaded.note if loaded is not None else detail) or f"no {pkg}/_distutils package"
            out.steps.append(ImportStep(pkg, "absent", f"the shim cannot import setuptools._distutils ({why}): it "
                                        "returns nothing and the search goes on"))
            return out
        out.file, out.kind, out.package_dir = loaded.file, loaded.kind, f"{pkg}/_distutils"
        out.steps.append(ImportStep(pkg, "loaded", f"the distutils shim imports setuptools (found at "
                                    f"{setuptools.file}) and returns its _distutils package as distutils: "
                                    "sys.path is not searched", loaded.file))
        return out

    def _search(self, name: str, entries: list[PathEntry], out: Found) -> Found:
        """PathFinder over ``entries``: the first module or regular package, else the namespace
        portions, else the editable finders, else ModuleNotFoundError."""
        for pe in entries:
            entry = pe.path
            kind, names, why = self._entry(entry)
            if names is None:
                out.steps.append(ImportStep(entry, kind, why))
                continue
            if kind == "zip":
                hit = self._find_in_zip(entry, name, names)
                if hit is not None:
                    out.file, out.kind = hit, "zip"
                    is_pkg = hit.endswith(("/__init__.py", "/__init__.pyc"))
                    out.package_dir = posixpath.dirname(hit) if is_pkg else None
                    out.steps.append(ImportStep(entry, "loaded", "found by zipimport", hit))
                    return self._load(out, name)
                out.steps.append(ImportStep(entry, "absent", "not in the zip archive"))
                continue
            hit_kind, path, detail = self._find_in_dir(entry, name, names)
            if hit_kind == "namespace":
                out.namespace.append(path or "")
                out.steps.append(ImportStep(entry, "namespace", detail, path))
                continue
            if hit_kind is None:
                out.steps.append(ImportStep(entry, "absent", detail or f"no {name} here"))
                continue
            out.file, out.kind = path, hit_kind
            if path is not None and posixpath.basename(posixpath.dirname(path)) == name and "/__init__" in path:
                out.package_dir = posixpath.dirname(path)
            out.steps.append(ImportStep(entry, "loaded", detail, path))
            return self._load(out, name)
        if out.namespace:
            out.kind = "namespace"
            out.steps.append(ImportStep("<namespace>", "loaded", "no regular package or module on sys.path: "
                                        "the portions form a namespace package"))
            return out
        mapped = self.editable.get(name)
        if mapped is not None:
            finder, target = mapped
            return self._load_editable(out, name, finder, target)
        out.error = "ModuleNotFoundError"
        out.steps.append(ImportStep("<end>", "error", f"no module named {name!r} on sys.path"))
        return out

    def _shim_finds(self, module: str, sitedir: str) -> bool:
        """Whether ``PathFinder.find_spec(module, [<sitedir>/<parents>])`` of a ``-nspkg.pth`` line
        finds anything for us (when it does not, ``module_from_spec(None)`` raises)."""
        *parents, leaf = module.split(".")
        where = posixpath.join(sitedir, *parents)
        _, names, _ = self._entry(where)
        return names is not None and self._find_in_dir(where, leaf, names)[0] is not None

    def _shims(self) -> dict[str, list[tuple[str, str]]]:
        """top-level module -> (site dir, why its line did not run, or "") for each ``-nspkg.pth``
        line naming it, in site's order. A line that raises makes site skip the rest of its .pth
        file (``addpackage`` breaks out of the file): a later line there, for another namespace or a
        nested one, never runs."""
        if self._shim_runs is None:
            runs: dict[str, list[tuple[str, str]]] = {}
            broken: dict[str, str] = {}  # .pth -> the module whose line raised in it
            for pth, module in self._shim_lines:
                sitedir = posixpath.dirname(pth)
                skipped = (f"the -nspkg.pth line for {module} in {pth} never ran: the line for {broken[pth]} "
                           "before it raised, and site skipped the rest of that file") if pth in broken else ""
                if not skipped and not self._shim_finds(module, sitedir):
                    broken[pth] = module
                if "." not in module:
                    runs.setdefault(module, []).append((sitedir, skipped))
            self._shim_runs = runs
        return self._shim_runs

    def _from_shims(self, name: str, lines: list[tuple[str, str]]) -> Found:
        """The module setuptools' ``-nspkg.pth`` lines put into ``sys.modules`` while site ran,
        before any import (``kind`` None: no line managed to; its steps name the lines that raised).
        Each line asks PathFinder for ``name`` in its own site dir only: the first that finds
        something creates the module from that spec without executing it (a regular package there
        gives a plain ``__path__`` list and the ``__init__`` as ``__file__``, however many regular
        copies sys.path holds before it; a bare dir a namespace package); a line that finds nothing
        (its package dir removed, or never there) raises, and site prints the error and skips the
        rest of that ``.pth`` — before or after the module was made, that line adds nothing. Every
        later line that finds something appends its ``<sitedir>/name``. A namespace ``__path__``
        recomputes itself from ``sys.path`` when that changed, but only when no regular package is
        visible there; then it holds every portion on the path. The order is site's: a venv with
        the system site packages runs its own dir's lines first (before the user site, and again
        after it: the second run adds nothing)."""
        order = [pe.path for pe in self.entries]
        made = Found()
        path_list: list[str] = []
        ran: set[str] = set()
        for sitedir, skipped in lines:
            if sitedir in ran:
                continue  # another .pth in the same dir (or its second run in a venv) finds the same
            if skipped:
                made.steps.append(ImportStep(sitedir, "absent", skipped))
                continue
            ran.add(sitedir)
            portion = f"{sitedir.rstrip('/')}/{name}"
            _, names, _ = self._entry(sitedir)
            hit_kind, hit, _ = self._find_in_dir(sitedir, name, names) if names is not None else (None, None, "")
            if hit_kind is None:
                # find_spec gave None: module_from_spec(None) raised AttributeError
                made.steps.append(ImportStep(sitedir, "absent", f"a -nspkg.pth line here found no {name} in its "
                                             "site dir: it raised, and site skipped the rest of that .pth file"))
                continue
            if made.kind is None:
                made.kind = hit_kind
                if hit_kind != "namespace":
                    made.file = hit
                    if hit is not None and "/__init__" in hit:
                        made.package_dir = portion
                path_list = [portion]
                what = "a namespace package" if hit_kind == "namespace" else hit
                made.steps.append(ImportStep(sitedir, "loaded", f"a -nspkg.pth line here put {name} into sys.modules "
                                             f"at start-up ({what})", hit))
                continue
            if made.kind == "namespace":
                # `p in __path__` recomputes it from sys.path as it is while site processes this dir
                upto = order.index(sitedir) + 1 if sitedir in order else len(order)
                prefix = self._search(name, self.entries[:upto], Found())
                if prefix.kind == "namespace":
                    path_list = list(prefix.namespace)
            if portion not in path_list:
                path_list.append(portion)
            made.steps.append(ImportStep(sitedir, "namespace", f"a -nspkg.pth line here added {portion} to "
                                         f"{name}.__path__", portion))
        if made.kind is None:
            return made
        if made.kind == "namespace":
            final = self._search(name, self.entries, Found())
            if final.kind == "namespace":
                path_list = list(final.namespace)  # no regular package visible: every portion
            made.namespace = path_list
            made.steps.append(ImportStep("<nspkg>", "loaded", f"{name} is the namespace package the -nspkg.pth "
                                         "lines made: sys.path is not searched again"))
        else:
            made.steps.append(ImportStep("<nspkg>", "loaded", f"{name} was created from {made.file} without running "
                                         f"it; its __path__ is the -nspkg.pth dirs ({', '.join(path_list)})"))
        return made

    def _find_in_dir(self, entry: str, name: str, names: set[str]) -> tuple[str | None, str | None, str]:
        base = f"{entry.rstrip('/')}/{name}"
        is_namespace = False
        detail = ""
        if name in names:
            for suffix, kind in self.suffixes:
                init = f"{base}/__init__{suffix}"
                if self._stat(init) == "file":
                    return kind, init, f"regular package ({kind} __init__)"
            if self._stat(base) == "dir":
                is_namespace = True
                acc = self.perm.traverse(self.cred, base)
                detail = (
                    f"{base} cannot be searched ({acc.reason()}): no __init__ is visible, so it is only a "
                    "namespace portion and the search goes on"
                    if not acc.allowed else f"{base} has no __init__: a namespace portion"
                )
        for suffix, kind in self.suffixes:
            if name + suffix in names:
                path = f"{entry.rstrip('/')}/{name}{suffix}"
                if self._stat(path) == "file":
                    return kind, path, f"{kind} module"
                if not detail:
                    acc = self.perm.stat(self.cred, path)
                    detail = f"{path} is listed but cannot be stat'ed ({acc.reason()})"
        if is_namespace:
            return "namespace", base, detail
        return None, None, detail

    def _find_in_zip(self, entry: str, name: str, names: set[str]) -> str | None:
        for rel in (f"{name}/__init__.py", f"{name}/__init__.pyc", f"{name}.py", f"{name}.pyc"):
            if rel in names:
                return f"{entry}/{rel}"
        return None

    # ---- loading --------------------------------------------------------------------------------

    def _check_export(self, out: Found, name: str) -> Found:
        """dlsym(PyInit_<name>): an extension that exports another module's init function is
        found, then fails to load (ImportError) — the finder never tries the next suffix."""
        node = self.fs.lookup(out.file or "")
        exports = node.entry.pyinit if node is not None else None
        if exports is None or name in exports:
            return out
        out.error = "ImportError"
        out.note = (f"{out.file} does not define PyInit_{name} (it exports "
                    + (", ".join(f"PyInit_{x}" for x in exports) or "no PyInit_ function") + ")")
        out.steps.append(ImportStep(posixpath.dirname(out.file or ""), "error", out.note, out.file))
        out.file = None
        return out

    def _cached_bytecode(self, source: str) -> tuple[str | None, str]:
        """The ``__pycache__`` pyc SourceLoader would use *without reading the source*, or None
        and why not (the source must then be read)."""
        d, base = posixpath.split(source)
        stem = base[: -len(".py")]
        pyc = f"{d}/__pycache__/{stem}.{self.cache_tag}.pyc"
        if self._stat(pyc) != "file":
            return None, f"no {pyc}"
        if not self._readable(pyc):
            return None, f"{pyc} is unreadable too"
        pyc_node, src_node = self.fs.lookup(pyc), self.fs.lookup(source)
        if pyc_node is None or src_node is None:
            return None, f"{pyc} cannot be compared with its source"
        why = pyc_stands_in(pyc_node.entry.data, src_node.entry.mtime, src_node.entry.size)
        return (pyc, why) if why.startswith("valid") else (None, f"{pyc}: {why}")

    def _load(self, out: Found, name: str | None = None) -> Found:
        path = out.file
        if path is None or out.kind in ("zip", "frozen"):
            return out
        if self._readable(path):
            if out.kind == "extension" and name is not None:
                return self._check_export(out, name)
            return out
        reason = self.perm.read(self.cred, path).reason()
        if out.kind == "source":
            pyc, why = self._cached_bytecode(path)
            if pyc is not None:
                out.note = f"source unreadable ({reason}); loads from its cached bytecode {pyc} ({why})"
                return out
            out.error = "PermissionError"
            reason = f"{reason}; {why}"
        elif out.kind == "extension":
            out.error = "ImportError"  # dlopen: "cannot open shared object file: Permission denied"
        else:
            out.error = "PermissionError"
        out.note = f"found, but reading it fails: {reason}"
        out.steps.append(ImportStep(posixpath.dirname(path), "error", out.note, path))
        out.file = None
        return out

    def _editable_mappings(self, pth_imports: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """module -> (finder file, target) from setuptools' editable finders that site installed."""
        out: dict[str, tuple[str, str]] = {}
        for pth, line in pth_imports:
            m = FINDER_LINE.search(line)
            if not m:
                continue
            finder = f"{posixpath.dirname(pth)}/{m.group(1)}.py"
            text = self.fs.read_text(finder) if self._readable(finder) else None
            if not text:
                continue
            # the finder walks MAPPING in reverse: the last key for a name wins
            for mod, target in parse_finder_mapping(text).items():
                out[mod] = (finder, target)
        return out

    def _load_editable(self, out: Found, name: str, finder: str, target: str) -> Found:
        candidates = [f"{target}/__init__.py"]
        stem = target[: -len(posixpath.splitext(target)[1])] if posixpath.splitext(target)[1] else target
        candidates += [stem + s for s, _k in self.suffixes]
        for cand in candidates:
            kind = self._stat(cand)
            if kind is None:
                acc = self.perm.stat(self.cred, cand)
                if acc.denied_by is not None:
                    # pathlib's exists() does not swallow EACCES: the finder raises
                    out.error = "PermissionError"
                    why = f"editable finder cannot stat {cand}: {acc.reason()}"
                    out.steps.append(ImportStep(finder, "error", why, cand))
                    return out
                continue
            out.file, out.kind = cand, "editable"
            if cand.endswith("/__init__.py"):
                out.package_dir = posixpath.dirname(cand)
            why = "PEP 660 editable finder (on sys.meta_path after PathFinder)"
            out.steps.append(ImportStep(finder, "loaded", why, cand))
            loaded = self._load(Found(file=cand, kind="source" if cand.endswith(".py") else "extension",
                                      package_dir=out.package_dir, steps=out.steps), name)
            loaded.kind = "editable" if loaded.error is None else loaded.kind
            return loaded
        out.error = "ModuleNotFoundError"
        out.steps.append(ImportStep(finder, "error", f"editable finder maps {name} to {target}, which does not exist"))
        return out


# ---- importlib.metadata -----------------------------------------------------------------------


def _prepared(name: str) -> str:
    """importlib.metadata's ``Prepared.normalize``."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _legacy(name: str) -> str:
    """importlib.metadata's ``Prepared.legacy_normalize`` (of an egg's base name's first part)."""
    return name.rpartition(".")[0].partition("-")[0].lower().replace("-", "_") if name.endswith(".egg") else \
        name.lower().replace("-", "_")


@dataclass
class MetadataAnswer:
    version: str | None
    path: str | None  # the metadata dir/file importlib.metadata picks (None: not found)
    ambiguous: list[str] = field(default_factory=list)  # versions, when the listing order decides
    found: bool = False


class MetadataFinder:
    """``importlib.metadata.version()`` for many names and identities over one filesystem: each
    sys.path entry is listed once per identity."""

    def __init__(self, fs: Filesystem, versions: dict[str, str | None]) -> None:
        self.fs = fs
        self.versions = versions
        self.perm = engine(fs)
        self._entries: dict[tuple[Cred, str], dict[str, list[str]] | None] = {}

    def _index(self, cred: Cred, path: str) -> dict[str, list[str]] | None:
        """prepared name -> metadata paths in this entry, in a stable order (None: unlistable)."""
        key = (cred, path)
        if key in self._entries:
            return self._entries[key]
        out: dict[str, list[str]] | None = None
        acc = self.perm.read(cred, path)
        node = self.fs.get(acc.real) if acc.allowed and acc.real else None
        if node is not None and node.kind == "dir":
            out = {}
            base = posixpath.basename(path.rstrip("/")).lower()
            for child in self.fs.listdir(node.path, follow=False):
                low = child.lower()
                if low.endswith((".dist-info", ".egg-info")):
                    stem = low.rpartition(".")[0].partition("-")[0]
                    out.setdefault(_prepared(stem), []).append(f"{path.rstrip('/')}/{child}")
                elif base.endswith(".egg") and low == "egg-info":
                    # an .egg dir on sys.path carries its metadata in EGG-INFO/ (Lookup.eggs)
                    out.setdefault("egg:" + _legacy(base), []).append(f"{path.rstrip('/')}/{child}")
        self._entries[key] = out
        return out

    def version(self, cred: Cred, entries: list[PathEntry], dist: str) -> MetadataAnswer:
        """The first entry (sys.path order) whose listing holds a matching ``*.dist-info``/
        ``*.egg-info``; its METADATA (or PKG-INFO) must be readable, else the answer is None. Two
        matches in one entry → listing-order dependent: reported, not guessed."""
        want, egg = _prepared(dist), "egg:" + _legacy(dist)
        for pe in entries:
            index = self._index(cred, pe.path)
            if not index:
                continue
            if egg in index:
                meta = index[egg][0]
                v = _read_version(self.fs, cred, meta, {meta: self.versions.get(pe.path)})
                return MetadataAnswer(v, pe.path, [], True)
            matches = sorted(index.get(want, []))
            if not matches:
                continue
            answers = [_read_version(self.fs, cred, m, self.versions) for m in matches]
            if len(matches) > 1:
                vs = [a if a is not None else "None" for a in answers]
                if len(set(vs)) > 1:
                    return MetadataAnswer(None, None, vs, True)
            return MetadataAnswer(answers[0], matches[0], [], True)
        return MetadataAnswer(None, None, [], False)


def metadata_version(
    fs: Filesystem, cred: Cred, entries: list[PathEntry], dist: str,
    versions: dict[str, str | None],
) -> MetadataAnswer:
    """``importlib.metadata.version(dist)`` for ``cred`` (see :class:`MetadataFinder`); ``versions``
    maps a metadata path to the version its file declares."""
    return MetadataFinder(fs, versions).version(cred, entries, dist)


def _read_version(fs: Filesystem, cred: Cred, meta: str, versions: dict[str, str | None]) -> str | None:
    eng = engine(fs)
    kind = eng.stat(cred, meta)
    if not kind.allowed or kind.real is None:
        return None
    node = fs.get(kind.real)
    if node is None:
        return None
    if node.kind == "dir":
        for name in ("METADATA", "PKG-INFO"):
            p = f"{meta}/{name}"
            # read_text() swallows a PermissionError and tries the next name
            if fs.lookup(p) is not None and eng.read(cred, p).allowed:
                return versions.get(meta)
        return None
    return versions.get(meta) if eng.read(cred, meta).allowed else None
