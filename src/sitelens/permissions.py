"""The permission engine: may an identity read, write, execute, traverse or list a path?

It answers from the merged filesystem alone, the way the kernel would decide for a process with
that uid, gid and supplementary groups (and no capabilities unless uid 0):

- every directory searched while resolving the path needs ``x`` (including the directories a
  symlink's target is looked up in; symlinks are followed inside the image, never out of it);
- the class is owner if uid == st_uid, else group if the gid or a supplementary group is st_gid,
  else other, and **only that class's bits** apply (a ``12345:0`` file mode ``0070`` is denied to
  uid 12345 even with gid 0);
- a POSIX access ACL (PAX ``SCHILY.acl.access`` text, or the binary
  ``system.posix_acl_access`` xattr) replaces that rule by the POSIX.1e algorithm;
- root (uid 0) bypasses read/write/search, but executing a file needs at least one ``x`` bit.

Each answer is an :class:`Access` naming the first path component that denies, with its mode and
owner, so findings can say exactly what to change.
"""

from __future__ import annotations

import posixpath
import stat
import struct
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .fs import PathMissing

if TYPE_CHECKING:
    from .fs import Filesystem, Node
    from .layers.index import Entry

R, W, X = 4, 2, 1
OPS = ("read", "write", "execute", "traverse", "list")
CAPABILITY_XATTR = "security.capability"
ACL_XATTR = "system.posix_acl_access"


# ---- ACLs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AclEntry:
    tag: str  # user_obj | user | group_obj | group | mask | other
    qualifier: int | None  # uid / gid for named entries
    perms: int  # rwx as 4|2|1


def _perm_bits(text: str) -> int:
    bits = 0
    for ch, bit in (("r", R), ("w", W), ("x", X)):
        if ch in text:
            bits |= bit
    return bits


def parse_acl_text(
    text: str, users: dict[str, int] | None = None, groups: dict[str, int] | None = None
) -> list[AclEntry]:
    """The POSIX ACL text form (``user::rwx,user:1001:r-x,group::r-x,mask::r-x,other::---``).

    star/bsdtar write named entries as ``user:NAME:PERMS:ID``; the trailing id wins, a bare name
    is looked up in the image's users/groups. Entries that cannot be understood are dropped.
    """
    out: list[AclEntry] = []
    for raw in text.replace("\n", ",").split(","):
        item = raw.split("#", 1)[0].strip()
        if not item:
            continue
        f = item.split(":")
        if len(f) < 3:
            continue
        tag, qual, perms = f[0].strip(), f[1].strip(), f[2].strip()
        ident = f[3].strip() if len(f) > 3 else ""
        kind = {"u": "user", "user": "user", "g": "group", "group": "group",
                "m": "mask", "mask": "mask", "o": "other", "other": "other"}.get(tag)
        if kind is None:
            continue
        if kind in ("mask", "other"):
            out.append(AclEntry(kind, None, _perm_bits(perms)))
            continue
        if not qual:
            out.append(AclEntry(kind + "_obj", None, _perm_bits(perms)))
            continue
        q: int | None = None
        if ident.isdigit():
            q = int(ident)
        elif qual.isdigit():
            q = int(qual)
        else:
            table = users if kind == "user" else groups
            q = table.get(qual) if table else None
        if q is not None:
            out.append(AclEntry(kind, q, _perm_bits(perms)))
    return out


_ACL_TAGS = {0x01: "user_obj", 0x02: "user", 0x04: "group_obj", 0x08: "group",
             0x10: "mask", 0x20: "other"}


def parse_acl_xattr(blob: bytes) -> list[AclEntry]:
    """The kernel's ``system.posix_acl_access`` value: u32 version 2, then (u16 tag, u16 perm,
    u32 id) little-endian records."""
    if len(blob) < 4 or struct.unpack_from("<I", blob)[0] != 2:
        return []
    out: list[AclEntry] = []
    for off in range(4, len(blob) - 7, 8):
        tag, perm, ident = struct.unpack_from("<HHI", blob, off)
        name = _ACL_TAGS.get(tag)
        if name is None:
            continue
        out.append(AclEntry(name, ident if name in ("user", "group") else None, perm & 7))
    return out


def may_have_acl(entry: Entry) -> bool:
    """Whether the entry carries ACL text or the ACL xattr at all: nearly none does, and the
    answer lets the hot paths skip :func:`acl_of` and its cache."""
    return bool(entry.acl) or bool(entry.xattrs and ACL_XATTR in entry.xattrs)


def acl_of(entry: Entry) -> list[AclEntry] | None:
    """The access ACL an entry carries, or None (mode bits alone decide)."""
    acl: list[AclEntry] = []
    if entry.acl:
        acl = parse_acl_text(entry.acl)
    elif entry.xattrs and ACL_XATTR in entry.xattrs:
        acl = parse_acl_xattr(entry.xattrs[ACL_XATTR])
    # A minimal ACL (only the three base entries) says nothing the mode does not.
    if any(a.tag in ("user", "group", "mask") for a in acl):
        return acl
    return None


def _acl_grants(acl: list[AclEntry], entry: Entry, cred: Cred, want: int) -> tuple[bool, str]:
    """POSIX.1e access check; returns (granted, which entry decided)."""
    mask = next((a.perms for a in acl if a.tag == "mask"), 7)
    if cred.uid == entry.uid:
        obj = next((a.perms for a in acl if a.tag == "user_obj"), (entry.mode >> 6) & 7)
        return (obj & want) == want, "acl user::"
    for a in acl:
        if a.tag == "user" and a.qualifier == cred.uid:
            return (a.perms & mask & want) == want, f"acl user:{a.qualifier}"
    matched = False
    for a in acl:
        hit = (a.tag == "group_obj" and entry.gid in cred.all_groups) or (
            a.tag == "group" and a.qualifier in cred.all_groups
        )
        if hit:
            matched = True
            if (a.perms & mask & want) == want:
                label = "acl group::" if a.tag == "group_obj" else f"acl group:{a.qualifier}"
                return True, label
    if matched:
        return False, "acl group entries"
    other = next((a.perms for a in acl if a.tag == "other"), entry.mode & 7)
    return (other & want) == want, "acl other::"


# ---- credentials and answers -------------------------------------------------------------------


class Who(Protocol):
    """Whoever a check asks about: an inventory identity, named, with its credentials."""

    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...
    @property
    def groups(self) -> Iterable[int]: ...


@dataclass(frozen=True)
class Cred:
    """The credentials a process runs with: uid, primary gid, supplementary groups."""

    uid: int
    gid: int
    groups: frozenset[int] = frozenset()
    # gid ∪ groups, computed once: the group-class test runs for every path component
    all_groups: frozenset[int] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_groups", self.groups | {self.gid})

    @classmethod
    def of(cls, who: Who | Cred) -> Cred:
        if isinstance(who, Cred):
            return who
        return cls(who.uid, who.gid, frozenset(who.groups))

    @property
    def is_root(self) -> bool:
        return self.uid == 0


ROOT = Cred(0, 0, frozenset({0}))


def klass(entry: Entry, cred: Cred) -> str:
    if cred.uid == entry.uid:
        return "owner"
    if entry.gid in cred.all_groups:
        return "group"
    return "other"


def class_bits(entry: Entry, cred: Cred) -> int:
    shift = {"owner": 6, "group": 3, "other": 0}[klass(entry, cred)]
    return (entry.mode >> shift) & 7


def _bits(want: int) -> str:
    return "".join(c if want & b else "" for c, b in (("r", R), ("w", W), ("x", X)))


@dataclass
class Denial:
    """The component that refuses, and why."""

    path: str
    need: str  # the bits needed: "x", "r", "rx", "wx", ...
    mode: int
    uid: int
    gid: int
    klass: str  # owner | group | other | root | acl ...
    kind: str = "dir"

    @property
    def mode_str(self) -> str:
        return oct(self.mode)[2:].rjust(4, "0")

    @property
    def owner(self) -> str:
        return f"{self.uid}:{self.gid}"

    def describe(self) -> str:
        what = "search (x)" if self.need == "x" and self.kind == "dir" else self.need
        return (
            f"{self.path} ({self.kind} mode {self.mode_str}, owner {self.owner}) denies "
            f"{what} to the {self.klass} class"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path, "need": self.need, "mode": self.mode_str, "owner": self.owner,
            "class": self.klass, "kind": self.kind,
        }


@dataclass
class Access:
    """One answer: may ``identity`` do ``op`` on ``path``?"""

    op: str
    path: str  # as asked
    identity: str
    allowed: bool
    real: str | None = None  # the path after following symlinks (None: missing)
    exists: bool = True
    denied_by: Denial | None = None
    missing: str | None = None  # first component that does not exist / is not a directory
    acls: list[str] = field(default_factory=list)  # paths whose ACL decided a step
    capabilities: bool = False  # the target carries security.capability (file caps)

    def __bool__(self) -> bool:
        return self.allowed

    def reason(self) -> str:
        if self.allowed:
            return f"{self.identity} may {self.op} {self.path}"
        if self.denied_by is not None:
            return self.denied_by.describe()
        if self.missing is not None:
            return f"{self.missing} does not exist or is not a directory"
        return f"{self.path} cannot be resolved"

    def evidence(self) -> dict[str, object]:
        ev: dict[str, object] = {"op": self.op, "path": self.path, "allowed": self.allowed}
        if self.real and self.real != self.path:
            ev["resolved"] = self.real
        if self.denied_by is not None:
            ev["denied_by"] = self.denied_by.to_json()
        if self.missing is not None:
            ev["missing"] = self.missing
        if self.acls:
            ev["acls"] = list(self.acls)
        if self.capabilities:
            ev["file_capabilities"] = True
        return ev


class _Refused(Exception):
    def __init__(self, denial: Denial | None = None, missing: str | None = None) -> None:
        self.denial = denial
        self.missing = missing


# ---- the engine ------------------------------------------------------------------------------


class Permissions:
    """Answers access questions on one filesystem; memoizes directory searches per credential."""

    def __init__(self, fs: Filesystem) -> None:
        self.fs = fs
        self._search: dict[tuple[Cred, str], Denial | None] = {}
        self._acl_cache: dict[int, list[AclEntry] | None] = {}

    # -- bit checks

    def _acl(self, entry: Entry) -> list[AclEntry] | None:
        key = id(entry)
        if key not in self._acl_cache:
            self._acl_cache[key] = acl_of(entry)
        return self._acl_cache[key]

    def allows(
        self, node: Node, cred: Cred, want: int, acls: list[str] | None = None
    ) -> Denial | None:
        """None if ``cred`` has all of ``want`` on ``node`` (no path walk), else the denial."""
        e = node.entry
        kind = e.kind
        if cred.uid == 0:
            # CAP_DAC_OVERRIDE: everything but executing a non-directory without any x bit.
            if want & X and kind != "dir" and not (e.mode & 0o111):
                return Denial(node.path, _bits(want), e.mode, e.uid, e.gid, "root", kind)
            return None
        # may_have_acl, inlined: the import-path walks ask this for every file
        acl = self._acl(e) if e.acl or (e.xattrs and ACL_XATTR in e.xattrs) else None
        if acl is not None:
            ok, label = _acl_grants(acl, e, cred, want)
            if acls is not None:
                acls.append(node.path)
            if ok:
                return None
            return Denial(node.path, _bits(want), e.mode, e.uid, e.gid, label, kind)
        # class_bits, inlined likewise
        if cred.uid == e.uid:
            bits = e.mode >> 6
        elif e.gid in cred.all_groups:
            bits = e.mode >> 3
        else:
            bits = e.mode
        if (bits & want) == want:
            return None
        return Denial(node.path, _bits(want), e.mode, e.uid, e.gid, klass(e, cred), kind)

    def _searchable(self, path: str, cred: Cred, acls: list[str]) -> None:
        key = (cred, path)
        if key in self._search:
            d = self._search[key]
        else:
            node = self.fs.get(path)
            d = None if node is None else self.allows(node, cred, X, acls)
            self._search[key] = d
        if d is not None:
            raise _Refused(d)

    # -- path walk

    def walk(self, path: str, cred: Cred, follow_last: bool = True,
             acls: list[str] | None = None) -> str:
        """Resolve ``path`` as the kernel would for ``cred``: the filesystem's own walk, with
        search permission checked on every directory it looks a name up in (those reached
        through symlinks included). Raises _Refused on the first directory that may not be
        searched or the first missing component."""
        seen_acls = acls if acls is not None else []
        if cred.is_root:
            search = None  # CAP_DAC_OVERRIDE: every directory may be searched
        else:
            def search(d: str) -> None:
                self._searchable(d, cred, seen_acls)
        try:
            return self.fs.walk_path(path, follow_last, search)
        except PathMissing as m:
            raise _Refused(missing=m.missing) from None

    # -- questions

    def check(self, identity: Who | Cred, path: str, op: str) -> Access:
        """``op`` is one of read, write, execute, traverse, list (see module docs):

        - read: the file's content (or a directory's names: r on it);
        - write: a file's content, or creating/removing names in a directory (w+x);
        - execute: a file as a program (x; r as well for a ``#!`` script);
        - traverse: reach a directory and search it (x);
        - list: reach a directory and list and search it (r+x).
        """
        if op not in OPS:
            raise ValueError(f"unknown operation {op!r}")
        cred = Cred.of(identity)
        acls: list[str] = []
        access = Access(op, path, _name(identity), False, acls=acls)
        try:
            real = self.walk(path, cred, True, acls)
        except _Refused as r:
            access.denied_by = r.denial
            access.missing = r.missing
            access.exists = r.missing is None and self.fs.resolve(path) is not None
            access.real = self.fs.resolve(path)
            return access
        access.real = real
        node = self.fs.get(real)
        if node is None:  # pragma: no cover - walk returned a path that exists
            access.exists = False
            return access
        e = node.entry
        access.capabilities = bool(e.xattrs and CAPABILITY_XATTR in e.xattrs)
        is_dir = e.kind == "dir"
        want = {
            "read": R,
            "write": W | X if is_dir else W,
            "execute": X,
            "traverse": X,
            "list": R | X,
        }[op]
        if op == "execute" and not is_dir and e.head is not None and e.head.startswith(b"#!"):
            want |= R  # the kernel hands a script to its interpreter, which must read it
        if op in ("traverse", "list") and not is_dir:
            access.denied_by = Denial(real, _bits(want), e.mode, e.uid, e.gid, "not a directory",
                                      e.kind)
            return access
        if op == "execute" and is_dir:
            access.denied_by = Denial(real, "x", e.mode, e.uid, e.gid, "a directory", "dir")
            return access
        access.denied_by = self.allows(node, cred, want, acls)
        access.allowed = access.denied_by is None
        return access

    def read(self, identity: Who | Cred, path: str) -> Access:
        return self.check(identity, path, "read")

    def write(self, identity: Who | Cred, path: str) -> Access:
        return self.check(identity, path, "write")

    def execute(self, identity: Who | Cred, path: str) -> Access:
        return self.check(identity, path, "execute")

    def traverse(self, identity: Who | Cred, path: str) -> Access:
        return self.check(identity, path, "traverse")

    def list(self, identity: Who | Cred, path: str) -> Access:
        return self.check(identity, path, "list")

    def stat(self, identity: Who | Cred, path: str) -> Access:
        """Whether ``os.stat(path)`` succeeds (every directory searched; nothing on the target):
        what ``os.path.isdir``/``exists`` need, e.g. for site dirs and the user site."""
        cred = Cred.of(identity)
        acls: list[str] = []
        access = Access("stat", path, _name(identity), False, acls=acls)
        try:
            access.real = self.walk(path, cred, True, acls)
        except _Refused as r:
            access.denied_by, access.missing = r.denial, r.missing
            access.real = self.fs.resolve(path)
            access.exists = access.real is not None
            return access
        access.allowed = True
        return access

    def create(self, identity: Who | Cred, path: str) -> Access:
        """Whether ``identity`` can create ``path`` (or replace it): w+x on its directory."""
        return self.check(identity, posixpath.dirname(path.rstrip("/")) or "/", "write")


def _name(who: Who | Cred) -> str:
    return f"uid {who.uid}" if isinstance(who, Cred) else who.name


_ENGINES: weakref.WeakKeyDictionary[Filesystem, Permissions] = weakref.WeakKeyDictionary()


def engine(fs: Filesystem) -> Permissions:
    """The one permission engine of a filesystem (its memo of searchable dirs is shared by the
    inventory's import-path model and every check)."""
    eng = _ENGINES.get(fs)
    if eng is None:
        eng = _ENGINES[fs] = Permissions(fs)
    return eng


def is_setid(entry: Entry) -> bool:
    return entry.kind in ("file", "hardlink") and bool(entry.mode & (stat.S_ISUID | stat.S_ISGID))


def mode_str(mode: int) -> str:
    return oct(mode & 0o7777)[2:].rjust(4, "0")
