"""The import resolver on small real layer tars: each rule of CPython's finders, one test each.

The chroot oracle (the image's own interpreter, identity dropped before exec) checks the same rules
on images built from real wheels and .debs; these pin each rule down on its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile

import pytest

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink
from sitelens.fs import Filesystem
from sitelens.inventory.attribution import Attributor
from sitelens.inventory.imports import ImportResolver, metadata_version, pyc_stands_in
from sitelens.inventory.model import Distribution, OsPackage, OwnedFile, PathEntry, RecordEntry
from sitelens.permissions import Cred
from tests.helpers import fs_from_spec

ROOT = Cred(0, 0, frozenset({0}))
ARB = Cred(1000620000, 0, frozenset({0}))
APP = Cred(1000, 1000, frozenset())
SO = ".cpython-311-x86_64-linux-gnu.so"

A = "/usr/local/lib/python3.11/site-packages"
B = "/usr/lib/python3/dist-packages"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _pyc(flags: int, mtime: int = 0, size: int = 0) -> bytes:
    """A pyc header as py_compile writes it (PEP 552), with a stand-in code body."""
    tail = (mtime.to_bytes(4, "little") + size.to_bytes(4, "little")) if not flags & 1 else b"\x07" * 8
    return importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + tail + b"\xe3code"


@pytest.fixture(scope="module")
def fs() -> Filesystem:
    spec = ImageSpec([LayerSpec([
        Dir("/usr/local/lib/python3.11"), Dir(A), Dir(B), Dir("/usr/lib/python3.11"),
        # 1. a package dir only root can search, and a later copy of the same name
        Dir(f"{A}/yaml", 0o700), File(f"{A}/yaml/__init__.py", b"v = 'new'\n", 0o600),
        Dir(f"{B}/yaml"), File(f"{B}/yaml/__init__.py", b"v = 'os'\n"),
        # 2. the same, with no later copy: an empty namespace package
        Dir(f"{A}/flask", 0o700), File(f"{A}/flask/__init__.py", b"", 0o600),
        # 3. a readable dir with an unreadable __init__; and one rescued by its cached bytecode
        Dir(f"{A}/secret"), File(f"{A}/secret/__init__.py", b"", 0o600),
        Dir(f"{A}/cached"), File(f"{A}/cached/__init__.py", b"", 0o600),
        Dir(f"{A}/cached/__pycache__"), File(f"{A}/cached/__pycache__/__init__.cpython-311.pyc", _pyc(0, 0, 0), 0o644),
        # ... and three whose bytecode does not spare reading the source (layer mtimes are 0)
        *(x for name, header in (("stale", _pyc(0, 1_700_000_000, 0)), ("checked", _pyc(0b11)),
                                 ("short", b"pyc"))
          for x in (Dir(f"{A}/{name}"), File(f"{A}/{name}/__init__.py", b"", 0o600), Dir(f"{A}/{name}/__pycache__"),
                    File(f"{A}/{name}/__pycache__/__init__.cpython-311.pyc", header, 0o644))),
        Dir(f"{A}/unchecked"), File(f"{A}/unchecked/__init__.py", b"x = 1\n", 0o600),
        Dir(f"{A}/unchecked/__pycache__"),
        File(f"{A}/unchecked/__pycache__/__init__.cpython-311.pyc", _pyc(0b01), 0o644),
        # 4. an extension module and a source module of one name; a package beats both
        File(f"{A}/speed{SO}", b"\x7fELF\0PyInit_speed\0", 0o755), File(f"{A}/speed.py", b""),
        File(f"{A}/misnamed{SO}", b"\x7fELF\0PyInit_other\0", 0o755), File(f"{A}/misnamed.py", b""),
        Dir(f"{A}/both"), File(f"{A}/both/__init__.py", b""), File(f"{A}/both.py", b""),
        File(f"{A}/unmappable{SO}", b"\x7fELF", 0o700),
        # 5. sourceless bytecode
        File(f"{A}/compiled.pyc", b"pyc"),
        # 6. a namespace package split over two site dirs
        Dir(f"{A}/ns"), File(f"{A}/ns/one.py", b""), Dir(f"{B}/ns"), File(f"{B}/ns/two.py", b""),
        # 7. a PYTHONPATH dir only root may list, holding a module that exists nowhere else
        Dir("/opt/private", 0o700), File("/opt/private/hidden.py", b""),
        # 8. the stdlib zip
        File("/usr/lib/python311.zip", _zip({"zipped/__init__.py": b"", "zmod.py": b""})),
        # 9. an editable finder installed by a .pth import line
        File(f"{A}/__editable___proj_1_0_finder.py", b"MAPPING = {'proj': '/src/proj'}\n"),
        Dir("/src/proj"), File("/src/proj/__init__.py", b""),
        # 10. a symlinked package dir
        Dir("/data/real"), File("/data/real/__init__.py", b""), Symlink(f"{B}/linked", "/data/real"),
    ])])
    return fs_from_spec(spec)


def _entries(*paths: str) -> list[PathEntry]:
    return [PathEntry(p, "site") for p in paths]


PATH = _entries("/opt/private", "/usr/lib/python311.zip", "/usr/lib/python3.11", A, B)
PTH = [(f"{A}/__editable__.proj-1.0.pth",
        "import __editable___proj_1_0_finder; __editable___proj_1_0_finder.install()")]


def _find(fs: Filesystem, cred: Cred, name: str):  # type: ignore[no-untyped-def]
    return ImportResolver(fs, cred, "3.11", PATH, PTH).find(name)


def test_untraversable_package_falls_through_to_the_next_copy(fs: Filesystem) -> None:
    assert _find(fs, ROOT, "yaml").file == f"{A}/yaml/__init__.py"
    got = _find(fs, ARB, "yaml")
    assert got.file == f"{B}/yaml/__init__.py" and got.error is None
    ns_step = next(s for s in got.steps if s.outcome == "namespace")
    assert "cannot be searched" in ns_step.detail and ns_step.entry == A


def test_untraversable_package_with_no_later_copy_is_an_empty_namespace(fs: Filesystem) -> None:
    got = _find(fs, ARB, "flask")
    assert got.file is None and got.error is None and got.namespace == [f"{A}/flask"]
    assert _find(fs, ROOT, "flask").file == f"{A}/flask/__init__.py"


def test_unreadable_source_raises_permission_error_unless_bytecode_is_cached(fs: Filesystem) -> None:
    got = _find(fs, ARB, "secret")
    assert got.error == "PermissionError" and got.file is None
    assert _find(fs, ROOT, "secret").error is None
    cached = _find(fs, ARB, "cached")
    assert cached.error is None and cached.file == f"{A}/cached/__init__.py" and "cached bytecode" in cached.note
    unchecked = _find(fs, ARB, "unchecked")
    assert unchecked.error is None and "unchecked hash-based" in unchecked.note


@pytest.mark.parametrize(("name", "why"), [("stale", "stale: it records source mtime 1700000000"),
                                           ("checked", "checked hash-based"), ("short", "header is short")])
def test_bytecode_that_needs_its_source_does_not_rescue_it(fs: Filesystem, name: str, why: str) -> None:
    got = _find(fs, ARB, name)
    assert got.error == "PermissionError" and got.file is None
    assert why in got.steps[-1].detail
    assert _find(fs, ROOT, name).error is None


def test_pyc_header_rules_follow_pep_552() -> None:
    assert pyc_stands_in(_pyc(0, 1234, 10), 1234, 10).startswith("valid")
    assert pyc_stands_in(_pyc(0, 1234, 10), 1234 + 2**32, 10).startswith("valid")  # 32-bit fields
    assert pyc_stands_in(_pyc(0, 1234, 10), 1235, 10).startswith("stale")
    assert pyc_stands_in(_pyc(0, 1234, 10), 1234, 11).startswith("stale")
    assert pyc_stands_in(_pyc(0b01), 5, 5).startswith("valid")
    assert not pyc_stands_in(_pyc(0b11), 5, 5).startswith("valid")
    assert not pyc_stands_in(_pyc(0b100), 0, 0).startswith("valid")
    assert not pyc_stands_in(None, 0, 0).startswith("valid")


def test_suffix_order_and_package_precedence(fs: Filesystem) -> None:
    assert _find(fs, APP, "speed").file == f"{A}/speed{SO}"
    assert _find(fs, APP, "both").file == f"{A}/both/__init__.py"
    assert _find(fs, APP, "compiled").file == f"{A}/compiled.pyc"
    assert _find(fs, APP, "unmappable").error == "ImportError"  # dlopen cannot read it
    # dlsym(PyInit_misnamed) fails: ImportError, and the .py beside it is never tried
    assert _find(fs, APP, "misnamed").error == "ImportError"


def test_namespace_portions_from_two_site_dirs(fs: Filesystem) -> None:
    got = _find(fs, APP, "ns")
    assert got.file is None and got.error is None and got.namespace == [f"{A}/ns", f"{B}/ns"]


def test_unlistable_entry_is_skipped_silently(fs: Filesystem) -> None:
    assert _find(fs, ROOT, "hidden").file == "/opt/private/hidden.py"
    got = _find(fs, APP, "hidden")
    assert got.error == "ModuleNotFoundError"
    assert got.steps[0].outcome == "unlistable"


def test_stdlib_zip_is_searched_by_zipimport(fs: Filesystem) -> None:
    assert _find(fs, APP, "zmod").file == "/usr/lib/python311.zip/zmod.py"
    assert _find(fs, APP, "zipped").file == "/usr/lib/python311.zip/zipped/__init__.py"


def test_editable_finder_is_consulted_after_sys_path(fs: Filesystem) -> None:
    got = _find(fs, APP, "proj")
    assert got.file == "/src/proj/__init__.py" and got.kind == "editable"


def test_frozen_modules_are_not_searched(fs: Filesystem) -> None:
    r = ImportResolver(fs, APP, "3.11", PATH, [], stdlib="/usr/lib/python3.11")
    assert r.find("os").file == "/usr/lib/python3.11/os.py"
    assert ImportResolver(fs, APP, "3.10", PATH, []).find("os").error == "ModuleNotFoundError"


def test_symlinked_package_keeps_the_unresolved_file_name(fs: Filesystem) -> None:
    assert _find(fs, APP, "linked").file == f"{B}/linked/__init__.py"


# ---- attribution and importlib.metadata --------------------------------------------------------

OLD_INIT, NEW_INIT, SAME, LEFTOVER = b"v = '1.0'\n", b"v = '2.0'\n", b"shared = 1\n", b"old_only = 1\n"


def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _md5(b: bytes) -> bytes:
    return hashlib.md5(b).digest()


@pytest.fixture(scope="module")
def overwritten() -> Filesystem:
    """dpkg's pkg 1.0 in B, then pip's pkg 2.0 written over it in place (a leftover module of
    1.0 stays), and pip's dist-info beside dpkg's egg-info."""
    return fs_from_spec(ImageSpec([
        LayerSpec([
            Dir(B), Dir(f"{B}/pkg"), File(f"{B}/pkg/__init__.py", OLD_INIT), File(f"{B}/pkg/same.py", SAME),
            File(f"{B}/pkg/leftover.py", LEFTOVER),
            Dir(f"{B}/pkg-1.0.egg-info"), File(f"{B}/pkg-1.0.egg-info/PKG-INFO", b"Name: pkg\nVersion: 1.0\n"),
        ]),
        LayerSpec([
            File(f"{B}/pkg/__init__.py", NEW_INIT), File(f"{B}/pkg/same.py", SAME),
            Dir(f"{B}/pkg-2.0.dist-info"),
            File(f"{B}/pkg-2.0.dist-info/METADATA", b"Name: pkg\nVersion: 2.0\n", 0o600),
        ]),
    ]))


def _claims(fs: Filesystem) -> Attributor:
    pip = Distribution("pkg", "pkg", "2.0", f"{B}/pkg-2.0.dist-info", "dist-info", B, installer="pip", layer=1,
                       record=[RecordEntry(f"{B}/pkg/__init__.py", "sha256", _sha(NEW_INIT)),
                               RecordEntry(f"{B}/pkg/same.py", "sha256", _sha(SAME))])
    deb = Distribution("pkg", "pkg", "1.0", f"{B}/pkg-1.0.egg-info", "egg-info", B, installer="dpkg",
                       owner_package="dpkg:python3-pkg", layer=0)
    pkg = OsPackage("dpkg", "python3-pkg", "1.0-1", files=[
        OwnedFile(f"{B}/pkg/__init__.py", "md5", _md5(OLD_INIT)),
        OwnedFile(f"{B}/pkg/same.py", "md5", _md5(SAME)),
        OwnedFile(f"{B}/pkg/leftover.py", "md5", _md5(LEFTOVER)),
    ])
    return Attributor(fs, [pip, deb], [pkg])


def test_code_version_comes_from_the_digest_not_the_metadata(overwritten: Filesystem) -> None:
    att = _claims(overwritten)
    src = att.loaded_from(f"{B}/pkg/__init__.py", f"{B}/pkg")
    assert src is not None and src.version == "2.0" and src.owner == f"pip:{B}/pkg-2.0.dist-info"
    assert src.layer == 1
    summary = att.package_dir(f"{B}/pkg")
    assert summary.mixed  # leftover.py is 1.0's alone, __init__.py is 2.0's alone
    assert summary.exclusive[("pkg", "1.0")] == 1 and summary.exclusive[("pkg", "2.0")] == 1


def test_metadata_version_per_identity(overwritten: Filesystem) -> None:
    versions = {f"{B}/pkg-2.0.dist-info": "2.0", f"{B}/pkg-1.0.egg-info": "1.0"}
    entries = _entries(B)
    root = metadata_version(overwritten, ROOT, entries, "pkg", versions)
    assert root.version is None and sorted(root.ambiguous) == ["1.0", "2.0"]  # listing order decides
    app = metadata_version(overwritten, APP, entries, "pkg", versions)
    # 2.0's METADATA is 0600: for a non-root user that candidate answers None
    assert sorted(app.ambiguous) == ["1.0", "None"]


# ---- setuptools' -nspkg.pth shims ---------------------------------------------------------------

C = "/opt/venv/lib/python3.11/site-packages"


def _nspkg_line(pkg: str) -> str:
    """The line setuptools' namespaces.Installer writes for ``pkg`` (a dotted one adds the setattr)."""
    parent, _, child = pkg.rpartition(".")
    line = ("import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals["
            f"'sitedir'], *{tuple(pkg.split('.'))!r});importlib = has_mfs and __import__('importlib.util');has_mfs "
            f"and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault({pkg!r}, importlib.util."
            f"module_from_spec(importlib.machinery.PathFinder.find_spec({pkg!r}, [os.path.dirname(p)])));m = m or "
            f"sys.modules.setdefault({pkg!r}, types.ModuleType({pkg!r}));mp = (m or []) and m.__dict__.setdefault("
            "'__path__',[]);(p not in mp) and mp.append(p)")
    return line + (f";m and setattr(sys.modules[{parent!r}], {child!r}, m)" if parent else "")


@pytest.fixture(scope="module")
def shims_fs() -> Filesystem:
    return fs_from_spec(ImageSpec([LayerSpec([
        Dir("/usr/local/lib/python3.11"), Dir(A), Dir(B), Dir("/opt/venv/lib/python3.11"), Dir(C), Dir("/opt/pp"),
        # nsx: a regular copy on PYTHONPATH, none in the venv, a regular package in A (another
        # distribution's __init__), a portion in B
        Dir("/opt/pp/nsx"), File("/opt/pp/nsx/__init__.py", b""),
        Dir(f"{A}/nsx"), File(f"{A}/nsx/__init__.py", b"__version__ = 'core'\n"), Dir(f"{A}/nsx/a"),
        Dir(f"{B}/nsx"), Dir(f"{B}/nsx/b"),
        # one .pth for nsdrop (its dir removed) then nskeep; a regular nskeep later on the path
        Dir(f"{A}/nskeep"), Dir(f"{A}/nskeep/b"), Dir(f"{B}/nskeep"), File(f"{B}/nskeep/__init__.py", b""),
        # nested: nsnest.inner removed; nsnext as nskeep
        Dir(f"{A}/nsnest"), Dir(f"{A}/nsnext"), Dir(f"{A}/nsnext/y"), Dir(f"{B}/nsnext"),
        File(f"{B}/nsnext/__init__.py", b""),
    ])]))


SHIM_PATH = _entries("/opt/pp", C, A, B)


def _shims(fs: Filesystem, pth_lines: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    return ImportResolver(fs, APP, "3.11", SHIM_PATH, [(pth, _nspkg_line(pkg)) for pth, pkg in pth_lines])


def test_first_nspkg_shim_that_finds_a_regular_package_makes_the_module(shims_fs: Filesystem) -> None:
    pth = "nsx.part-0.1-nspkg.pth"
    got = _shims(shims_fs, [(f"{d}/{pth}", "nsx") for d in (C, A, B)]).find("nsx")
    # not /opt/pp's, first on sys.path: site put A's into sys.modules before any import
    assert (got.file, got.error, got.namespace) == (f"{A}/nsx/__init__.py", None, [])
    assert [(s.entry, s.outcome) for s in got.steps] == [(C, "absent"), (A, "loaded"), (B, "namespace"),
                                                         ("<nspkg>", "loaded")]
    assert "it raised" in got.steps[0].detail
    assert got.steps[-1].detail.endswith(f"({A}/nsx, {B}/nsx)")


def test_nspkg_line_that_raises_ends_its_pth_file(shims_fs: Filesystem) -> None:
    pair = f"{A}/nspair-0.1-nspkg.pth"
    alone = _shims(shims_fs, [(pair, "nskeep")]).find("nskeep")
    assert (alone.file, alone.namespace) == (None, [f"{A}/nskeep"])
    # nsdrop's line raises (no nsdrop in A): site skips the rest of the file, nskeep's line too
    got = _shims(shims_fs, [(pair, "nsdrop"), (pair, "nskeep")]).find("nskeep")
    assert (got.file, got.error) == (f"{B}/nskeep/__init__.py", None)
    assert got.steps[0].entry == A and "never ran: the line for nsdrop before it raised" in got.steps[0].detail
    # a later .pth of the same dir still runs
    other = _shims(shims_fs, [(pair, "nsdrop"), (pair, "nskeep"), (f"{A}/z-nspkg.pth", "nskeep")]).find("nskeep")
    assert (other.file, other.namespace) == (None, [f"{A}/nskeep"])


def test_nested_nspkg_line_that_raises_ends_its_pth_file(shims_fs: Filesystem) -> None:
    pth = f"{A}/nsnest-0.1-nspkg.pth"
    lines = [(pth, "nsnest"), (pth, "nsnest"), (pth, "nsnest.inner"), (pth, "nsnext")]
    r = _shims(shims_fs, lines)
    assert (r.find("nsnest").file, r.find("nsnest").namespace) == (None, [f"{A}/nsnest"])
    assert r.find("nsnext").file == f"{B}/nsnext/__init__.py"
    assert _shims(shims_fs, [(pth, "nsnest"), (pth, "nsnext")]).find("nsnext").namespace == [f"{A}/nsnext"]


# ---- setuptools' distutils shim (distutils-precedence.pth) --------------------------------------

SHIM_LINE = ("import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
             "enabled and __import__('_distutils_hack').add_shim(); ")
OLD_SHIM_LINE = SHIM_LINE.replace("'local') ==", "'stdlib') ==")  # setuptools 49–59
STDLIB = "/usr/lib/python3.11"


def _setuptools(site: str, mode: int = 0o755, distutils: bool = True, hack: bool = True) -> list[Dir | File]:
    out: list[Dir | File] = [Dir(f"{site}/setuptools", mode), File(f"{site}/setuptools/__init__.py", b"", 0o644)]
    if distutils:
        out += [Dir(f"{site}/setuptools/_distutils"), File(f"{site}/setuptools/_distutils/__init__.py", b""),
                File(f"{site}/setuptools/_distutils/core.py", b"")]
    if hack:
        out += [Dir(f"{site}/_distutils_hack", mode), File(f"{site}/_distutils_hack/__init__.py", b"", 0o644)]
    return out


@pytest.fixture(scope="module")
def distutils_fs() -> Filesystem:
    return fs_from_spec(ImageSpec([LayerSpec([
        Dir("/usr/local/lib/python3.11"), Dir(A), Dir(B), Dir("/opt/venv/lib/python3.11"), Dir(C),
        Dir("/opt/pp"), Dir("/opt/old"), Dir("/opt/shut"), Dir(STDLIB), Dir(f"{STDLIB}/distutils"),
        File(f"{STDLIB}/distutils/__init__.py", b""),
        # pip's setuptools under umask 077 in A (root alone can search it), dpkg's in B
        *_setuptools(A, 0o700), *_setuptools(B),
        # a setuptools on PYTHONPATH that did not ship the shim; an old one without _distutils
        *_setuptools("/opt/pp", hack=False), *_setuptools("/opt/old", distutils=False, hack=False),
        # a venv whose shim line has no _distutils_hack of its own up to its site dir
        *_setuptools(C, hack=False),
        # a setuptools whose _distutils only root can search
        *_setuptools("/opt/shut", hack=False), Dir("/opt/shut/setuptools/_distutils", 0o700),
    ])]))


def _distutils(fs: Filesystem, cred: Cred, path: list[str], pths: list[str], env: dict[str, str] | None = None,
               line: str = SHIM_LINE):  # type: ignore[no-untyped-def]
    from sitelens.inventory.pth_lines import interpret

    lines = [(f"{d}/distutils-precedence.pth", line) for d in pths]
    effects = [interpret(p, text, env or {})[0] for p, text in lines]
    return ImportResolver(fs, cred, "3.11", _entries(*path), lines, pth_effects=effects).find("distutils")


def test_distutils_shim_loads_the_first_setuptools_on_the_path(distutils_fs: Filesystem) -> None:
    path = [STDLIB, A, B]
    root = _distutils(distutils_fs, ROOT, path, [A, B])
    assert (root.file, root.error, root.package_dir) == (f"{A}/setuptools/_distutils/__init__.py", None,
                                                         f"{A}/setuptools/_distutils")
    assert [(s.entry, s.outcome) for s in root.steps] == [(f"{A}/distutils-precedence.pth", "loaded"),
                                                          (f"{A}/setuptools", "loaded")]
    # A's .pth is 0600 (site skips it for others); B's line imports B's _distutils_hack past A's
    # unsearchable one, and the shim's `import setuptools` falls through to B's copy the same way
    app = _distutils(distutils_fs, APP, path, [B])
    assert app.file == f"{B}/setuptools/_distutils/__init__.py"
    assert f"_distutils_hack from {B}/_distutils_hack/__init__.py" in app.steps[0].detail


def test_distutils_shim_takes_setuptools_wherever_the_search_finds_it(distutils_fs: Filesystem) -> None:
    # the shim came from B, but `import setuptools._distutils` finds PYTHONPATH's setuptools first
    got = _distutils(distutils_fs, APP, ["/opt/pp", STDLIB, B], [B])
    assert got.file == "/opt/pp/setuptools/_distutils/__init__.py"
    # a setuptools without _distutils: the finder returns nothing, the stdlib's distutils loads
    old = _distutils(distutils_fs, APP, ["/opt/old", STDLIB, B], [B])
    assert (old.file, old.error) == (f"{STDLIB}/distutils/__init__.py", None)
    assert any("cannot import setuptools._distutils" in s.detail for s in old.steps)
    # a _distutils the identity cannot search imports as a namespace package: that is distutils
    shut = _distutils(distutils_fs, APP, ["/opt/shut", STDLIB, B], [B])
    assert (shut.file, shut.error, shut.kind, shut.namespace) == (None, None, "namespace",
                                                                   ["/opt/shut/setuptools/_distutils"])
    assert _distutils(distutils_fs, ROOT, ["/opt/shut", STDLIB, B], [B]).file == \
        "/opt/shut/setuptools/_distutils/__init__.py"


def test_distutils_shim_line_needs_its_hack_on_the_path_so_far(distutils_fs: Filesystem) -> None:
    # the venv's line runs while sys.path ends at the venv's site dir: no _distutils_hack yet, it
    # raises; B's line (later) installs the shim, and setuptools is then the venv's (first on the path)
    got = _distutils(distutils_fs, APP, [STDLIB, C, B], [C, B])
    assert got.file == f"{C}/setuptools/_distutils/__init__.py"
    assert got.steps[0].entry == f"{C}/distutils-precedence.pth" and "could not import" in got.steps[0].detail
    # no line could: the stdlib's
    alone = _distutils(distutils_fs, APP, [STDLIB, C], [C])
    assert alone.file == f"{STDLIB}/distutils/__init__.py"


@pytest.mark.parametrize(("env", "line", "shimmed"), [
    ({}, SHIM_LINE, True),
    ({"SETUPTOOLS_USE_DISTUTILS": "local"}, SHIM_LINE, True),
    ({"SETUPTOOLS_USE_DISTUTILS": "stdlib"}, SHIM_LINE, False),
    ({"SETUPTOOLS_USE_DISTUTILS": ""}, SHIM_LINE, False),  # set but empty is not 'local'
    ({}, OLD_SHIM_LINE, False),  # the line's own default
    ({"SETUPTOOLS_USE_DISTUTILS": "local"}, OLD_SHIM_LINE, True),
])
def test_setuptools_use_distutils_turns_the_shim_on_or_off(distutils_fs: Filesystem, env: dict[str, str],
                                                            line: str, shimmed: bool) -> None:
    got = _distutils(distutils_fs, ROOT, [STDLIB, B], [B], env, line)
    assert got.file == (f"{B}/setuptools/_distutils/__init__.py" if shimmed else f"{STDLIB}/distutils/__init__.py")
    if not shimmed:
        assert "SETUPTOOLS_USE_DISTUTILS" in got.steps[0].detail and "stays off" in got.steps[0].detail


def test_distutils_is_listed_where_a_shim_line_runs(distutils_fs: Filesystem) -> None:
    pth = [(f"{B}/distutils-precedence.pth", SHIM_LINE)]
    from sitelens.inventory.pth_lines import interpret

    with_shim = ImportResolver(distutils_fs, ROOT, "3.11", _entries(STDLIB, B), pth,
                               pth_effects=[interpret(*pth[0], {})[0]])
    assert with_shim.meta_path_modules() == {"distutils"}
    assert ImportResolver(distutils_fs, ROOT, "3.11", _entries(STDLIB, B)).meta_path_modules() == set()
