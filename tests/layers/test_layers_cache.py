"""The layer-index cache and the loader: hits, misses, corrupt entries rebuilt, parallel == serial."""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.imagebuilder import Dir, File, Hardlink, ImageSpec, LayerSpec, Opaque, Symlink, Whiteout, build
from sitelens.errors import CorruptImage
from sitelens.image import Image
from sitelens.layers.cache import LayerCache
from sitelens.layers.index import INDEX_FORMAT, LayerIndex
from sitelens.layers.loader import load_indexes
from tests.helpers import image_from_built

SPEC = ImageSpec([
    LayerSpec([Dir("/etc"), File("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n"), File("/etc/x", b"x" * 3000)]),
    LayerSpec([Dir("/usr/lib/python3/dist-packages/a-1.dist-info"),
               File("/usr/lib/python3/dist-packages/a-1.dist-info/METADATA", b"Name: a\nVersion: 1\n"),
               Symlink("/usr/bin/python3", "python3.11"), Hardlink("/etc/y", "/etc/x")]),
    LayerSpec([Whiteout("/etc/x"), Opaque("/usr/lib/python3"), File("/bin/s", b"#!/bin/sh\n", 0o755)]),
    LayerSpec([File(f"/data/f{i}", bytes([i]) * i) for i in range(200)], compression="zstd"),
])


def tuples(indexes):  # type: ignore[no-untyped-def]
    return [(i.diff_id, i.tar_bytes, i.codec, [e.to_tuple() for e in i.entries]) for i in indexes]


class CountingImage:
    """Wrap an Image so every blob open is counted (proves what the cache saved)."""

    def __init__(self, image: Image) -> None:
        self.opens = 0
        inner = image._opener
        assert inner is not None

        @contextmanager
        def opener(layer):  # type: ignore[no-untyped-def]
            self.opens += 1
            with inner(layer) as f:
                yield f

        self.image = replace(image, _opener=opener)


@pytest.fixture(scope="module")
def built():  # type: ignore[no-untyped-def]
    return build(SPEC, "gzip")


def test_second_load_is_served_from_the_cache(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = CountingImage(image_from_built(built))
    cache = LayerCache(tmp_path)
    a = load_indexes(first.image, cache)
    assert first.opens == 4 and cache.misses == 4 and cache.hits == 0
    second = CountingImage(image_from_built(built))
    cache2 = LayerCache(tmp_path)
    b = load_indexes(second.image, cache2)
    assert second.opens == 0 and cache2.hits == 4
    assert tuples(a) == tuples(b)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.idx"))
    assert len(files) == 4 and all(str(f).startswith(f"layers-v{INDEX_FORMAT}/") for f in files)


def test_disabled_cache_reads_and_writes_nothing(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_indexes(image_from_built(built), LayerCache(tmp_path, enabled=False))
    assert list(tmp_path.iterdir()) == []


def _corrupt(path: Path, how: str) -> None:
    blob = path.read_bytes()
    if how == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flip-payload":
        i = len(blob) - 5
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :])
    elif how == "flip-checksum":
        path.write_bytes(blob[:10] + bytes([blob[10] ^ 0x80]) + blob[11:])
    elif how == "flip-magic":
        path.write_bytes(b"X" + blob[1:])
    elif how == "garbage":
        path.write_bytes(b"\x00" * 100)


@pytest.mark.parametrize("how", ["truncate", "empty", "flip-payload", "flip-checksum", "flip-magic", "garbage"])
def test_corrupt_entry_is_rebuilt_never_trusted(built, tmp_path: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    good = tuples(load_indexes(image_from_built(built), LayerCache(tmp_path)))
    victim = sorted(tmp_path.rglob("*.idx"))[0]
    _corrupt(victim, how)
    img = CountingImage(image_from_built(built))
    cache = LayerCache(tmp_path)
    again = load_indexes(img.image, cache)
    assert tuples(again) == good
    assert cache.rebuilt == 1 and cache.hits == 3 and img.opens == 1
    # ... and the rebuilt entry was written back and is valid.
    cache3 = LayerCache(tmp_path)
    assert tuples(load_indexes(image_from_built(built), cache3)) == good and cache3.hits == 4


def test_entry_stored_under_another_diff_id_is_rejected(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_indexes(image_from_built(built), LayerCache(tmp_path))
    files = sorted(tmp_path.rglob("*.idx"))
    # A valid entry copied to another layer's key must not be served for that layer.
    files[1].write_bytes(files[0].read_bytes())
    cache = LayerCache(tmp_path)
    again = load_indexes(image_from_built(built), cache)
    assert cache.rebuilt == 1
    assert tuples(again) == tuples(load_indexes(image_from_built(built), LayerCache(tmp_path, enabled=False)))


def test_unwritable_cache_does_not_fail_the_load(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    idx = load_indexes(image_from_built(built), LayerCache(blocker))
    assert len(idx) == 4


def test_cache_key_must_be_a_sha256_diff_id(tmp_path: Path) -> None:
    # Sources refuse such diff_ids (exit 3); the cache itself never turns one into a path and
    # never raises (a ValueError here was a traceback, issue 14).
    cache = LayerCache(tmp_path)
    for bad in ("sha256:../../etc", "md5:abcd", "sha256:", "sha256:ABCDEF", "sha256:" + "A" * 64):
        assert cache.get(bad) is None
        cache.put(LayerIndex(diff_id=bad, entries=[]))
    assert list(tmp_path.rglob("*.idx")) == []


def test_parallel_indexing_equals_serial(built) -> None:  # type: ignore[no-untyped-def]
    serial = load_indexes(image_from_built(built), LayerCache(enabled=False), workers=1)
    parallel = load_indexes(image_from_built(built), LayerCache(enabled=False), workers=4)
    assert tuples(serial) == tuples(parallel)
    assert [i.codec for i in serial] == ["gzip", "gzip", "gzip", "zstd"]


def test_repeated_layer_is_indexed_once() -> None:
    same = LayerSpec([File("/a", b"a")])
    built = build(ImageSpec([same, LayerSpec([File("/b", b"b")]), same]), "gzip")
    img = CountingImage(image_from_built(built))
    out = load_indexes(img.image, LayerCache(enabled=False), workers=2)
    assert img.opens == 2 and out[0].entries == out[2].entries


def test_progress_reports_every_layer(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, str]] = []
    load_indexes(image_from_built(built), LayerCache(tmp_path), lambda layer, s: seen.append((layer.index, s)))
    assert sorted(seen) == [(i, "indexed") for i in range(4)]
    seen.clear()
    load_indexes(image_from_built(built), LayerCache(tmp_path), lambda layer, s: seen.append((layer.index, s)))
    assert sorted(seen) == [(i, "cached") for i in range(4)]


def test_error_in_one_parallel_layer_surfaces_as_corrupt_image(built) -> None:  # type: ignore[no-untyped-def]
    image = image_from_built(built)
    blobs = {layer.index: built.layers[layer.index][0] for layer in image.layers}
    blobs[2] = blobs[2][:-30]

    @contextmanager
    def opener(layer):  # type: ignore[no-untyped-def]
        yield io.BytesIO(blobs[layer.index])

    with pytest.raises(CorruptImage):
        load_indexes(replace(image, _opener=opener), LayerCache(enabled=False), workers=2)


def test_forked_workers_equal_threads_and_serial(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fixtures.imagebuilder import write_oci_layout
    from sitelens.layers import loader
    from sitelens.sources import open_image
    from sitelens.sources.base import SourceOptions

    layout = write_oci_layout(built, tmp_path / "oci")
    with open_image(f"oci:{layout}", SourceOptions()) as image:
        assert loader._fork_safe(image)  # a local layout: the default picks forked workers
        serial = load_indexes(image, LayerCache(enabled=False), workers=1)
        threads = load_indexes(image, LayerCache(enabled=False), workers=2, processes=False)
        forked = load_indexes(image, LayerCache(enabled=False), workers=2, processes=True)
        seen: list[int] = []
        cache = LayerCache(tmp_path / "c")
        load_indexes(image, cache, lambda layer, s: seen.append(layer.index), workers=2, processes=True)
    assert tuples(serial) == tuples(threads) == tuples(forked)
    assert sorted(seen) == [0, 1, 2, 3] and len(list((tmp_path / "c").rglob("*.idx"))) == 4


def test_error_in_a_forked_worker_is_the_same_one_line_error(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from fixtures.imagebuilder import write_oci_layout
    from sitelens.sources import open_image
    from sitelens.sources.base import SourceOptions

    layout = write_oci_layout(built, tmp_path / "oci")
    blob = built.layers[1][0]
    (layout / "blobs" / "sha256" / hashlib.sha256(blob).hexdigest()).write_bytes(blob[:-40])
    with open_image(f"oci:{layout}", SourceOptions()) as image, pytest.raises(CorruptImage, match="layer 1"):
        load_indexes(image, LayerCache(enabled=False), workers=2, processes=True)


def test_in_memory_openers_stay_in_threads(built) -> None:  # type: ignore[no-untyped-def]
    from sitelens.layers import loader

    assert not loader._fork_safe(image_from_built(built))


def _fork_safe_in_child(layout: str) -> bool:
    from sitelens.layers import loader
    from sitelens.sources import open_image
    from sitelens.sources.base import SourceOptions

    with open_image(f"oci:{layout}", SourceOptions()) as image:
        return loader._fork_safe(image)


def test_workers_of_a_process_pool_index_in_threads(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The scan job runs audits in a process pool (Dask workers are daemonic): no nested pools.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from fixtures.imagebuilder import write_oci_layout

    layout = str(write_oci_layout(built, tmp_path / "oci"))
    assert _fork_safe_in_child(layout)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_fork_safe_in_child, layout).result() is False


@pytest.mark.parametrize("flip", [None, "blob", "diff_id"])
def test_digests_in_background_threads_equal_inline(built, flip: str | None) -> None:  # type: ignore[no-untyped-def]
    """The stream digests computed in threads of their own give the same index and the same
    verdicts on a blob or diff_id that does not match (and the threads end either way)."""
    import threading

    from sitelens.layers.loader import index_layer

    image = image_from_built(built)
    layer = image.layers[1]
    if flip is not None:
        field = "digest" if flip == "blob" else "diff_id"
        bad = "sha256:" + "0" * 64
        layer = replace(layer, **{field: bad})
    before = threading.active_count()
    got = []
    for background in (False, True):
        try:
            got.append(tuples([index_layer(image, layer, background)]))
        except CorruptImage as exc:
            got.append(str(exc))
    assert got[0] == got[1]
    assert isinstance(got[0], str) == (flip is not None)
    assert threading.active_count() == before


def test_decoded_entries_are_kept_per_process_until_the_file_changes(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A scan worker is handed the same decoded index for a base layer image after image; a cache
    file rewritten behind its back (another identity) is read and checked again."""
    image = image_from_built(built)
    first = load_indexes(image, LayerCache(tmp_path))
    again = LayerCache(tmp_path)
    a = load_indexes(image, again)
    b = load_indexes(image, LayerCache(tmp_path))
    assert again.hits == 4 and all(x is y for x, y in zip(a, b, strict=True))
    assert tuples(a) == tuples(first)
    entry = next((tmp_path / f"layers-v{INDEX_FORMAT}").rglob(first[0].diff_id[7:] + ".idx"))
    entry.write_bytes(entry.read_bytes()[:-7] + b"garbage")  # same size class, new content: torn
    torn = LayerCache(tmp_path)
    c = load_indexes(image, torn)
    assert torn.rebuilt == 1 and c[0] is not a[0] and tuples(c) == tuples(first)
