"""The merged filesystem of an image, with the history of every path across layers.

Layers are applied in order with OCI whiteout semantics: within one layer, whiteouts and opaque
markers act on the *lower* state first, then the layer's own entries are applied (so a layer can
delete a directory and recreate it). Every path keeps a list of :class:`Change` records: which
layer added it, changed its content, changed only its metadata, re-shipped it unchanged, or
deleted it. Symlinks are resolved as if the image root were ``/`` (chroot semantics): absolute
targets are re-rooted and ``..`` stops at the root, so nothing can point outside the image.
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import CorruptImage
from .layers.index import Entry, LayerIndex

ADDED = "added"
MODIFIED = "modified"  # content (or type / link target) changed
METADATA = "metadata"  # same content, mode/uid/gid/xattrs changed (chmod -R, chown -R)
UNCHANGED = "unchanged"  # re-shipped identical
DELETED = "deleted"

MAX_SYMLINK_HOPS = 40
OPAQUE_MARKER = ".wh..wh..opq"


class PathMissing(LookupError):
    """A path walk stopped: ``missing`` is the first component that does not exist, is not a
    directory where one is needed, or ends a symlink loop."""

    def __init__(self, missing: str) -> None:
        super().__init__(missing)
        self.missing = missing


@dataclass(slots=True)
class Change:
    layer: int
    action: str
    shipped: int  # bytes this layer's tar carried for the path (0 for dirs, links, deletions)
    entry: Entry | None  # the entry the layer wrote (None for deletions)
    cause: str | None = None  # for deletions: whiteout, opaque, parent-whiteout, replaced


@dataclass(slots=True)
class Node:
    """The visible state of a path: its entry and the layer that last wrote it."""

    entry: Entry
    layer: int
    implicit: bool = False  # a parent directory no tar entry declared

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def mode(self) -> int:
        return self.entry.mode

    @property
    def uid(self) -> int:
        return self.entry.uid

    @property
    def gid(self) -> int:
        return self.entry.gid

    @property
    def size(self) -> int:
        return self.entry.size

    @property
    def st_mode(self) -> int:
        fmt = {
            "file": stat.S_IFREG, "hardlink": stat.S_IFREG, "dir": stat.S_IFDIR,
            "symlink": stat.S_IFLNK, "char": stat.S_IFCHR, "block": stat.S_IFBLK,
            "fifo": stat.S_IFIFO,
        }[self.entry.kind]
        return fmt | self.entry.mode


def _as_change(hist: Node | Change) -> Change:
    """A history's one change: a Node stands for its layer adding its entry."""
    if type(hist) is Change:
        return hist
    assert isinstance(hist, Node)
    e = hist.entry
    return Change(hist.layer, ADDED, e.size if e.kind == "file" else 0, e)


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a normalised absolute path; posixpath.split is 3x slower here."""
    i = path.rfind("/")
    return (path[:i] or "/"), path[i + 1 :]


def _same_meta(a: Entry, b: Entry) -> bool:
    return a.mode == b.mode and a.uid == b.uid and a.gid == b.gid and a.xattrs == b.xattrs


def _same_content(a: Entry, b: Entry) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind in ("file", "hardlink"):
        return a.sha256 == b.sha256 and a.size == b.size
    if a.kind == "symlink":
        return a.link == b.link
    return True


@dataclass
class LayerInfo:
    index: int
    diff_id: str
    created_by: str | None
    tar_bytes: int
    content_bytes: int
    entries: int


class Filesystem:
    def __init__(self) -> None:
        root = Entry(path="/", kind="dir", mode=0o755)
        self._nodes: dict[str, Node] = {"/": Node(root, -1, implicit=True)}
        # A directory's children by their full paths: the same string objects as the keys of
        # _nodes (a set of base names held a second string per path, 16 MB at 270 k paths).
        self._children: dict[str, set[str]] = {"/": set()}
        # A path's changes. Nearly every path is added by one layer and never touched again: its
        # history is then the Node that layer made (never mutated, so it says exactly what the
        # ADDED change would: 72 bytes less per path), else one Change, else a list of them.
        self._history: dict[str, Node | Change | list[Change]] = {}
        self.layers: list[LayerInfo] = []
        self.warnings: list[str] = []
        self._dirs: dict[str, str | None] = {}  # memo of canonical(): parent dir -> resolved
        self._listings: dict[str, tuple[Node, ...]] = {}  # memo of children()

    # ---- building ---------------------------------------------------------------------------

    @classmethod
    def from_indexes(
        cls, indexes: Iterable[LayerIndex], created_by: Iterable[str | None] | None = None
    ) -> Filesystem:
        fs = cls()
        cb = list(created_by) if created_by is not None else None
        for i, idx in enumerate(indexes):
            fs.apply(idx, i, cb[i] if cb and i < len(cb) else None)
        return fs

    def _record(self, path: str, change: Change) -> None:
        hist = self._history.get(path)
        if hist is None:
            self._history[path] = change
        elif isinstance(hist, list):
            hist.append(change)
        else:
            self._history[path] = [_as_change(hist), change]

    def _added(self, path: str, node: Node) -> None:
        """``node`` is new at ``path``, added by its layer."""
        if path in self._history:  # deleted by a lower layer: its history goes on
            self._record(path, _as_change(node))
        else:
            self._history[path] = node

    def _remove_tree(self, path: str, layer: int, cause: str) -> None:
        if path not in self._nodes:
            return
        # An explicit stack, not recursion: a layer decides how deep a tree goes.
        stack = [(path, cause)]
        while stack:
            cur, why = stack.pop()
            if self._nodes.pop(cur, None) is None:
                continue
            self._record(cur, Change(layer, DELETED, 0, None, why))
            kids = self._children.pop(cur, None)
            if kids:
                # rm -rf (a whiteout) reaches children as "parent-whiteout"; opaque and replaced
                # keep their own cause so a reader can tell the three stories apart.
                sub = why if why in ("opaque", "replaced") else "parent-whiteout"
                stack.extend((kid, sub) for kid in kids)
        parent = _split(path)[0]
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.discard(path)

    def _ensure_parent(self, path: str, layer: int) -> None:
        # Walk up to the nearest existing directory, then create the missing ones top-down.
        missing: list[str] = []
        cur = _split(path)[0]
        while True:
            node = self._nodes.get(cur)
            if node is not None and node.entry.kind == "dir":
                break
            if node is not None:
                # A file or link stands where a directory must be: the tar replaced it implicitly.
                self._remove_tree(cur, layer, "replaced")
            missing.append(cur)
            if cur == "/":
                break
            cur = _split(cur)[0]
        for parent in reversed(missing):
            entry = Entry(path=parent, kind="dir", mode=0o755)
            node = self._nodes[parent] = Node(entry, layer, implicit=True)
            self._children[parent] = set()
            if parent != "/":
                self._children[_split(parent)[0]].add(parent)
            self._added(parent, node)

    def apply(self, index: LayerIndex, layer: int, created_by: str | None = None) -> None:
        self._dirs.clear()
        self._listings.clear()
        self.layers.append(
            LayerInfo(
                index=layer, diff_id=index.diff_id, created_by=created_by,
                tar_bytes=index.tar_bytes, content_bytes=index.content_bytes,
                entries=len(index.entries),
            )
        )
        for w in index.warnings:
            self.warnings.append(f"layer {layer}: {w}")
        # Phase 1: whiteouts and opaque markers act on the lower layers only.
        for e in index.entries:
            if e.kind == "opaque":
                real = self._reroot(e.path.rstrip("/") + "/" + OPAQUE_MARKER)
                target = posixpath.dirname(real)
                kids = self._children.get(target)
                if kids:
                    for kid in list(kids):
                        self._remove_tree(kid, layer, "opaque")
            elif e.kind == "whiteout":
                if e.path == "/":
                    raise CorruptImage(f"layer {layer}: a whiteout names the root directory")
                self._remove_tree(self._reroot(e.path), layer, "whiteout")
        # Phase 2: the layer's own entries. Most are new paths under an existing directory:
        # that case is inlined (a path has a _children set exactly when its node is a dir).
        nodes, children, history = self._nodes, self._children, self._history
        for e in index.entries:
            kind = e.kind
            if kind == "opaque" or kind == "whiteout":
                continue
            path = e.path
            if kind != "hardlink" and path not in nodes:
                i = path.rfind("/")
                kids = children.get(path[:i] or "/")
                if kids is not None:
                    node = nodes[path] = Node(e, layer)
                    kids.add(path)
                    if kind == "dir":
                        children[path] = set()
                    if path in history:
                        self._record(path, _as_change(node))  # deleted by a lower layer before
                    else:
                        history[path] = node
                    continue
            self._put(e, layer)

    def _reroot(self, path: str) -> str:
        """Where an extractor puts ``path``: its parent directories are looked up following
        symlinks inside the root, like containerd's ``RootPath`` and umoci's securejoin (a layer
        that ships ``lib/x`` over ``/lib -> usr/lib`` writes ``/usr/lib/x``; over a dangling link
        the link's target dirs are created). The last component is never followed. A regular
        file in the chain or a link loop keeps the literal path (the file is then replaced)."""
        parent, base = _split(path)
        node = self._nodes.get(parent)
        if path == "/" or (node is not None and node.entry.kind == "dir"):
            # Fast path: every node's ancestors are directories, so nothing to resolve.
            return path
        try:
            real = self.walk_path(parent, follow_last=True, missing_ok=True)
        except PathMissing:
            return path
        found = self._nodes.get(real)
        if found is not None and found.entry.kind != "dir":
            return path
        return ("" if real == "/" else real) + "/" + base

    def _put(self, e: Entry, layer: int) -> None:
        path = e.path
        parent = _split(path)[0]
        pnode = self._nodes.get(parent)
        if pnode is None or pnode.entry.kind != "dir":
            real = self._reroot(path)
            if real != path:
                e = e.replace(path=real)
                path = real
                parent = _split(path)[0]
        if e.kind == "hardlink":
            link = e.link or ""
            target = self._nodes.get(link)
            if target is None:
                resolved = self.resolve(link, follow_last=False)
                target = self._nodes.get(resolved) if resolved else None
            if target is None or target.entry.kind not in ("file", "hardlink"):
                self.warnings.append(f"layer {layer}: hard link {path} -> {e.link} has no regular target")
                return
            t = target.entry
            # A hard link is a second name for the target's inode: content *and* mode/owner are
            # the target's (extractors call link(2), which ignores the link header's mode).
            e = e.replace(
                size=t.size, sha256=t.sha256, md5=t.md5, sha1=t.sha1, data=t.data, head=t.head,
                truncated=t.truncated, mode=t.mode, uid=t.uid, gid=t.gid, xattrs=t.xattrs, pyinit=t.pyinit,
                mtime=t.mtime,
            )
            shipped = 0
        else:
            shipped = e.size if e.kind == "file" else 0
        if path == "/":
            root = self._nodes["/"]
            if e.kind == "dir":
                action = UNCHANGED if _same_meta(root.entry, e) and not root.implicit else METADATA
                self._nodes["/"] = Node(e, layer)
                self._record("/", Change(layer, action, 0, e))
            return
        old_node = self._nodes.get(path)
        if old_node is None:
            kids = self._children.get(parent)
            if kids is None or self._nodes[parent].entry.kind != "dir":
                self._ensure_parent(path, layer)
                kids = self._children[parent]
            node = self._nodes[path] = Node(e, layer)
            kids.add(path)
            if e.kind == "dir":
                self._children.setdefault(path, set())
            self._added(path, node)  # shipped: the entry's size for a file, else 0, as _as_change says
            return
        old = old_node.entry
        if old.kind == "dir" and e.kind == "dir":
            if old_node.implicit or not _same_meta(old, e):
                self._nodes[path] = Node(e, layer)
                self._record(path, Change(layer, METADATA if not old_node.implicit else ADDED, 0, e))
            else:
                # Re-declared unchanged parent dirs are in nearly every layer: no history noise.
                self._nodes[path] = Node(e, old_node.layer)
            return
        if old.kind == "dir" and e.kind != "dir":
            self._remove_tree(path, layer, "replaced")
            self._ensure_parent(path, layer)
            self._nodes[path] = Node(e, layer)
            self._children[parent].add(path)
            self._record(path, Change(layer, MODIFIED, shipped, e))
            return
        same_meta = _same_meta(old, e)
        action = (UNCHANGED if same_meta else METADATA) if _same_content(old, e) else MODIFIED
        if e.kind == "dir":
            self._children.setdefault(path, set())
        self._nodes[path] = Node(e, layer)
        self._record(path, Change(layer, action, shipped, e))

    # ---- reading ----------------------------------------------------------------------------

    def get(self, path: str) -> Node | None:
        """The node at exactly this path, symlinks not followed (path must be normalised)."""
        return self._nodes.get(path)

    def exists(self, path: str) -> bool:
        return self.resolve(path) is not None

    def listdir(self, path: str, follow: bool = True) -> list[str]:
        real = self.resolve(path) if follow else path
        if real is None:
            return []
        cut = 1 if real == "/" else len(real) + 1
        # one parent, so the full paths sort as their names do
        return [kid[cut:] for kid in sorted(self._children.get(real, ()))]

    def children(self, path: str) -> tuple[Node, ...]:
        """The nodes directly in ``path`` (a canonical path, not followed), in name order, as
        ``listdir(path, follow=False)`` names them. Memoised: the permission checks walk the same
        import dirs once per identity and environment, and sorting was most of a walk."""
        got = self._listings.get(path)
        if got is None:
            kids = self._children.get(path)
            if kids:
                nodes = self._nodes
                got = tuple([n for k in sorted(kids) if (n := nodes.get(k)) is not None])
            else:
                got = ()
            self._listings[path] = got
        return got

    def history(self, path: str) -> list[Change]:
        hist = self._history.get(path)
        if hist is None:
            return []
        return hist if isinstance(hist, list) else [_as_change(hist)]

    def histories(self) -> Iterator[tuple[str, list[Change]]]:
        for path, hist in self._history.items():
            yield path, hist if isinstance(hist, list) else [_as_change(hist)]

    def nodes(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def paths(self) -> Iterator[str]:
        return iter(self._nodes.keys())

    def walk(self, top: str = "/") -> Iterator[Node]:
        """Every node under ``top`` (inclusive), parents before children, no link following."""
        start = self._nodes.get(top)
        if start is None:
            return
        stack = [start]
        while stack:
            node = stack.pop()
            yield node
            if node.entry.kind == "dir":
                stack.extend(reversed(self.children(node.entry.path)))

    def resolve(self, path: str, follow_last: bool = True) -> str | None:
        """Canonical path inside the image, following symlinks as a chroot would.

        Returns None when a component is missing, a non-directory is traversed, or links loop.
        """
        try:
            return self.walk_path(path, follow_last)
        except PathMissing:
            return None

    def walk_path(
        self,
        path: str,
        follow_last: bool = True,
        search: Callable[[str], None] | None = None,
        missing_ok: bool = False,
    ) -> str:
        """Resolve ``path`` component by component, as the kernel's path walk does.

        ``search(dir)`` is called before each name is looked up in ``dir`` (``..`` included, and
        the directories a symlink's target is looked up in): the permission engine raises from it
        to refuse a step, so the walk that finds a file and the walk that judges access are one.
        Raises :class:`PathMissing` naming the first component that does not exist, is not a
        directory where one is needed, or ends a symlink loop; with ``missing_ok`` a missing
        component is taken literally (an extractor creates it). Iterative: an image controls the
        depth of its paths and links, and must not control our stack.
        """
        nodes = self._nodes
        # Components still to walk, last first; a followed link pushes its target's components.
        pending = [p for p in reversed(path.split("/")) if p and p != "."]
        cur = "/"
        hops = 0
        while pending:
            part = pending.pop()
            if search is not None:
                search(cur)
            if part == "..":
                cur = _split(cur)[0] if cur != "/" else "/"
                continue
            nxt = ("" if cur == "/" else cur) + "/" + part
            node = nodes.get(nxt)
            if node is None:
                if not missing_ok:
                    raise PathMissing(nxt)
                cur = nxt
                continue
            kind = node.entry.kind
            if kind == "symlink" and (pending or follow_last):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise PathMissing(nxt)
                target = node.entry.link or ""
                if target.startswith("/"):
                    cur = "/"
                pending.extend(p for p in reversed(target.split("/")) if p and p != ".")
                continue
            if pending and kind != "dir":
                raise PathMissing(nxt)
            cur = nxt
        return cur

    def lookup(self, path: str, follow: bool = True) -> Node | None:
        # A key of _nodes is a canonical path (every ancestor a real directory), so a hit that
        # needs no link following is the answer resolve would give.
        node = self._nodes.get(path)
        real = path
        if node is None and path[:1] == "/":
            # Most misses are aliases through a parent link (usr-merge /bin/x, a venv's lib64):
            # the memoised parent gives the canonical path; a node there that is not itself a
            # link to follow is what the full walk would find. Anything else takes the walk.
            i = path.rfind("/")
            name = path[i + 1:]
            if name and name != "." and name != "..":
                found = self.canonical(path)
                if found is None:
                    return None  # the walk stops in the parent too
                real = found
                node = self._nodes.get(real)
                if node is None:
                    return None  # the parent is where the walk gets to; the name is not there
        if node is not None:
            if not follow or node.entry.kind != "symlink":
                return node
            # A link to a sibling (libz.so.1 -> libz.so.1.2.13, what package databases list by
            # the thousand): in a canonical dir its target is the sibling, unless that is a link
            # again or missing, which the walk decides (as for "." and "..": no key ends so).
            target = node.entry.link or ""
            if target and "/" not in target:
                sibling = self._nodes.get(real[: real.rfind("/") + 1] + target)
                if sibling is not None and sibling.entry.kind != "symlink":
                    return sibling
        resolved = self.resolve(path, follow_last=follow)
        return self._nodes.get(resolved) if resolved is not None else None

    def canonical(self, path: str) -> str | None:
        """A normalised absolute path with its parent's symlinks resolved and the last component
        not followed (usr-merge: ``/bin/x`` is ``/usr/bin/x``); the file need not exist. None
        when the parent directory does not. Package databases and RECORDs name tens of
        thousands of files in a few hundred directories: the parents are resolved once."""
        if path == "/":
            return path
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        try:
            real = self._dirs[parent]
        except KeyError:
            real = self.resolve(parent)
            # the memo holds the nodes' own path strings where there are nodes: a new string
            # per key and per answer was 8 MB over a RECORD-heavy image's 32 k directories
            nodes = self._nodes
            if real is not None and (found := nodes.get(real)) is not None:
                real = found.entry.path
            if (known := nodes.get(parent)) is not None:
                parent = known.entry.path
            self._dirs[parent] = real
        if real is None:
            return None
        return real + name if real == "/" else real + "/" + name

    def read_bytes(self, path: str, follow: bool = True) -> bytes | None:
        """Captured content of a regular file (see layers/capture.py), else None."""
        node = self.lookup(path, follow)
        if node is None or node.entry.kind not in ("file", "hardlink"):
            return None
        return node.entry.data

    def read_text(self, path: str, follow: bool = True) -> str | None:
        data = self.read_bytes(path, follow)
        return data.decode("utf-8", "replace") if data is not None else None
