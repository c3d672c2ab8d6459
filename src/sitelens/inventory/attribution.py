"""Whose bytes are these? Files attributed to their owners by digest, not by metadata order.

Every owner that records a digest for a path is a *claim*: a RECORD row (``sha256=``), a dpkg
md5sums line, an rpm file digest (sha256 or md5), an apk checksum (sha1, kept by the layer index
for ``/usr/lib/python3.X/site-packages``, where apk's py3 packages live). A claim *matches* when the
bytes in the image have that digest. The code version that runs is the version of the owner whose
claim matches the file that loads; a package dir whose files match two versions exclusively is a
*mixed tree* (an older install's leftovers, or files overwritten in place by another installer).
Attribution is a property of the image's bytes, the same for every identity, so it is cached.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from ..fs import ADDED, MODIFIED, Filesystem, Node
from .model import Distribution, LoadedFrom, OsPackage, OwnedFile, RecordEntry

_SKIP_DIRS = ("__pycache__",)


def actual_digest(node: Node, algo: str | None) -> bytes | None:
    """The image file's digest in ``algo``, when the layer index computed one."""
    if algo == "sha256":
        return node.entry.sha256
    if algo == "md5":
        return node.entry.md5
    if algo == "sha1":
        return node.entry.sha1
    if algo == "sha256-160":  # apk-tools 3's truncated sha256 in a v2 database
        return node.entry.sha256[:20] if node.entry.sha256 is not None else None
    return None


def content_layer(fs: Filesystem, path: str) -> int | None:
    """The layer that wrote the bytes now visible at ``path`` (a later ``chmod``/``chown -R``
    re-ship or an unchanged copy does not count: the content came from the earlier layer)."""
    node = fs.get(path)
    if node is None:
        return None
    for change in reversed(fs.history(path)):
        if change.action in (ADDED, MODIFIED):
            return change.layer
    return node.layer if node.layer >= 0 else None


@dataclass(frozen=True, slots=True)  # one per file an owner names
class Claim:
    owner: str  # "dpkg:python3-jinja2" | "pip:/…/Jinja2-3.1.4.dist-info"
    distribution: str | None  # normalised distribution name the owner installs
    version: str | None  # that distribution's version
    algo: str | None
    digest: bytes | None
    metadata_layer: int | None = None  # layer that wrote the owner's metadata


@dataclass(slots=True)
class Attribution:
    """Who the bytes of one file belong to."""

    matches: list[Claim] = field(default_factory=list)  # digest verified
    mismatches: list[Claim] = field(default_factory=list)  # digest recorded, bytes differ
    unverified: list[Claim] = field(default_factory=list)  # claimed, no comparable digest

    @property
    def versions(self) -> set[tuple[str | None, str | None]]:
        # not memoised: one set per file of every package dir would cost ~25 MB at 130 k files
        return {(c.distribution, c.version) for c in self.matches}


@dataclass
class DirSummary:
    """The files of one package dir, grouped by the (distribution, version) their bytes match."""

    by_version: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    exclusive: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    unknown: int = 0  # files no digest matches (orphans, or changed by hand)

    @property
    def mixed(self) -> bool:
        """Two versions each own files no other version explains."""
        return len([v for v, n in self.exclusive.items() if n]) >= 2


def owner_label(d: Distribution) -> str:
    """DESIGN §6 owner form: ``dpkg:python3-jinja2`` or ``pip:<metadata path>``."""
    if d.owner_package:
        return d.owner_package if ":" in d.owner_package else f"{d.installer_name}:{d.owner_package}"
    return f"{d.installer_name}:{d.metadata_path}"


@dataclass(frozen=True, slots=True)
class _Owner:
    """What all claims of one owner share: built once per distribution or package, not per file."""

    owner: str
    key: tuple[str | None, str | None]  # (distribution, version): what a package dir counts
    metadata_layer: int | None

    def claim(self, row: _Row) -> Claim:
        return Claim(self.owner, self.key[0], self.key[1], row.algo, row.digest, self.metadata_layer)

    def matches(self, row: _Row, node: Node) -> bool:
        """The row's digest is that of the bytes at ``node`` (a regular file)."""
        return row.digest is not None and actual_digest(node, row.algo) == row.digest


_Row: TypeAlias = "OwnedFile | RecordEntry"  # a claim's own part: the path, algo and digest


class Attributor:
    """Claims of every owner, keyed by the canonical path of the file they name.

    An image names tens of thousands of owned files and an audit asks about a few package dirs:
    the index keeps each row with its owner, and a :class:`Claim` is built only for a file asked
    about; a package dir's walk counts versions straight from the rows.
    """

    def __init__(self, fs: Filesystem, distributions: list[Distribution], packages: list[OsPackage]) -> None:
        self.fs = fs
        # a path's claims: the (owner, row) pair of its one claim (most files), a list for more
        self.claims: dict[str, tuple[_Owner, _Row] | list[tuple[_Owner, _Row]]] = {}
        self._file_cache: dict[str, Attribution] = {}
        self._dir_cache: dict[str, DirSummary] = {}
        by_owner: dict[str, list[Distribution]] = {}
        for d in distributions:
            if d.owner_package:
                by_owner.setdefault(owner_label(d), []).append(d)
        seen_records: set[str] = set()
        for d in distributions:
            if d.owner_package or not d.record or d.metadata_path in seen_records:
                continue
            seen_records.add(d.metadata_path)
            owner = _Owner(owner_label(d), (d.name, d.version), d.layer)
            self._index(owner, (r for r in d.record if r.digest is not None or not r.path.endswith(".pyc")))
        for pkg in packages:
            dists = by_owner.get(pkg.owner_id, [])
            files = (f for f in pkg.files if not (f.is_dir or f.is_ghost))
            if len(dists) <= 1:
                # _dist_for's answer does not depend on the path then: one owner for every file
                od = dists[0] if dists else None
                self._index(_package_owner(pkg, od), files)
                continue
            owners: dict[int, _Owner] = {}
            for f in files:
                od = _dist_for(dists, f.path)
                key = id(od)
                found = owners.get(key)
                if found is None:
                    found = owners[key] = _package_owner(pkg, od)
                self._index(found, (f,))

    def _index(self, owner: _Owner, rows: Iterable[_Row]) -> None:
        claims, canonical = self.claims, self.canonical
        for row in rows:
            key = canonical(row.path)
            got = claims.get(key)
            if got is None:
                # nearly every file has one claim: the pair itself, no list (88 bytes a file)
                claims[key] = (owner, row)
            elif isinstance(got, list):
                got.append((owner, row))
            else:
                claims[key] = [got, (owner, row)]

    def rows(self, path: str) -> list[tuple[_Owner, _Row]]:
        """The claims on the canonical ``path``, as (owner, row) pairs."""
        got = self.claims.get(path)
        if got is None:
            return []
        return got if isinstance(got, list) else [got]

    def canonical(self, path: str) -> str:
        """``path`` with its directory's symlinks resolved (usr-merge, a venv's lib64 link)."""
        node = self.fs.get(path[:path.rfind("/")] or "/")
        if node is not None and node.entry.kind == "dir":
            # nodes are keyed by their real path: an existing dir there has no link on its way
            # (most rows; Filesystem.canonical would walk each new dir from the root)
            return path
        return self.fs.canonical(path) or path

    def file(self, path: str) -> Attribution:
        key = self.canonical(path)
        got = self._file_cache.get(key)
        if got is not None:
            return got
        out = Attribution()
        node = self.fs.lookup(key)
        for owner, row in self.rows(key):
            c = owner.claim(row)
            actual = actual_digest(node, c.algo) if node is not None and node.kind in ("file", "hardlink") else None
            if c.digest is None or actual is None:
                out.unverified.append(c)
            elif actual == c.digest:
                out.matches.append(c)
            else:
                out.mismatches.append(c)
        self._file_cache[key] = out
        return out

    def package_dir(self, path: str) -> DirSummary:
        real = self.fs.resolve(path) or path
        got = self._dir_cache.get(real)
        if got is not None:
            return got
        out = DirSummary()
        by_version, exclusive = out.by_version, out.exclusive
        claims = self.claims
        skip = len(real)
        for node in self.fs.walk(real):
            entry = node.entry
            path = entry.path
            if entry.kind not in ("file", "hardlink") or path.endswith(".pyc"):
                continue
            if "__pycache__" in path and any(part in _SKIP_DIRS for part in path[skip:].split("/")):
                continue
            # The walk's paths are canonical and its node is the file: Attribution.versions of
            # self.file(path), without a Claim or an Attribution per file of the tree.
            rows = claims.get(path)
            if isinstance(rows, tuple):  # nearly every file: one owner names it
                owner, row = rows
                if owner.matches(row, node):
                    by_version[owner.key] += 1
                    exclusive[owner.key] += 1
                else:
                    out.unknown += 1
                continue
            versions = {owner.key for owner, row in rows or () if owner.matches(row, node)}
            if not versions:
                out.unknown += 1
                continue
            for v in versions:
                by_version[v] += 1
            if len(versions) == 1:
                exclusive[next(iter(versions))] += 1
        self._dir_cache[real] = out
        return out

    def loaded_from(self, file: str, package_dir: str | None) -> LoadedFrom | None:
        """The owner whose recorded bytes are the ones that load (None: nobody claims them)."""
        att = self.file(file)
        layer = content_layer(self.fs, self.canonical(file))
        if att.matches:
            pick = _pick(att.matches, layer, self.package_dir(package_dir) if package_dir else None)
            return LoadedFrom(pick.owner, pick.distribution, pick.version, layer)
        # Claimed without a comparable digest (an apk sha1 outside the tree the index hashes, a
        # RECORD row without hash): the
        # claimant is the best evidence, and its version is unverified.
        if att.unverified and not att.mismatches:
            pick = _pick(att.unverified, layer, None)
            return LoadedFrom(pick.owner, pick.distribution, pick.version, layer)
        if att.mismatches:
            c = att.mismatches[0]
            return LoadedFrom("unknown", c.distribution, None, layer)
        return None


def _package_owner(pkg: OsPackage, od: Distribution | None) -> _Owner:
    if od is None:
        return _Owner(pkg.owner_id, (None, None), None)
    return _Owner(pkg.owner_id, (od.name, od.version), od.layer)


def _dist_for(dists: list[Distribution], path: str) -> Distribution | None:
    """The distribution an OS package's file belongs to: the one in the site dir holding it."""
    best: Distribution | None = None
    for d in dists:
        site = d.site_dir.rstrip("/") + "/"
        if path.startswith(site) and (best is None or len(d.site_dir) > len(best.site_dir)):
            best = d
    return best or (dists[0] if len(dists) == 1 else None)


def _pick(claims: list[Claim], layer: int | None, summary: DirSummary | None) -> Claim:
    """Several owners record these exact bytes (the same version twice): prefer the owner whose
    metadata the layer that wrote the bytes also wrote, then the one most of the package dir
    matches, then a stable order."""

    def key(c: Claim) -> tuple[int, int, str]:
        same_layer = 0 if layer is not None and c.metadata_layer == layer else 1
        weight = -(summary.by_version.get((c.distribution, c.version), 0) if summary else 0)
        return same_layer, weight, c.owner

    return sorted(claims, key=key)[0]
