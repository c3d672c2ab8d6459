"""sitelens's own waste figures: every copy of a file that the final filesystem does not show.

Read from the filesystem's per-path history (``fs.history``), so directory removals (``rm -rf``
→ every file under it), opaque directories and chown/chmod copies are all seen. A *hidden copy*
is a regular file's bytes shipped by one layer and hidden by a later change of the same path; the
change that hid it says why:

========================  ==============================================================
cause                     the later change
========================  ==============================================================
``overwritten``           new content at the path (``modified``)
``reshipped``             the same content and metadata shipped again (``unchanged``)
``metadata``              the same content with another owner/mode/xattrs (``chown -R``)
``deleted``               a whiteout of the file itself (``rm file``)
``deleted-with-dir``      a whiteout of a parent directory (``rm -rf dir``)
``opaque``                an opaque directory above it (a directory replaced wholesale)
``replaced``              a directory or file of another type took the path
========================  ==============================================================

Wasted (reclaimable) bytes = Σ hidden copies: the bytes that would not be shipped if every path
were written once, in its final form, by the layer that writes it last.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..fs import ADDED, DELETED, METADATA, MODIFIED, UNCHANGED, Change, Filesystem

CAUSES = ("overwritten", "reshipped", "metadata", "deleted", "deleted-with-dir", "opaque", "replaced")
_BY_ACTION = {MODIFIED: "overwritten", UNCHANGED: "reshipped", METADATA: "metadata"}
_BY_DELETE = {"whiteout": "deleted", "parent-whiteout": "deleted-with-dir", "opaque": "opaque",
              "replaced": "replaced"}


@dataclass
class HiddenCopy:
    path: str
    bytes: int
    layer: int  # the layer that shipped the copy
    hidden_by: int  # the layer whose change hid it
    cause: str  # one of CAUSES


@dataclass
class LayerWaste:
    index: int
    diff_id: str
    created_by: str | None
    size: int  # uncompressed tar bytes
    content_bytes: int  # Σ regular-file sizes the layer ships
    files_added: int = 0
    files_modified: int = 0  # content changed
    files_metadata: int = 0  # re-shipped only to change owner/mode
    files_unchanged: int = 0  # re-shipped identical
    files_deleted: int = 0  # non-directories removed, including under removed directories
    dirs_deleted: int = 0
    hidden_from_below: int = 0  # bytes of lower copies this layer hid
    hidden_from_below_by_cause: dict[str, int] = field(default_factory=dict)
    reshipped_bytes: int = 0  # bytes this layer shipped for paths already below (any reason)
    metadata_bytes: int = 0  # of which: copies that only changed owner/mode
    hidden_above: int = 0  # bytes this layer shipped that later layers hide

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "diff_id": self.diff_id,
            "created_by": self.created_by,
            "size": self.size,
            "content_bytes": self.content_bytes,
            "files": {
                "added": self.files_added,
                "modified": self.files_modified,
                "metadata_only": self.files_metadata,
                "unchanged": self.files_unchanged,
                "deleted": self.files_deleted,
                "dirs_deleted": self.dirs_deleted,
            },
            "hidden_from_below": self.hidden_from_below,
            "hidden_from_below_by_cause": dict(sorted(self.hidden_from_below_by_cause.items())),
            "reshipped_bytes": self.reshipped_bytes,
            "metadata_bytes": self.metadata_bytes,
            "hidden_above": self.hidden_above,
        }


@dataclass
class Offender:
    """Hidden copies grouped by what hid them: one ``rm -rf dir``, one ``chown -R dir``, one
    overwritten file."""

    root: str  # the removed/opaque/chowned directory, or the file itself
    cause: str
    hidden_by: int
    bytes: int = 0
    files: int = 0
    layers: set[int] = field(default_factory=set)  # layers that shipped the hidden copies

    def to_json(self) -> dict[str, Any]:
        return {"path": self.root, "cause": self.cause, "hidden_by": self.hidden_by,
                "bytes": self.bytes, "files": self.files, "layers": sorted(self.layers)}


@dataclass
class HiddenFigures:
    copies: list[HiddenCopy]
    layers: list[LayerWaste]
    offenders: list[Offender]  # biggest first
    by_top_dir: dict[str, int]
    by_cause: dict[str, int]

    @property
    def wasted_bytes(self) -> int:
        return sum(c.bytes for c in self.copies)


def _cause(change: Change) -> str:
    if change.action == DELETED:
        return _BY_DELETE.get(change.cause or "whiteout", "deleted")
    return _BY_ACTION.get(change.action, "overwritten")


def top_dir(path: str) -> str:
    parts = path.split("/", 2)
    return "/" + parts[1] if len(parts) > 2 else "/"


class _Roots:
    """Finds the directory a grouped change started from (the ``rm -rf`` / opaque / chown root)."""

    def __init__(self, fs: Filesystem) -> None:
        self.fs = fs
        self._memo: dict[tuple[str, int, str], str] = {}  # (parent dir, layer, cause) → root

    def _change_at(self, path: str, layer: int) -> Change | None:
        for c in self.fs.history(path):
            if c.layer == layer:
                return c
        return None

    def root(self, path: str, layer: int, cause: str) -> str:
        if cause not in ("deleted-with-dir", "opaque", "metadata"):
            return path
        # The root depends only on the parent directory's story: siblings share it.
        key = (posixpath.dirname(path), layer, cause)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._root(path, layer, cause)
        return found

    def _root(self, path: str, layer: int, cause: str) -> str:
        if cause == "deleted-with-dir":
            cur = posixpath.dirname(path)
            while cur != "/":
                c = self._change_at(cur, layer)
                if c is None or c.action != DELETED or c.cause != "parent-whiteout":
                    return cur
                cur = posixpath.dirname(cur)
            return cur
        if cause == "opaque":
            cur = path
            while cur != "/":
                parent = posixpath.dirname(cur)
                c = self._change_at(parent, layer)
                if c is None or c.action != DELETED or c.cause != "opaque":
                    return parent
                cur = parent
            return cur
        if cause == "metadata":
            # the topmost ancestor the same layer also re-owned (chown -R DIR changes DIR too)
            cur = path
            best = posixpath.dirname(path)
            while cur != "/":
                parent = posixpath.dirname(cur)
                c = self._change_at(parent, layer)
                if c is None or c.action != METADATA:
                    break
                best = parent
                cur = parent
            return best
        return path


def _kept_by_link(fs: Filesystem, names: list[str] | None, layer: int) -> bool:
    for name in names or ():
        node = fs.get(name)
        if node is not None and node.layer == layer and node.kind == "hardlink":
            return True
    return False


def compute_hidden(fs: Filesystem) -> HiddenFigures:
    layers = [
        LayerWaste(li.index, li.diff_id, li.created_by, li.tar_bytes, li.content_bytes)
        for li in fs.layers
    ]
    by_index = {lw.index: lw for lw in layers}
    copies: list[HiddenCopy] = []
    roots = _Roots(fs)
    # (layer, target) → hard links that layer wrote to it: a hidden copy whose bytes a hard
    # link from the same layer still shows is not waste (the tar carries the bytes once).
    links: dict[tuple[int, str], list[str]] = defaultdict(list)
    for path, hist in fs.histories():
        for change in hist:
            if change.entry is not None and change.entry.kind == "hardlink" and change.entry.link:
                links[(change.layer, change.entry.link)].append(path)
    for path, hist in fs.histories():
        prev_kind: str | None = None
        for i, change in enumerate(hist):
            lw = by_index.get(change.layer)
            if lw is not None:
                kind = change.entry.kind if change.entry is not None else prev_kind
                if change.action == DELETED:
                    if prev_kind == "dir":
                        lw.dirs_deleted += 1
                    elif prev_kind is not None:
                        lw.files_deleted += 1
                elif kind != "dir":
                    if change.action == ADDED:
                        lw.files_added += 1
                    elif change.action == MODIFIED:
                        lw.files_modified += 1
                    elif change.action == METADATA:
                        lw.files_metadata += 1
                    elif change.action == UNCHANGED:
                        lw.files_unchanged += 1
                if change.action in (MODIFIED, METADATA, UNCHANGED) and i > 0:
                    lw.reshipped_bytes += change.shipped
                    if change.action == METADATA:
                        lw.metadata_bytes += change.shipped
            if change.entry is not None:
                prev_kind = change.entry.kind
            if change.shipped <= 0 or i + 1 >= len(hist):
                continue
            if _kept_by_link(fs, links.get((change.layer, path)), change.layer):
                continue
            nxt = hist[i + 1]
            copies.append(HiddenCopy(path, change.shipped, change.layer, nxt.layer, _cause(nxt)))
    offenders: dict[tuple[str, str, int], Offender] = {}
    by_top: dict[str, int] = defaultdict(int)
    by_cause: dict[str, int] = defaultdict(int)
    for c in copies:
        hider = by_index.get(c.hidden_by)
        if hider is not None:
            hider.hidden_from_below += c.bytes
            hider.hidden_from_below_by_cause[c.cause] = (
                hider.hidden_from_below_by_cause.get(c.cause, 0) + c.bytes
            )
        shipper = by_index.get(c.layer)
        if shipper is not None:
            shipper.hidden_above += c.bytes
        by_top[top_dir(c.path)] += c.bytes
        by_cause[c.cause] += c.bytes
        root = roots.root(c.path, c.hidden_by, c.cause)
        key = (root, c.cause, c.hidden_by)
        off = offenders.get(key)
        if off is None:
            off = offenders[key] = Offender(root, c.cause, c.hidden_by)
        off.bytes += c.bytes
        off.files += 1
        off.layers.add(c.layer)
    ranked = sorted(offenders.values(), key=lambda o: (-o.bytes, o.root, o.hidden_by))
    return HiddenFigures(
        copies=copies,
        layers=layers,
        offenders=ranked,
        by_top_dir=dict(sorted(by_top.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_cause={k: by_cause[k] for k in CAUSES if by_cause.get(k)},
    )
