"""The demo image taken apart, so a case can change one part and lay the image out again.

Every hostile case starts from ``fixtures/demo/jinja2-demo.tar`` (a real Docker 25+ ``docker
save``): its config as a dict, its layers as (blob, tar, codec). A case edits a part, then
:func:`write` recomputes every digest the edit invalidates, so the input reaches the parser under
test instead of being stopped at the first digest check (unless the case wants that).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fixtures.imagebuilder import Built, ImageSpec, Spec, layer_tar, write_docker_archive, write_oci_layout

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "jinja2-demo.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Parts:
    config: dict[str, Any]
    layers: list[tuple[bytes, bytes, str]]  # (blob, uncompressed tar, codec)
    raw_config: bytes | None = None  # set to send bytes that are not json.dumps(config)

    def add_layer(self, entries: list[Spec], raw_names: bool = False) -> Parts:
        tar = layer_tar(entries, raw_names=raw_names)
        return self.add_tar(tar)

    def add_tar(self, tar: bytes, blob: bytes | None = None, codec: str = "gzip") -> Parts:
        blob = blob if blob is not None else gzip.compress(tar, compresslevel=1, mtime=0)
        self.layers.append((blob, tar, codec))
        self.config["rootfs"]["diff_ids"].append(sha(tar))
        self.config.setdefault("history", []).append({"created_by": "hostile"})
        return self

    def built(self) -> Built:
        raw = self.raw_config if self.raw_config is not None else json.dumps(self.config).encode()
        return Built(raw, self.layers, ImageSpec(layers=[]))


@lru_cache(maxsize=1)
def _demo() -> Parts:
    with tarfile.open(DEMO) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    entry = json.loads(files["manifest.json"])[0]
    config = json.loads(files[entry["Config"]])
    layers = []
    for name in entry["Layers"]:
        blob = files[name]
        layers.append((blob, gzip.decompress(blob), "gzip"))
    return Parts(config, layers)


def demo() -> Parts:
    """A fresh, editable copy of the demo image."""
    return copy.deepcopy(_demo())


def write(parts: Parts, out: Path, layout: str) -> Path:
    """Lay ``parts`` out as ``docker`` (Docker 25+ archive), ``legacy`` (docker save, plain
    layers), ``oci`` (a layout dir) or ``oci-archive``; returns the path to hand the CLI."""
    built = parts.built()
    if layout == "docker":
        return write_docker_archive(built, out, layout="oci")
    if layout == "legacy":
        return write_docker_archive(built, out, layout="legacy")
    if layout == "oci":
        return write_oci_layout(built, out)
    raise ValueError(layout)


def tar_of(files: list[tuple[str, bytes]]) -> bytes:
    """A plain tar of (name, bytes), names verbatim, no parent entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def archive_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth
