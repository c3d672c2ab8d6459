"""Python-specific waste in the final filesystem: what only the build needed, or nobody imports.

- package-manager caches: pip, uv, poetry, pipenv, virtualenv's app-data (seed wheels), conda
  package caches (archives and extracted packages); apt lists, archives and package caches;
  dnf/yum/apk caches (SL303);
- ``__pycache__/*.cpython-XY.pyc`` for Python versions no interpreter in the image has (SL303);
- identical distributions in more than one installed environment: same name, version and RECORD
  digests of the files they install; dist-infos inside the caches above are not installs (SL304);
- dead site-packages: ``lib/pythonX.Y/site-packages`` for a version the image lacks (SL112's
  bytes, reported there; summed here);
- build toolchains and ``-dev`` packages left in the image (SL305), from the OS package
  databases when there are any, else from the paths compilers and headers live at.

Only visible files count here: cache bytes that a later layer deleted are hidden bytes (SL301).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name

from ..fs import Filesystem, Node
from ..inventory.model import OsPackageDb, RecordEntry
from ..inventory.record import parse_record

# (kind, pattern): group 1 is the root the finding names
_CACHES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pip-cache", re.compile(r"^(.*/\.cache/pip)/")),
    ("uv-cache", re.compile(r"^(.*/\.cache/uv)/")),
    ("poetry-cache", re.compile(r"^(.*/\.cache/pypoetry)/(?!virtualenvs/)")),
    ("pipenv-cache", re.compile(r"^(.*/\.cache/pipenv)/")),
    ("apt-lists", re.compile(r"^(/var/lib/apt/lists)/(?!lock$)")),
    ("apt-archives", re.compile(r"^(/var/cache/apt/archives)/.*\.deb$")),
    ("apt-pkgcache", re.compile(r"^(/var/cache/apt)/[^/]+\.bin$")),
    ("dnf-cache", re.compile(r"^(/var/cache/dnf)/")),
    ("yum-cache", re.compile(r"^(/var/cache/yum)/")),
    ("apk-cache", re.compile(r"^(/var/cache/apk)/")),
    # virtualenv's app-data: seed wheels and their unpacked "image" dirs (dist-infos with
    # RECORD). ~/.cache since virtualenv moved it to the cache dir; ~/.local/share before.
    ("virtualenv-app-data", re.compile(r"^(.*/\.cache/virtualenv)/")),
    ("virtualenv-app-data", re.compile(r"^(.*/\.local/share/virtualenv)/")),
)
# A conda package cache (``pkgs_dirs``: ``$CONDA_ROOT/pkgs``, ``~/.conda/pkgs``, rattler's
# ``cache/pkgs``): archives, the extracted package dirs beside them (``NAME-VER-BUILD/info/``)
# and the ``urls``/``urls.txt`` ledger. A dir named ``pkgs`` is one only when one of those
# markers is in it; then everything under it is cache.
_CONDA_PKGS = re.compile(r"^(.*?/pkgs)/")
_CONDA_MARK = re.compile(
    r"^(?:urls(?:\.txt)?|[^/]+\.(?:conda|tar\.bz2)|[^/]+/info/(?:index|repodata_record)\.json)$"
)
_CACHE_KINDS = frozenset(kind for kind, _ in _CACHES) | {"conda-pkgs"}
_PYC = re.compile(r"/__pycache__/[^/]+\.cpython-(\d)(\d+)(?:\.opt-\d)?\.pyc$")
_PYC_ROOT = re.compile(r"^(.*?/(?:site|dist)-packages|.*?/lib(?:64)?/python\d+\.\d+)/")
_PYVER = re.compile(r"python(\d+\.\d+)")
_STDLIB_OS = re.compile(r"/lib(?:64)?/python(\d+\.\d+)/os\.py$")
_SITE = re.compile(r"/(?:lib|lib64)/python(\d+\.\d+)/(?:site|dist)-packages$")
_RECORD = re.compile(r"^(.*)/([^/]+)\.dist-info/RECORD$")

# Build-only OS packages: compilers, build drivers, headers.
_TOOL_NAMES = re.compile(
    r"^(?:gcc|g\+\+|gcc-c\+\+|cpp|gfortran|clang|llvm|rustc|cargo|golang|go)(?:-[\d.]+)?$"
    r"|^(?:build-essential|build-base|make|cmake|ninja-build|autoconf|automake|libtool|pkg-config"
    r"|pkgconf|dpkg-dev|binutils|kernel-headers|glibc-headers|musl-dev)$"
    r"|^binutils-.*-linux-gnu$|^(?:gcc|g\+\+|cpp)-\d+-[\w-]+-linux-gnu$"
    r"|-(?:dev|devel|dev-bin)$"
)
# Without a package database: where compilers and Python headers live.
_TOOL_PATHS = re.compile(
    r"^/usr/bin/(?:gcc|g\+\+|cc|c\+\+|clang|rustc|cargo)(?:-[\d.]+)?$"
    r"|^/usr/bin/[\w-]+-linux-gnu-gcc(?:-[\d.]+)?$"
    r"|^/usr/(?:lib|libexec)/gcc/|^/usr/include/python3[^/]*/"
)


@dataclass
class WasteGroup:
    kind: str  # pip-cache, apt-lists, pycache-foreign, ...
    root: str
    bytes: int = 0
    files: int = 0
    layers: set[int] = field(default_factory=set)
    detail: str | None = None  # e.g. the Python version of foreign bytecode

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.root, "bytes": self.bytes, "files": self.files,
                "layers": sorted(self.layers), "detail": self.detail}


@dataclass
class DuplicateDistribution:
    name: str
    version: str
    site_dirs: list[str]
    bytes_per_copy: list[int]
    layers: set[int] = field(default_factory=set)

    @property
    def reclaimable(self) -> int:
        """Every copy but the largest."""
        return sum(self.bytes_per_copy) - max(self.bytes_per_copy, default=0)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "site_dirs": self.site_dirs,
                "bytes_per_copy": self.bytes_per_copy, "reclaimable": self.reclaimable,
                "layers": sorted(self.layers)}


@dataclass
class ToolchainPackage:
    owner: str  # dpkg:gcc-12
    bytes: int
    files: int
    layers: set[int] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "bytes": self.bytes, "files": self.files,
                "layers": sorted(self.layers)}


@dataclass
class PythonWaste:
    versions: list[str]  # interpreter versions found in the image
    caches: list[WasteGroup]  # package caches and foreign bytecode, biggest first
    duplicates: list[DuplicateDistribution]
    dead_site_packages: list[WasteGroup]
    toolchain: list[ToolchainPackage]  # by package; or one pseudo-package "path:..." groups
    toolchain_source: str  # "packages" | "paths" | "none"

    @property
    def cache_bytes(self) -> int:
        return sum(g.bytes for g in self.caches)

    @property
    def toolchain_bytes(self) -> int:
        return sum(t.bytes for t in self.toolchain)

    def to_json(self) -> dict[str, Any]:
        return {
            "interpreter_versions": self.versions,
            "cache_bytes": self.cache_bytes,
            "caches": [g.to_json() for g in self.caches],
            "duplicate_distribution_bytes": sum(d.reclaimable for d in self.duplicates),
            "duplicate_distributions": [d.to_json() for d in self.duplicates],
            "dead_site_packages_bytes": sum(g.bytes for g in self.dead_site_packages),
            "dead_site_packages": [g.to_json() for g in self.dead_site_packages],
            "toolchain_bytes": self.toolchain_bytes,
            "toolchain_source": self.toolchain_source,
            "toolchain": [t.to_json() for t in self.toolchain],
        }


def _is_file(node: Node) -> bool:
    return node.kind == "file"


def _maybe_cache(path: str) -> bool:
    """Whether a package cache (_CACHES, _CONDA_PKGS) or bytecode can hold ``path``: a cheap
    test first, most files are in neither."""
    return (
        "/.cache/" in path or "/__pycache__/" in path or "/pkgs/" in path
        or "/.local/share/virtualenv/" in path or path.startswith(("/var/lib/apt/", "/var/cache/"))
    )


def _maybe_named_cache(path: str) -> bool:
    """Whether one of _CACHES can match ``path`` (all are under these)."""
    return "/.cache/" in path or path.startswith("/var/") or "/.local/share/virtualenv/" in path


@dataclass
class _Seen:
    """What the Python figures need of the image's nodes, gathered in one pass in the
    filesystem's order (the figures' tie-breaks depend on it)."""

    versions: set[str] = field(default_factory=set)  # CPython X.Y the image can run (_version_of)
    links: dict[tuple[int, str], list[str]] = field(default_factory=dict)  # see _caches
    cache_candidates: list[Node] = field(default_factory=list)  # files and links _maybe_cache
    records: list[Node] = field(default_factory=list)  # files named *.dist-info/RECORD
    site_dirs: list[Node] = field(default_factory=list)  # dirs named *-packages


def _version_of(node: Node, base: str) -> str | None:
    """The CPython X.Y a ``bin/pythonX.Y`` executable or a ``pythonX.Y/os.py`` shows."""
    p = node.entry.path
    if node.entry.kind in ("file", "hardlink") and base.startswith("python") and "/bin/" in p:
        m = _PYVER.fullmatch(base)
        if m and node.entry.mode & 0o111:
            return m.group(1)
    elif base == "os.py":
        m = _STDLIB_OS.search(p)
        if m:
            return m.group(1)
    return None


def _scan(fs: Filesystem) -> _Seen:
    seen = _Seen()
    for node in fs.nodes():
        e = node.entry
        p = e.path
        base = p[p.rfind("/") + 1 :]
        if base.startswith("python") or base == "os.py":
            version = _version_of(node, base)
            if version is not None:
                seen.versions.add(version)
        kind = e.kind
        if kind == "dir":
            if p.endswith("-packages"):
                seen.site_dirs.append(node)
            continue
        if kind != "file" and kind != "hardlink":
            continue
        if kind == "hardlink" and e.link:
            seen.links.setdefault((node.layer, e.link), []).append(p)
        if _maybe_cache(p):
            seen.cache_candidates.append(node)
        if kind == "file" and base == "RECORD" and p.endswith(".dist-info/RECORD"):
            seen.records.append(node)
    return seen


def _foreign_pyc(path: str, versions: set[str]) -> tuple[str, str] | None:
    """(tree root, version) for bytecode of a Python version the image lacks."""
    if not versions or "/__pycache__/" not in path or not path.endswith(".pyc"):
        return None
    pm = _PYC.search(path)
    if pm is None:
        return None
    version = f"{pm.group(1)}.{pm.group(2)}"
    if version in versions:
        return None
    rm = _PYC_ROOT.match(path)
    return (rm.group(1) if rm else posixpath.dirname(posixpath.dirname(path))), version


def _caches(fs: Filesystem, versions: set[str], seen: _Seen) -> list[WasteGroup]:
    groups: dict[tuple[str, str], WasteGroup] = {}
    # conda, rattler and uv link installed files from their caches: one inode, several names in
    # one layer (the first a file, the rest hard links to it). (layer, first name) -> the hard
    # links still visible; removing a cache frees an inode only when no name outside it is left.
    links = seen.links

    def names(node: Node) -> tuple[tuple[int, str], list[str]]:
        key = (node.layer, node.entry.link or "") if node.kind == "hardlink" else (node.layer, node.entry.path)
        first = fs.get(key[1])
        alive = first is not None and first.kind == "file" and first.layer == key[0]
        return key, ([key[1]] if alive else []) + links.get(key, [])

    def add(kind: str, root: str, node: Node, detail: str | None = None) -> None:
        if kind in _CACHE_KINDS:
            key, all_names = names(node)
            if key in links and (any(not p.startswith(root + "/") for p in all_names)
                                 or node.entry.path != min(all_names)):
                return  # an env still links these bytes, or another name here counted them
        elif node.kind == "hardlink":
            return  # foreign bytecode: its bytes count once, under the file's own name
        g = groups.get((kind, root))
        if g is None:
            g = groups[(kind, root)] = WasteGroup(kind, root, detail=detail)
        g.bytes += node.size
        g.files += 1
        g.layers.add(node.layer)

    def other(node: Node) -> None:
        foreign = _foreign_pyc(node.entry.path, versions)
        if foreign:
            add("pycache-foreign", foreign[0], node, foreign[1])

    pkgs: dict[str, list[Node]] = {}  # files under a dir named pkgs, until we know it is conda's
    conda_roots: set[str] = set()
    for node in seen.cache_candidates:
        path = node.entry.path
        patterns = _CACHES if _maybe_named_cache(path) else ()  # bytecode: most candidates
        for kind, pat in patterns:
            m = pat.match(path)
            if m:
                add(kind, m.group(1), node)
                break
        else:
            cm = _CONDA_PKGS.match(path) if "/pkgs/" in path else None
            if cm is None:
                other(node)
                continue
            root = cm.group(1)
            pkgs.setdefault(root, []).append(node)
            if _CONDA_MARK.match(path[len(root) + 1:]):
                conda_roots.add(root)
    for root, nodes in pkgs.items():
        for node in nodes:
            if root in conda_roots:
                add("conda-pkgs", root, node)
            else:
                other(node)
    return sorted(groups.values(), key=lambda g: (-g.bytes, g.kind, g.root))


def _tree_files(fs: Filesystem, top: str) -> list[Node]:
    return [n for n in fs.walk(top) if _is_file(n)]


def _dead_site_packages(fs: Filesystem, versions: set[str], seen: _Seen) -> list[WasteGroup]:
    out: list[WasteGroup] = []
    if not versions:
        return out
    for node in seen.site_dirs:
        m = _SITE.search(node.entry.path)
        if m is None or m.group(1) in versions:
            continue
        g = WasteGroup("dead-site-packages", node.entry.path, detail=m.group(1))
        for n in _tree_files(fs, node.entry.path):
            g.bytes += n.size
            g.files += 1
            g.layers.add(n.layer)
        if g.files:
            out.append(g)
    return sorted(out, key=lambda g: (-g.bytes, g.root))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path.startswith(r + "/") for r in roots)


def _duplicates(
    fs: Filesystem, parsed: Mapping[str, list[RecordEntry]], caches: list[WasteGroup], seen: _Seen
) -> list[DuplicateDistribution]:
    """Identical distributions in two installed environments. A dist-info inside a package
    cache (virtualenv's unpacked seed wheels, conda's extracted packages) is not installed
    anywhere: those bytes are SL303's."""
    cache_roots = tuple(sorted({g.root for g in caches if g.kind != "pycache-foreign"}))
    # (RECORD node, site dir, dist-info stem, (name, version)); only a name and version seen
    # twice can be a duplicate, and the others' RECORDs need not be read and hashed
    dists: list[tuple[Node, str, str, tuple[str, str]]] = []
    for node in seen.records:
        m = _RECORD.match(node.entry.path)
        if m is None or node.entry.data is None or node.entry.truncated or _under(node.entry.path, cache_roots):
            continue
        site_dir, stem = m.group(1) or "/", m.group(2)
        name, sep, version = stem.partition("-")
        if sep:
            dists.append((node, site_dir, stem, (canonicalize_name(name), version)))
    copies_of = Counter(key for _, _, _, key in dists)
    found: dict[tuple[str, str, str], list[tuple[str, int, set[int]]]] = {}
    get = fs.get
    for node, site_dir, stem, key in dists:
        if copies_of[key] < 2:
            continue
        path, data = node.entry.path, node.entry.data
        assert data is not None
        entries = parsed.get(path)
        if entries is None:  # a RECORD on no environment's sys.path: the inventory never read it
            entries, _ = parse_record(data, site_dir, path)
        dist_info = f"{site_dir.rstrip('/')}/{stem}.dist-info/"
        prefix = site_dir.rstrip("/") + "/"
        cut = len(prefix)
        signature = []
        copy_bytes = 0
        layers: set[int] = set()
        for e in entries:
            # Installer-specific files (INSTALLER, RECORD, direct_url.json), scripts outside
            # the site dir (shebangs name each env's python) and bytecode differ per copy.
            p = e.path
            if p.startswith(dist_info) or not p.startswith(prefix) or "/__pycache__/" in p:
                continue
            if e.digest is None:
                continue
            signature.append(f"{p[cut:]}\0{e.algo}:{e.digest.hex()}")
            f = get(p)
            if f is not None and f.entry.kind == "file":
                copy_bytes += f.entry.size
                layers.add(f.layer)
        if not signature:
            continue
        digest = hashlib.sha256("\n".join(sorted(signature)).encode()).hexdigest()
        found.setdefault((*key, digest), []).append((site_dir, copy_bytes, layers))
    out: list[DuplicateDistribution] = []
    for (name, version, _), copies in found.items():
        sites = sorted({c[0] for c in copies})
        if len(sites) < 2:
            continue
        copies.sort()
        dup = DuplicateDistribution(name, version, [c[0] for c in copies], [c[1] for c in copies])
        for c in copies:
            dup.layers |= c[2]
        out.append(dup)
    return sorted(out, key=lambda d: (-d.reclaimable, d.name))


def _toolchain_from_packages(fs: Filesystem, dbs: Sequence[OsPackageDb]) -> list[ToolchainPackage] | None:
    """None when the image has no OS package database to ask."""
    if not dbs or not any(db.packages for db in dbs):
        return None
    out: list[ToolchainPackage] = []
    seen: set[str] = set()
    for db in dbs:
        for pkg in db.packages:
            if not _TOOL_NAMES.search(pkg.name):
                continue
            tp = ToolchainPackage(pkg.owner_id, 0, 0)
            for f in pkg.files:
                if f.is_dir:
                    continue
                real = fs.resolve(f.path, follow_last=False)
                node = fs.get(real) if real is not None else None
                if node is None or not _is_file(node) or node.entry.path in seen:
                    continue
                seen.add(node.entry.path)
                tp.bytes += node.size
                tp.files += 1
                tp.layers.add(node.layer)
            out.append(tp)
    return sorted(out, key=lambda t: (-t.bytes, t.owner))


def _toolchain_from_paths(fs: Filesystem) -> list[ToolchainPackage]:
    groups: dict[str, ToolchainPackage] = {}
    for node in fs.nodes():
        path = node.entry.path
        if node.kind not in ("file", "symlink") or not _TOOL_PATHS.search(path):
            continue
        if path.startswith(("/usr/include/", "/usr/lib/gcc/", "/usr/libexec/gcc/")):
            key = "/".join(path.split("/")[:4])  # one group per header dir / gcc tree
        else:
            key = path
        tp = groups.get(key)
        if tp is None:
            tp = groups[key] = ToolchainPackage(f"path:{key}", 0, 0)
        tp.bytes += node.size if _is_file(node) else 0
        tp.files += 1
        tp.layers.add(node.layer)
    return sorted(groups.values(), key=lambda t: (-t.bytes, t.owner))


def compute_python_waste(
    fs: Filesystem,
    package_dbs: Sequence[OsPackageDb] | None = None,
    records: Mapping[str, list[RecordEntry]] | None = None,
) -> PythonWaste:
    """``package_dbs`` and ``records`` (RECORD path → entries, parsed against the RECORD's
    parent dir) are what the inventory already read; without them they are read here."""
    if package_dbs is None:
        from ..inventory.ospkg import find_package_dbs

        package_dbs = find_package_dbs(fs)
    seen = _scan(fs)
    versions = seen.versions
    tools = _toolchain_from_packages(fs, package_dbs)
    source = "packages"
    if tools is None:
        tools = _toolchain_from_paths(fs)
        source = "paths" if tools else "none"
    caches = _caches(fs, versions, seen)
    return PythonWaste(
        versions=sorted(versions, key=lambda v: tuple(int(x) for x in v.split("."))),
        caches=caches,
        duplicates=_duplicates(fs, records or {}, caches, seen),
        dead_site_packages=_dead_site_packages(fs, versions, seen),
        toolchain=tools,
        toolchain_source=source,
    )
