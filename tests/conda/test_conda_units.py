"""conda-meta parser edge cases and the INSTALLER text, on small hand-written inputs (the real
records are checked in test_conda_inventory.py)."""

from __future__ import annotations

import hashlib
import json

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec
from sitelens.inventory.conda import conda_prefixes, history_specs, parse_prefix_record, read_conda_dbs
from sitelens.inventory.distributions import DirScanner
from sitelens.inventory.model import Distribution
from sitelens.layers.capture import capture_limit
from tests.helpers import fs_from_spec

SHA = hashlib.sha256(b"x").hexdigest()


def _record(**extra: object) -> bytes:
    return json.dumps({"name": "six", "version": "1.16.0", "build": "pyh_0", "channel": "conda-forge",
                       "subdir": "noarch", **extra}).encode()


def test_digest_is_the_installed_bytes() -> None:
    paths = {"paths_version": 1, "paths": [
        {"_path": "a.py", "path_type": "hardlink", "sha256": SHA, "size_in_bytes": 1},
        {"_path": "b.py", "path_type": "hardlink", "sha256": SHA, "sha256_in_prefix": "00" * 32,
         "prefix_placeholder": "/opt/build", "file_mode": "text"},
        # an old record: a placeholder file without sha256_in_prefix has no comparable digest
        {"_path": "c.py", "path_type": "hardlink", "sha256": SHA, "prefix_placeholder": "/opt/build"},
        {"_path": "bin/six", "path_type": "softlink", "sha256_in_prefix": SHA},
        {"_path": "share", "path_type": "directory"},
        {"path_type": "hardlink"},
    ]}
    warnings: list[str] = []
    pkg = parse_prefix_record(_record(paths_data=paths), "/env", "/env/conda-meta/six.json", warnings)
    assert pkg is not None and not warnings
    files = {f.path: f for f in pkg.files}
    assert files["/env/a.py"].digest == bytes.fromhex(SHA) and files["/env/a.py"].size == 1
    assert files["/env/b.py"].digest == bytes(32) and files["/env/b.py"].size is None
    assert files["/env/c.py"].digest is None
    assert files["/env/bin/six"].digest is None and files["/env/share"].is_dir
    assert len(files) == 5
    assert pkg.owner_id == "conda:/env/conda-meta/six.json"
    assert (pkg.build, pkg.channel, pkg.arch) == ("pyh_0", "conda-forge", "noarch")


def test_old_records_and_bad_input() -> None:
    warnings: list[str] = []
    pkg = parse_prefix_record(_record(files=["lib/x.py"], requested_spec="six"), "/env", "r.json", warnings)
    assert pkg is not None and [f.path for f in pkg.files] == ["/env/lib/x.py"] and pkg.requested == "six"
    assert parse_prefix_record(b"{not json", "/env", "bad.json", warnings) is None
    assert parse_prefix_record(b"[1]", "/env", "list.json", warnings) is None
    assert parse_prefix_record(b'{"name": "x"}', "/env", "nover.json", warnings) is None
    assert parse_prefix_record(b"[" * 100_000, "/env", "deep.json", warnings) is None
    assert [w.split(":")[0] for w in warnings] == ["bad.json", "list.json", "nover.json", "deep.json"]


def test_history_specs() -> None:
    text = ("==> 2024-01-01 00:00:00 <==\n# cmd: conda install numpy\n# conda version: 23.1.0\n"
            "+conda-forge::numpy-1.26.4-py311h_0\n# update specs: ['conda-forge::numpy[version=\\'>=1.26\\']', "
            "'python=3.11']\n")
    assert history_specs(text) == {"numpy", "python"}


def test_prefixes_anywhere_and_capture() -> None:
    rec = _record(paths_data={"paths": [{"_path": "x.py", "path_type": "hardlink", "sha256": SHA}]})
    spec = ImageSpec([LayerSpec([
        Dir("/app/.pixi/envs/default/conda-meta"),
        File("/app/.pixi/envs/default/conda-meta/six-1.16.0-pyh_0.json", rec),
        File("/app/.pixi/envs/default/conda-meta/history", b"# update specs: [\"six\"]\n"),
        File("/app/.pixi/envs/default/conda-meta/pinned", b"six 1.16\n"),
        Dir("/srv/not-a-prefix"), File("/srv/not-a-prefix/conda-meta.json", b"{}"),
    ])])
    fs = fs_from_spec(spec)
    assert conda_prefixes(fs) == ["/app/.pixi/envs/default"]
    (db,) = read_conda_dbs(fs)
    assert db.path == "/app/.pixi/envs/default/conda-meta" and [p.name for p in db.packages] == ["six"]
    assert db.packages[0].requested == "six"  # from the history: the record names no spec
    assert capture_limit("/app/.pixi/envs/default/conda-meta/six-1.16.0-pyh_0.json") > 0
    assert capture_limit("/app/.pixi/envs/default/conda-meta/history") > 0
    assert capture_limit("/app/.pixi/envs/default/conda-meta/pinned") == 0


def test_installer_text_is_kept_and_compared_by_tool_name() -> None:
    meta = b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"
    site = "/opt/venv/lib/python3.11/site-packages"
    spec = ImageSpec([LayerSpec([
        Dir(site), Dir(f"{site}/six-1.16.0.dist-info"), File(f"{site}/six-1.16.0.dist-info/METADATA", meta),
        File(f"{site}/six-1.16.0.dist-info/INSTALLER", b"Poetry 1.8.3\n"),
    ])])
    (d,) = DirScanner(fs_from_spec(spec)).scan(site)
    assert d.installer == "Poetry 1.8.3"
    assert d.installer_name == "poetry"
    assert Distribution("x", "x", "1", "/m", "dist-info", "/s", installer="CONDA").installer_name == "conda"
