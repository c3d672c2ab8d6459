"""Digests checked after indexing (layers/verify.py): a local blob is indexed without its stored
digest, which is then taken from the file beside the analysis. What must hold: the same indexes
as the inline check, a corrupt or altered blob still refused with exit 3 before anything is
reported, nothing cached for a blob that failed, and a file changed between the two reads refused."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from fixtures.imagebuilder import Built, Dir, File, ImageSpec, LayerSpec, build, write_docker_archive, write_oci_layout
from sitelens.errors import CorruptImage
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from sitelens.layers.verify import DeferredDigests
from sitelens.sources import open_image
from sitelens.sources.base import SourceOptions
from tests.layers.test_layers_badinput import assert_nothing_written_outside_cache, run_cli

SPEC = ImageSpec([
    LayerSpec([Dir("/etc"), File("/etc/os-release", b"ID=debian\n"), File("/etc/a", b"a" * 40_000)]),
    LayerSpec([Dir("/srv"), File("/srv/b", b"b" * 70_000), File("/srv/c", b"c" * 300)]),
    LayerSpec([Dir("/app"), File("/app/main.py", b"print('hi')\n")]),
])


def _tuples(indexes):  # type: ignore[no-untyped-def]
    return [(i.diff_id, i.tar_bytes, i.codec, [e.to_tuple() for e in i.entries]) for i in indexes]


def _cached(cache_dir: Path) -> set[str]:
    return {"sha256:" + p.stem for p in cache_dir.rglob("*.idx")}


def _flip_in_archive(archive: Path, needle: bytes) -> None:
    """Change one byte of a file's content inside a layer of the archive: the layer tar still
    parses, only its digest tells."""
    data = bytearray(archive.read_bytes())
    at = data.index(needle) + 7
    data[at] ^= 0x01
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("processes", [True, False])
def test_deferred_gives_the_inline_indexes_and_caches_after_the_check(tmp_path: Path, processes: bool) -> None:
    built = build(SPEC, None)
    archive = write_docker_archive(built, tmp_path / "img.tar")
    with open_image(f"docker-archive:{archive}", SourceOptions()) as image:
        inline = load_indexes(image, LayerCache(tmp_path / "inline"), processes=processes)
        cache = LayerCache(tmp_path / "deferred")
        deferred = DeferredDigests()
        later = load_indexes(image, cache, processes=processes, deferred=deferred)
        # every plain layer waits for its check, and none is cached before it
        assert [u.layer.index for u in sorted(deferred.pending, key=lambda u: u.layer.index)] == [0, 1, 2]
        assert _cached(tmp_path / "deferred") == set()
        deferred.start(image, cache)
        deferred.wait()
        cache.release_all()
    assert _tuples(later) == _tuples(inline)
    assert _cached(tmp_path / "deferred") == {layer.diff_id for layer in image.layers}


def test_altered_archive_layer_refused_and_not_cached(tmp_path: Path) -> None:
    archive = write_docker_archive(build(SPEC, None), tmp_path / "img.tar")
    _flip_in_archive(archive, b"b" * 1000)  # inside /srv/b, layer 1
    with open_image(f"docker-archive:{archive}", SourceOptions()) as image:
        cache = LayerCache(tmp_path / "c")
        deferred = DeferredDigests()
        load_indexes(image, cache, deferred=deferred)  # parses fine: only the digest can tell
        deferred.start(image, cache)
        with pytest.raises(CorruptImage, match="layer 1 .*does not match its diff_id"):
            deferred.wait()
        cache.release_all()
        # layers are checked in the order they finished indexing; the bad one is never cached
        assert image.layers[1].diff_id not in _cached(tmp_path / "c")


def test_blob_rewritten_between_index_and_check_is_refused(tmp_path: Path) -> None:
    """Same bytes written back: the content is right, but the file is no longer the one indexed
    (its ctime moved), so the check cannot vouch for what the index read."""
    layout = write_oci_layout(build(SPEC, "gzip"), tmp_path / "oci")
    with open_image(f"oci:{layout}", SourceOptions()) as image:
        cache = LayerCache(tmp_path / "c")
        deferred = DeferredDigests()
        load_indexes(image, cache, deferred=deferred, processes=False)
        blob = layout / "blobs" / "sha256" / image.layers[2].digest[7:]
        blob.write_bytes(blob.read_bytes())
        deferred.start(image, cache)
        with pytest.raises(CorruptImage, match="layer 2 .*changed while it was audited"):
            deferred.wait()
        cache.release_all()


def _regzipped(built: Built, i: int) -> Built:
    """Layer ``i`` compressed again with another gzip header time: the same tar (diff_id), a
    different blob. The manifest keeps the old blob digest, so only the blob digest can tell."""
    layers = list(built.layers)
    blob, tar, codec = layers[i]
    layers[i] = (gzip.compress(tar, 6, mtime=12345), tar, codec)
    return Built(built.config, layers, built.spec)


def test_gzip_blob_digest_is_checked_later(tmp_path: Path) -> None:
    built = build(SPEC, "gzip")
    layout = write_oci_layout(built, tmp_path / "oci")
    other = _regzipped(built, 1).layers[1][0]
    (layout / "blobs" / "sha256" / hashlib.sha256(built.layers[1][0]).hexdigest()).write_bytes(other)
    with open_image(f"oci:{layout}", SourceOptions()) as image:
        cache = LayerCache(tmp_path / "c")
        deferred = DeferredDigests()
        load_indexes(image, cache, deferred=deferred)
        deferred.start(image, cache)
        with pytest.raises(CorruptImage, match="layer 1 .*blob digest mismatch"):
            deferred.wait()
        cache.release_all()


def test_cli_audit_refuses_altered_archive_before_reporting(tmp_path: Path) -> None:
    archive = write_docker_archive(build(SPEC, None), tmp_path / "img.tar")
    _flip_in_archive(archive, b"b" * 1000)
    diff_ids = json.loads(build(SPEC, None).config)["rootfs"]["diff_ids"]
    out = tmp_path / "report.json"
    r = run_cli(["audit", "-f", "json", "-o", str(out), f"docker-archive:{archive}"], tmp_path)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not match its diff_id" in lines[0], r.stderr
    assert not out.exists() and r.stdout == ""
    cached = _cached(tmp_path / "xdg")
    assert diff_ids[1] not in cached
    assert_nothing_written_outside_cache(tmp_path)
