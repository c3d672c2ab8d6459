"""dive-compatible waste figures, computed the way dive 0.13 computes them.

This is a model of dive's ``filetree.Efficiency`` and ``image.Analyze`` over the layer indexes,
kept faithful on purpose (including the faults documented in docs/waste.md), so a team can move
its ``.dive-ci`` thresholds to sitelens unchanged. In dive's terms:

- every layer is a tree of its own tar members, in tar order, the root member (``./``) skipped;
  a member's parent directories that the tar does not declare are created with an empty payload
  (size 0, *not* a directory);
  ``.wh..wh.*`` names (opaque markers) are dropped; a ``.wh.NAME`` member is a node named so;
- each layer's *leaves* are visited depth-first, children before parents, siblings by name;
  a leaf's path drops a ``.wh.`` prefix from its own name;
- a whiteout leaf is an occurrence of size 0, unless the path is a *declared* directory in the
  stack of the layers below, then it weighs the sum of that subtree (so ``rm -rf dir`` adds the
  same bytes above and below the line: never flagged). When the path is not in the stack below,
  dive stops visiting the rest of that layer and the path keeps a minimum of -1;
- per path: cumulative = Σ occurrences, min = the smallest; efficiency = Σmin / Σcumulative
  (1 when Σcumulative is 0); inefficient bytes = Σcumulative over paths seen at least twice (the
  kept copy too, dive#684); user wasted percent = inefficient / Σsize(layers[1:]);
- a layer's size is the sum of its tar members' header sizes.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..layers.index import LayerIndex

WHITEOUT_PREFIX = ".wh."
DOUBLE_WHITEOUT_PREFIX = ".wh..wh.."
_DOUBLE_COMPONENT = "/" + DOUBLE_WHITEOUT_PREFIX  # a path component starting with it


# Leaves share this empty mapping and get a dict of their own on the first child (``own``): a
# dict per leaf was 8 MB at 150 k paths. Never written to: every insertion goes through own().
_LEAF: dict[str, _Node] = {}


class _Node:
    __slots__ = ("name", "parent", "children", "size", "is_dir")

    def __init__(self, name: str, parent: _Node | None, size: int = 0, is_dir: bool = False) -> None:
        self.name = name
        self.parent = parent
        self.children: dict[str, _Node] = _LEAF
        self.size = size
        self.is_dir = is_dir

    def own(self) -> dict[str, _Node]:
        """The children, writable."""
        if self.children is _LEAF:
            self.children = {}
        return self.children

    def copy(self, parent: _Node | None) -> _Node:
        """A deep copy, iteratively: a hostile tar's paths may nest deeper than the stack."""
        new = _Node(self.name, parent, self.size, self.is_dir)
        todo = [(self, new)]
        while todo:
            src, dst = todo.pop()
            for name, child in src.children.items():
                twin = dst.own()[name] = _Node(name, dst, child.size, child.is_dir)
                if child.children:
                    todo.append((child, twin))
        return new


def _names(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


class _Tree:
    def __init__(self) -> None:
        self.root = _Node("", None)

    def add_path(self, path: str, size: int, is_dir: bool) -> None:
        """dive's AddPath: create what is missing with an empty payload, then set the payload
        of the last node (its children kept); a missing ``.wh..wh.*`` name ends the walk."""
        names = _names(path)
        node = self.root
        for i, name in enumerate(names):
            child = node.children.get(name)
            if child is None:
                if name.startswith(DOUBLE_WHITEOUT_PREFIX):
                    return
                child = _Node(name, node)
                node.own()[name] = child
            node = child
            if i == len(names) - 1:
                node.size, node.is_dir = size, is_dir

    def get(self, path: str) -> _Node | None:
        node = self.root
        for name in _names(path):
            nxt = node.children.get(name)
            if nxt is None:
                return None
            node = nxt
        return node

    def leaves(self) -> Iterator[tuple[_Node, str]]:
        """Every leaf with dive's path for it (a leaf's ``.wh.`` prefix dropped), in dive's
        visiting order: depth first, children before parents, siblings sorted by name."""
        stack: list[tuple[_Node, str]] = [(self.root, "")]
        while stack:
            node, path = stack.pop()
            if not node.children:
                if node.parent is not None:
                    name = node.name
                    if name.startswith(WHITEOUT_PREFIX):
                        name = name[len(WHITEOUT_PREFIX):]
                    yield node, (path + "/" + name).replace("//", "/")
                continue
            prefix = path + "/" + node.name if node.parent is not None else ""
            for name in sorted(node.children, reverse=True):
                stack.append((node.children[name], prefix))

    def stack(self, upper: _Tree) -> None:
        """dive's Stack: apply ``upper`` node by node, children before parents, siblings by
        name (whiteouts remove the path they name, the rest add it with their payload). Done as
        a walk of both trees side by side instead of dive's path lookups: same result."""
        _merge(upper.root, self.root)

    def copy(self) -> _Tree:
        new = _Tree()
        new.root = self.root.copy(None)
        return new


def _merge(upper: _Node, lower: _Node) -> None:
    """Apply ``upper`` onto ``lower``; siblings in name order (``.wh.x`` before ``x``)."""
    todo = [(upper, lower, iter(sorted(upper.children)))]
    while todo:
        up, low, names = todo[-1]
        name = next(names, None)
        if name is None:
            todo.pop()
            continue
        child = up.children[name]
        whiteout = name.startswith(WHITEOUT_PREFIX)
        if child.children or not whiteout:
            target = low.children.get(name)
            if target is None:
                target = low.own()[name] = _Node(name, low)
            if not whiteout:
                target.size, target.is_dir = child.size, child.is_dir
            if child.children:
                todo.append((child, target, iter(sorted(child.children))))
        if whiteout:
            low.children.pop(name[len(WHITEOUT_PREFIX):], None)


def layer_tree(index: LayerIndex) -> tuple[_Tree, int]:
    """A layer's tree as dive builds it, and the layer's size (Σ member header sizes)."""
    tree = _Tree()
    known: dict[str, _Node] = {"/": tree.root}  # paths already in this layer's tree
    size = 0

    def put(path: str, size: int, is_dir: bool) -> None:
        parent_path, _, name = path.rpartition("/")
        parent = known.get(parent_path or "/")
        if parent is None or name.startswith(DOUBLE_WHITEOUT_PREFIX):
            tree.add_path(path, size, is_dir)  # the general walk (creates parents)
            node = tree.get(path)
            if node is not None:
                known[path] = node
            return
        node = parent.children.get(name)
        if node is None:
            node = parent.own()[name] = _Node(name, parent)
        node.size, node.is_dir = size, is_dir
        known[path] = node

    for e in index.entries:
        size += e.size
        if e.path == "/":
            # dive cleans a member name first and skips "." (the "./" root member that
            # debootstrap, `tar -C root .` and `docker import` tarballs start with); a node for it
            # would put the whole layer one level down, where later whiteouts do not find it.
            continue
        if e.kind == "whiteout":
            parent, _, base = e.path.rpartition("/")
            put(f"{parent}/{WHITEOUT_PREFIX}{base}", e.size, False)
        elif e.kind == "opaque":
            # dive stops at the marker's name: only the missing parents are created
            put(e.path.rstrip("/") + "/" + DOUBLE_WHITEOUT_PREFIX + ".opq", 0, False)
        else:
            put(e.path, e.size, e.kind == "dir")
    return tree, size


@dataclass
class FileReference:
    path: str
    count: int
    size_bytes: int  # cumulative over every occurrence, as dive reports it

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "count": self.count, "size_bytes": self.size_bytes}


@dataclass
class DiveFigures:
    efficiency: float
    inefficient_bytes: int
    size_bytes: int
    user_size_bytes: int
    layer_sizes: list[int]
    file_references: list[FileReference]  # paths seen ≥ 2 times, biggest first
    notes: list[str] = field(default_factory=list)

    @property
    def user_wasted_percent(self) -> float | None:
        """inefficient / user bytes; None when the image has no bytes above layer 0 (dive then
        divides by zero: NaN when nothing is wasted, +Inf otherwise)."""
        if self.user_size_bytes == 0:
            return None
        return self.inefficient_bytes / self.user_size_bytes

    def user_wasted_exceeds(self, threshold: float) -> bool:
        """dive's highestUserWastedPercent rule, including its division by zero."""
        pct = self.user_wasted_percent
        if pct is None:
            return self.inefficient_bytes > 0  # +Inf > threshold; NaN > threshold is false
        return pct > threshold

    def to_json(self, limit: int = 100) -> dict[str, Any]:
        return {
            "efficiency_score": self.efficiency,
            "inefficient_bytes": self.inefficient_bytes,
            "user_wasted_percent": self.user_wasted_percent,
            "size_bytes": self.size_bytes,
            "user_size_bytes": self.user_size_bytes,
            "layer_sizes": list(self.layer_sizes),
            "file_reference": [r.to_json() for r in self.file_references[:limit]],
            "file_reference_total": len(self.file_references),
            "notes": list(self.notes),
        }


def _subtree_size(node: _Node) -> int:
    total = 0
    stack = [node]
    while stack:
        n = stack.pop()
        total += n.size
        stack.extend(n.children.values())
    return total


class _LayerView:
    """What the dive model needs of one layer: its size and its leaves (dive's path and payload
    size each), and whether a leaf is a whiteout. Without one, the order dive visits the leaves
    in changes nothing (it only matters where a whiteout stops the visit) and neither the
    layer's tree nor the stack below is needed: the leaves come from the member paths alone,
    as plain strings and ints (no node objects: a tree per layer was most of the model's time
    and, through the garbage collector, more). A layer with a whiteout leaf builds its tree
    (:func:`layer_tree`) and is visited exactly as dive does."""

    __slots__ = ("index", "size", "paths", "sizes", "whiteouts", "_tree")

    def __init__(self, index: LayerIndex) -> None:
        self.index = index
        self.size = 0
        self.paths: list[str] = []
        self.sizes = array("q")
        self.whiteouts = False
        self._tree: _Tree | None = None
        self._read()

    def _read(self) -> None:
        # The nodes of the layer's tree by path (root excluded) with their payload size, and the
        # paths that have a child; a leaf is a node that has none. The rules are layer_tree's:
        # a member sets its node's payload (the last member of a path wins), missing parents are
        # created with an empty one, and a ``.wh..wh.*`` component ends the path before it.
        payload: dict[str, int] = {}
        parents: set[str] = set()
        size = 0
        for e in self.index.entries:
            size += e.size
            path = e.path
            if path == "/":
                continue  # the "./" root member: see layer_tree
            kind = e.kind
            if kind == "whiteout":
                parent, _, base = path.rpartition("/")
                path = f"{parent}/{WHITEOUT_PREFIX}{base}"
            elif kind == "opaque":
                path = path.rstrip("/") + "/" + DOUBLE_WHITEOUT_PREFIX + ".opq"
            cut = path.find(_DOUBLE_COMPONENT)
            if cut >= 0:
                path = path[:cut]  # its parents are created; no payload is set
                if not path or path in payload:
                    continue
                payload[path] = 0
            else:
                payload[path] = e.size
            child = path
            while True:
                i = child.rfind("/")
                if i <= 0:
                    break  # the root
                child = child[:i]
                if child in parents:
                    break  # its ancestors are in already
                parents.add(child)
                payload.setdefault(child, 0)
        self.size = size
        for path, leaf_size in payload.items():
            if path in parents:
                continue
            i = path.rfind("/")
            if path.startswith(WHITEOUT_PREFIX, i + 1):
                self.whiteouts = True
                break
            self.paths.append(path)
            self.sizes.append(leaf_size)
        if self.whiteouts:
            self.paths, self.sizes = [], array("q")  # visited through the tree instead

    def tree(self) -> _Tree:
        if self._tree is None:
            self._tree = layer_tree(self.index)[0]
        return self._tree


# A layer's view, kept for the layer index objects this process still holds (the layer cache
# hands a scan worker the same object for a base layer image after image): building it again
# was a quarter of the dive model's time per image. Nothing mutates a view's tree: stacking
# copies into the tree below.
# A view is kept from the second time its layer is seen on: a single audit (each layer once)
# keeps none, so its peak RSS does not carry every layer's leaves (or tree).
_VIEWS: OrderedDict[str, _LayerView] = OrderedDict()
_SEEN: set[str] = set()
VIEWS_KEPT = 32
VIEWS_ENTRIES = 200_000


def _layer_view(index: LayerIndex) -> _LayerView:
    kept = _VIEWS.get(index.diff_id)
    if kept is not None and kept.index is index:
        _VIEWS.move_to_end(index.diff_id)
        return kept
    view = _LayerView(index)
    if index.diff_id not in _SEEN:
        if len(_SEEN) < 65536:
            _SEEN.add(index.diff_id)
    elif len(index.entries) <= VIEWS_ENTRIES // 4:  # one huge layer is not kept: memory stays bounded
        _VIEWS[index.diff_id] = view
        held = sum(len(v.index.entries) for v in _VIEWS.values())
        while len(_VIEWS) > VIEWS_KEPT or held > VIEWS_ENTRIES:
            dropped = _VIEWS.popitem(last=False)[1]
            held -= len(dropped.index.entries)
    return view


def dive_figures(indexes: Sequence[LayerIndex]) -> DiveFigures:
    sizes: list[int] = []
    # Per path: its slot in three flat arrays (cumulative bytes, minimum, times seen). Three
    # dicts of int objects cost ~25 MB at 150 k paths; this ~9 MB (the 8× benchmark's peak).
    slot: dict[str, int] = {}
    cumulative = array("q")
    minimum = array("q")
    count = array("q")
    notes: list[str] = []
    # dive stacks layers [0, i-1] on top of a copy of layer 0 for every whiteout of layer i.
    # The same stack is built here when a layer first has a whiteout leaf, and kept from there
    # (layer 0 is thus applied twice, as in dive); layers [0, stacked) are on it.
    below: _Tree | None = None
    stacked = 0
    views = [_layer_view(idx) for idx in indexes]
    for i, view in enumerate(views):
        sizes.append(view.size)
        if not view.whiteouts:
            for path, size in zip(view.paths, view.sizes, strict=True):
                k = slot.get(path)
                if k is None:
                    slot[path] = len(cumulative)
                    cumulative.append(size)
                    minimum.append(size)
                    count.append(1)
                    continue
                cumulative[k] += size
                if minimum[k] < 0 or size < minimum[k]:
                    minimum[k] = size
                count[k] += 1
            continue
        if below is None:
            below = views[0].tree().copy()
        while stacked < i:
            below.stack(views[stacked].tree())
            stacked += 1
        for node, path in views[i].tree().leaves():  # dive visits leaves only
            k = slot.get(path)
            if k is None:
                k = slot[path] = len(cumulative)
                cumulative.append(0)
                minimum.append(-1)
                count.append(0)
            if node.name.startswith(WHITEOUT_PREFIX):
                prev = below.get(path)
                if prev is None:
                    notes.append(
                        f"layer {i}: whiteout of {path}, which the layers below do not have: dive "
                        "stops reading the rest of this layer (its later paths are not counted)"
                    )
                    break
                size = _subtree_size(prev) if prev.is_dir else 0
            else:
                size = node.size
            cumulative[k] += size
            if minimum[k] < 0 or size < minimum[k]:
                minimum[k] = size
            count[k] += 1
    total_cum = sum(cumulative)
    total_min = sum(minimum)
    efficiency = 1.0 if total_cum == 0 else total_min / total_cum
    refs = [FileReference(p, count[k], cumulative[k]) for p, k in slot.items() if count[k] >= 2]
    refs.sort(key=lambda r: (-r.size_bytes, r.path))
    return DiveFigures(
        efficiency=efficiency,
        inefficient_bytes=sum(r.size_bytes for r in refs),
        size_bytes=sum(sizes),
        user_size_bytes=sum(sizes[1:]),
        layer_sizes=sizes,
        file_references=refs,
        notes=notes,
    )
