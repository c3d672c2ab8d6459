"""Broken images end as one clear ImageError line (exit 3), never a traceback."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sources_helpers import sample_spec

from fixtures.imagebuilder import build, write_docker_archive, write_oci_layout
from sitelens.errors import CorruptImage, ImageError, ImageNotFound, UsageError
from sitelens.pipeline import load
from sitelens.sources import SourceOptions


def _load(ref: str) -> None:
    with load(ref, SourceOptions(), use_cache=False):
        pass


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put_blob(layout: Path, data: bytes) -> str:
    d = _sha(data)
    (layout / "blobs" / "sha256" / d[7:]).write_bytes(data)
    return d


def _rewrite_manifest(layout: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Apply ``edit`` to the layout's only manifest and re-point index.json at the result."""
    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    manifest = json.loads((layout / "blobs" / "sha256" / entry["digest"][7:]).read_bytes())
    edit(manifest)
    raw = json.dumps(manifest).encode()
    entry["digest"], entry["size"] = _put_blob(layout, raw), len(raw)
    (layout / "index.json").write_text(json.dumps(index))


@pytest.fixture()
def layout(tmp_path: Path) -> Path:
    return write_oci_layout(build(sample_spec(), "gzip"), tmp_path / "layout")


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    return write_docker_archive(build(sample_spec(), None), tmp_path / "legacy.tar")


def test_truncated_archive(legacy: Path, tmp_path: Path) -> None:
    data = legacy.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImage, match="truncated|missing|not a readable"):
        _load(f"docker-archive:{cut}")


def test_truncated_inside_a_layer_blob(layout: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    blob = layout / "blobs/sha256" / manifest["layers"][1]["digest"][7:]
    blob.write_bytes(blob.read_bytes()[:-20])
    with pytest.raises(CorruptImage):
        _load(f"oci:{layout}")


def test_missing_manifest_json(tmp_path: Path) -> None:
    out = tmp_path / "junk.tar"
    with tarfile.open(out, "w") as tar:
        ti = tarfile.TarInfo("hello.txt")
        ti.size = 5
        tar.addfile(ti, io.BytesIO(b"hello"))
    with pytest.raises(CorruptImage, match="no manifest.json"):
        _load(f"docker-archive:{out}")


def test_not_a_tar(tmp_path: Path) -> None:
    out = tmp_path / "noise.tar"
    out.write_bytes(b"this is not a tar archive at all" * 100)
    with pytest.raises(CorruptImage):
        _load(str(out))


def test_compressed_archives(legacy: Path, tmp_path: Path) -> None:
    """docker save | gzip (or zstd) output is read through a temporary plain copy."""
    import zstandard

    gz = tmp_path / "img.tar.gz"
    gz.write_bytes(gzip.compress(legacy.read_bytes()))
    zst = tmp_path / "img.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(legacy.read_bytes()))
    with load(f"docker-archive:{gz}", SourceOptions(), use_cache=False) as a, \
            load(str(zst), SourceOptions(), use_cache=False) as b:
        assert len(a.indexes) == len(b.indexes) == 3
        assert [i.diff_id for i in a.indexes] == [i.diff_id for i in b.indexes]
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(gz.read_bytes()[:-100])
    with pytest.raises(CorruptImage, match="corrupt or truncated gzip"):
        _load(f"docker-archive:{cut}")


def test_manifest_names_a_missing_blob(layout: Path) -> None:
    _rewrite_manifest(layout, lambda m: m["layers"][0].update(digest="sha256:" + "ab" * 32))
    with pytest.raises(CorruptImage, match="missing layer blob"):
        _load(f"oci:{layout}")


def test_docker_manifest_names_a_missing_layer(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "broken.tar"
    with tarfile.open(legacy) as src, tarfile.open(out, "w") as dst:
        for m in src:
            f = src.extractfile(m) if m.isfile() else None
            if m.name == "manifest.json":
                doc = json.loads(f.read())  # type: ignore[union-attr]
                doc[0]["Layers"][1] = "nowhere/layer.tar"
                data = json.dumps(doc).encode()
                m.size = len(data)
                f = io.BytesIO(data)
            dst.addfile(m, f)
    with pytest.raises(CorruptImage, match="missing layer nowhere/layer.tar"):
        _load(f"docker-archive:{out}")


def test_unknown_layer_media_type(layout: Path) -> None:
    _rewrite_manifest(layout, lambda m: m["layers"][1].update(mediaType="application/x-mystery"))
    with pytest.raises(CorruptImage, match="unsupported media type 'application/x-mystery'"):
        _load(f"oci:{layout}")


def test_unknown_manifest_media_type(layout: Path) -> None:
    _rewrite_manifest(layout, lambda m: m.update(mediaType="application/x-not-a-manifest"))
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/x-not-a-manifest"
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptImage, match="unknown manifest media type"):
        _load(f"oci:{layout}")


def test_schema1_manifest_is_refused(layout: Path) -> None:
    _rewrite_manifest(layout, lambda m: m.update(schemaVersion=1))
    with pytest.raises(ImageError, match="schema1"):
        _load(f"oci:{layout}")


def test_config_not_json(layout: Path) -> None:
    bad = _put_blob(layout, b"{this is not json")
    _rewrite_manifest(layout, lambda m: m["config"].update(digest=bad, size=17))
    with pytest.raises(CorruptImage, match="config is not valid JSON"):
        _load(f"oci:{layout}")


def test_config_digest_mismatch(layout: Path) -> None:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    cfg = layout / "blobs/sha256" / manifest["config"]["digest"][7:]
    cfg.write_bytes(cfg.read_bytes().replace(b'"app"', b'"bob"'))
    with pytest.raises(CorruptImage, match="config digest mismatch"):
        _load(f"oci:{layout}")


def test_index_not_json(layout: Path) -> None:
    (layout / "index.json").write_text("[[[")
    with pytest.raises(CorruptImage, match="index.json is not valid JSON"):
        _load(f"oci:{layout}")


def test_layer_blob_digest_mismatch(layout: Path) -> None:
    """A blob replaced by a valid layer with other content: caught by digest, not by parsing."""
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    target = layout / "blobs/sha256" / manifest["layers"][2]["digest"][7:]
    other = build(sample_spec(" other"), "gzip").layers[2][0]
    target.write_bytes(gzip.compress(gzip.decompress(other) + b"\0" * 512, mtime=0))
    with pytest.raises(CorruptImage, match="digest mismatch|does not match its diff_id"):
        _load(f"oci:{layout}")


def test_missing_files_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound):
        _load(f"docker-archive:{tmp_path}/nope.tar")
    with pytest.raises(ImageNotFound):
        _load(f"oci:{tmp_path}/nope")
    with pytest.raises(ImageNotFound):
        _load(f"dir:{tmp_path}/nope")
    with pytest.raises(UsageError):
        _load("registry:UPPER/Case::bad")
    with pytest.raises(UsageError, match="without an oci-layout"):
        _load(str(tmp_path))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from sitelens.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("case", ["truncated", "no-manifest", "missing-blob", "media-type", "config"])
def test_cli_reports_one_line_exit_3(case: str, tmp_path: Path) -> None:
    built = build(sample_spec(), "gzip")
    if case == "truncated":
        a = write_docker_archive(build(sample_spec(), None), tmp_path / "a.tar")
        data = a.read_bytes()
        a.write_bytes(data[: len(data) * 2 // 3])
        ref = f"docker-archive:{a}"
    elif case == "no-manifest":
        a = tmp_path / "a.tar"
        with tarfile.open(a, "w") as tar:
            ti = tarfile.TarInfo("x")
            tar.addfile(ti, io.BytesIO(b""))
        ref = f"docker-archive:{a}"
    else:
        lay = write_oci_layout(built, tmp_path / "layout")
        if case == "missing-blob":
            _rewrite_manifest(lay, lambda m: m["layers"][0].update(digest="sha256:" + "cd" * 32))
        elif case == "media-type":
            _rewrite_manifest(lay, lambda m: m["layers"][0].update(mediaType="text/plain"))
        else:
            bad = _put_blob(lay, b"not json")
            _rewrite_manifest(lay, lambda m: m["config"].update(digest=bad, size=8))
        ref = f"oci:{lay}"
    res = _cli("ls", ref, "/", "--no-cache")
    assert res.returncode == 3, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sitelens: "), res.stderr
    assert res.stdout == ""


# ---- issue 14: the JSON boundary --------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}"])
def test_documents_nested_too_deeply_are_corrupt(raw: bytes) -> None:
    from sitelens.image import load_document

    with pytest.raises(CorruptImage, match="nested"):
        load_document(raw, "img", "index.json")


@pytest.mark.parametrize(("field", "value"), [
    ("Env", 5), ("Env", [1]), ("User", 1000), ("User", ["root"]), ("WorkingDir", 7),
    ("Cmd", {"a": 1}), ("Entrypoint", [None]),
])
def test_config_field_of_the_wrong_type_is_corrupt(field: str, value: object) -> None:
    from sitelens.image import config_from_json

    with pytest.raises(CorruptImage, match=f"config.{field} must be"):
        config_from_json({"config": {field: value}}, "img")


def test_config_history_of_the_wrong_type_is_corrupt() -> None:
    from sitelens.image import layers_from_config

    doc = {"rootfs": {"diff_ids": ["sha256:" + "a" * 64]}, "history": [{"created_by": 1.5}]}
    with pytest.raises(CorruptImage, match=r"history\[0\].created_by must be a string"):
        layers_from_config(doc, [(None, "", None)], "img")
    doc["rootfs"]["diff_ids"] = ["sha256:" + "A" * 64]  # upper case is no cache key
    doc["history"] = []
    with pytest.raises(CorruptImage, match="malformed diff_id"):
        layers_from_config(doc, [(None, "", None)], "img")
