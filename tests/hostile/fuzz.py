"""Seeded mutations of the demo image: bytes and JSON types, in every container format.

Case ``seed`` is fully determined by its number (``random.Random(seed)``), so a failure is
replayed with ``python -m tests.hostile fuzz 1 SEED`` and kept in ``regression_seeds.txt``.
Mutations that should reach a parser fix up the digests the edit invalidates (config digest,
diff_ids, manifest digest); raw byte mutations of an archive or a layout file do not, and
exercise the refusal paths instead.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .cases import OK_OR_CORRUPT, Case
from .kit import Parts, archive_members, demo, nested, sha, tar_of, write

# Values a hostile producer puts where a string, list or object belongs.
_ODD_VALUES: list[Callable[[random.Random], Any]] = [
    lambda r: r.choice([0, -1, 5, 2**31, 2**64, 10**30]),
    lambda r: r.choice([1.5, -0.0, 1e308]),
    lambda r: None,
    lambda r: r.choice([True, False]),
    lambda r: r.choice(["", "²", "١٢", "../../../etc/passwd", "/", "\x00", "a" * 5000, "sha256:" + "A" * 64]),
    lambda r: [],
    lambda r: {},
    lambda r: [1, None, "x", {}],
    lambda r: {"a": [1]},
    lambda r: json.loads(nested(r.randint(10, 200)).decode()),
]


def _paths(doc: Any, limit: int = 500) -> list[tuple[Any, Any]]:
    """(container, key) of every value in a JSON document, breadth first."""
    out: list[tuple[Any, Any]] = []
    queue = [doc]
    while queue and len(out) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, (dict, list)):
                queue.append(v)
    return out


def mutate_json(doc: Any, r: random.Random, edits: int = 1) -> Any:
    for _ in range(edits):
        paths = _paths(doc)
        if not paths:
            return _ODD_VALUES[r.randrange(len(_ODD_VALUES))](r)
        node, key = r.choice(paths)
        how = r.random()
        if how < 0.15 and isinstance(node, dict):
            del node[key]
        elif how < 0.25:
            node[key] = [node[key]]
        else:
            node[key] = _ODD_VALUES[r.randrange(len(_ODD_VALUES))](r)
    return doc


def mutate_bytes(data: bytes, r: random.Random, start: int = 0, end: int | None = None) -> bytes:
    b = bytearray(data)
    end = len(b) if end is None else min(end, len(b))
    if end <= start:
        return bytes(b)
    how = r.random()
    if how < 0.5:
        for _ in range(r.randint(1, 16)):
            i = r.randrange(start, end)
            b[i] = r.choice([0, 0xFF, r.randrange(256), b[i] ^ (1 << r.randrange(8))])
    elif how < 0.65:
        del b[r.randrange(start, end):]
    elif how < 0.8:
        i = r.randrange(start, end)
        b[i:i] = r.randbytes(r.randint(1, 600))
    else:
        i = r.randrange(start, end)
        b[i:i + 12] = r.choice([b"777777777777", b"\x80" + b"\xff" * 11, b"99999999999\0", b"-1\0\0\0\0\0\0\0\0\0\0"])
    return bytes(b)


def _layer_headers(tar: bytes) -> list[int]:
    """Offsets of the 512-byte headers in a tar (walking sizes, as a reader would)."""
    out, off = [], 0
    while off + 512 <= len(tar) and tar[off:off + 512].strip(b"\0"):
        out.append(off)
        try:
            size = int(tar[off + 124:off + 136].split(b"\0")[0].strip() or b"0", 8)
        except ValueError:
            break
        off += 512 + (size + 511) // 512 * 512
    return out


def _with_layer(parts: Parts, i: int, tar: bytes) -> None:
    parts.layers[i] = (gzip.compress(tar, compresslevel=1, mtime=0), tar, "gzip")
    parts.config["rootfs"]["diff_ids"][i] = sha(tar)


def _captured_members(tar: bytes) -> list[tuple[int, int]]:
    """(data offset, size) of the members whose bytes the inventory parses."""
    import io
    import tarfile

    keys = ("METADATA", "RECORD", "PKG-INFO", "requires.txt", "passwd", "group", "os-release",
            "status", "entry_points.txt", ".pth", "pyvenv.cfg", "INSTALLER", "WHEEL", "top_level.txt")
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        for m in t:
            if m.isfile() and m.size and m.name.rsplit("/", 1)[-1].endswith(keys):
                out.append((m.offset_data, m.size))
    return out


def _fuzz_case(seed: int) -> Case:
    r = random.Random(seed)
    target = r.choice(["config", "config", "index", "docker-manifest", "layer-header", "layer-header",
                       "layer-content", "layer-content", "archive-bytes", "oci-file"])
    command = r.choice(["audit", "audit", "layers", "inventory"])

    def make(work: Path) -> list[str]:
        parts = demo()
        layout = r.choice(["docker", "oci", "legacy"])
        if target == "config":
            parts.raw_config = json.dumps(mutate_json(parts.config, r, r.randint(1, 3))).encode()
        elif target == "layer-header":
            i = r.randrange(len(parts.layers))
            tar = parts.layers[i][1]
            off = r.choice(_layer_headers(tar))
            _with_layer(parts, i, mutate_bytes(tar, r, off, off + 512))
        elif target == "layer-content":
            i = r.randrange(2)
            tar = parts.layers[i][1]
            members = _captured_members(tar)
            off, size = r.choice(members)
            _with_layer(parts, i, mutate_bytes(tar, r, off, off + size))
        path = write(parts, work / ("img" if layout == "oci" else "img.tar"), layout)
        if target == "index":
            if layout != "oci":
                path = write(parts, work / "img-oci", "oci")
                layout = "oci"
            doc = json.loads((path / "index.json").read_text())
            (path / "index.json").write_text(json.dumps(mutate_json(doc, r, r.randint(1, 3))))
        elif target == "docker-manifest" and layout != "oci":
            files = archive_members(path)
            doc = json.loads(files["manifest.json"])
            files["manifest.json"] = json.dumps(mutate_json(doc, r, r.randint(1, 2))).encode()
            path.write_bytes(tar_of(list(files.items())))
        elif target == "archive-bytes" and layout != "oci":
            data = path.read_bytes()
            if r.random() < 0.3:
                data = gzip.compress(data, compresslevel=1)
            path.write_bytes(mutate_bytes(data, r))
        elif target == "oci-file":
            if layout != "oci":
                path = write(parts, work / "img-oci", "oci")
                layout = "oci"
            files = sorted(p for p in path.rglob("*") if p.is_file())
            victim = r.choice(files)
            victim.write_bytes(mutate_bytes(victim.read_bytes(), r))
        ref = f"oci:{path}" if layout == "oci" else str(path)
        return [command, ref]

    return Case(f"fuzz-{seed}-{target}-{command}", OK_OR_CORRUPT, make, timeout=60)


def fuzz_cases(first_seed: int, n: int) -> Iterator[Case]:
    for seed in range(first_seed, first_seed + n):
        yield _fuzz_case(seed)


def regression_seeds() -> list[int]:
    """Seeds that once found a bug (one per line, ``# comments`` allowed)."""
    path = Path(__file__).with_name("regression_seeds.txt")
    out = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(int(text))
    return out
