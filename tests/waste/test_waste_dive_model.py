"""The dive model's shortcut: a layer without a whiteout leaf is read from its member paths, not
from a tree of its own and the stack below. It must give what the tree walk gives, leaf for leaf
and figure for figure; the tree walk itself is held to the real dive in test_waste_dive.py."""

from __future__ import annotations

import random
from array import array

from sitelens.layers.index import Entry, LayerIndex
from sitelens.waste import dive
from sitelens.waste.dive import WHITEOUT_PREFIX, _LayerView, _subtree_size, _Tree, dive_figures, layer_tree

# names that sort around each other ("a-b" < "a.b" < "a/…"), whiteout-like names, dive's
# opaque-marker prefix as a whole component and inside one
NAMES = ["a", "b", "a-b", "a.b", "-x", "x", "A", "_", ".wh..wh..opq", ".wh..wh..z", ".wh..wh.z", ".wh.a"]


def _layer(rng: random.Random, n: int, whiteouts: float) -> LayerIndex:
    entries = [Entry("/", "dir")] if rng.random() < 0.2 else []
    for _ in range(n):
        path = "/" + "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 4)))
        kind = rng.choices(["file", "dir", "whiteout", "opaque", "symlink"], [5, 3, whiteouts, 1, 1])[0]
        entries.append(Entry(path, kind, size=rng.choice([0, 1, 7, 100]) if kind != "dir" else 0))
    return LayerIndex(f"sha256:{rng.random()}", entries)


def _by_tree(indexes: list[LayerIndex]) -> tuple[list[int], dict[str, tuple[int, int, int]], list[str]]:
    """dive's algorithm as the tree model states it: every layer's leaves in dive's order,
    whiteouts weighed against the stack of the layers below (on a copy of layer 0)."""
    sizes, seen, notes = [], {}, []
    below = _Tree()
    for i, idx in enumerate(indexes):
        tree, size = layer_tree(idx)
        sizes.append(size)
        if i == 0:
            below = tree.copy()
        for node, path in tree.leaves():
            cum, low, count = seen.setdefault(path, (0, -1, 0))
            if node.name.startswith(WHITEOUT_PREFIX):
                prev = below.get(path)
                if prev is None:
                    notes.append(path)
                    break
                weight = _subtree_size(prev) if prev.is_dir else 0
            else:
                weight = node.size
            seen[path] = (cum + weight, weight if low < 0 or weight < low else low, count + 1)
        below.stack(tree)
    return sizes, seen, notes


def test_a_layer_view_has_the_tree_leaves() -> None:
    rng = random.Random(20261202)
    for _ in range(3000):
        idx = _layer(rng, rng.randint(0, 30), rng.choice([0, 0.05, 1]))
        view = _LayerView(idx)
        tree, size = layer_tree(idx)
        leaves = [(path, node.size, node.name.startswith(WHITEOUT_PREFIX)) for node, path in tree.leaves()]
        assert view.size == size
        assert view.whiteouts == any(w for _, _, w in leaves)
        if not view.whiteouts:
            assert sorted(zip(view.paths, view.sizes, strict=True)) == sorted((p, s) for p, s, _ in leaves)
        else:
            assert view.paths == [] and view.sizes == array("q")


def test_dive_figures_equal_the_tree_walk() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        indexes = [_layer(rng, rng.randint(0, 25), rng.choice([0, 0.1, 2])) for _ in range(rng.randint(1, 5))]
        sizes, seen, notes = _by_tree(indexes)
        figures = dive_figures(indexes)
        assert figures.layer_sizes == sizes
        assert len(figures.notes) == len(notes)
        assert all(path in note for path, note in zip(notes, figures.notes, strict=True))
        refs = sorted((p, c, cum) for p, (cum, _, c) in seen.items() if c >= 2)
        assert sorted((r.path, r.count, r.size_bytes) for r in figures.file_references) == refs
        total_cum = sum(cum for cum, _, _ in seen.values())
        total_min = sum(low for _, low, _ in seen.values())
        assert figures.efficiency == (1.0 if total_cum == 0 else total_min / total_cum)


def test_a_kept_layer_view_gives_the_same_figures_again() -> None:
    # a scan worker sees a base layer image after image: from the second time it is kept
    rng = random.Random(3)
    pool = [_layer(rng, 20, 0.5) for _ in range(6)]
    dive._VIEWS.clear()
    dive._SEEN.clear()
    for _ in range(300):
        indexes = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
        sizes, seen, _ = _by_tree(indexes)
        figures = dive_figures(indexes)
        assert figures.layer_sizes == sizes
        assert sorted((r.path, r.count, r.size_bytes) for r in figures.file_references) == sorted(
            (p, c, cum) for p, (cum, _, c) in seen.items() if c >= 2
        )
    assert dive._VIEWS  # the kept views were used
