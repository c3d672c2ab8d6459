"""Whole-audit results, cached by everything that decides them.

An audit is a pure function of the image's content, the effective configuration and the code
that runs: the key is a sha256 over the image's identity (config digest, manifest digest, every
layer's diff_id, blob digest and size, the reference as given), the request (rules and
suppressions of the config, the content of every file the audit reads from the host —
requirements, baseline, Dockerfile —, identities, report formats and their options, the date
that decides suppression expiry) and the code (sitelens's version, the name, size and mtime of
every file of the installed package, the Python version). A hit returns the reports as they were
rendered, the exit code and the lines the run printed on stderr, without indexing or analysing
anything.

An entry is ``MAGIC | sha256(payload) | payload`` with ``payload = zlib(json)``, written
atomically beside the layer cache (``results-v1/``); a torn or tampered entry fails its checksum,
is reported in one warning line and removed, and the audit runs as if there were none.
``--no-cache`` bypasses it (and the layer cache), ``--no-result-cache`` only it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .image import Image, is_sha256_digest

if TYPE_CHECKING:
    from .audit import AuditOptions, AuditResult

RESULT_FORMAT = 1
MAGIC = b"SLRES\x01"


@dataclass
class Outcome:
    """What a finished audit run shows: its reports, exit code and stderr lines."""

    outputs: list[str]  # rendered reports, in the order of the request's targets
    exit_code: int
    errors: list[str] = field(default_factory=list)  # checks that crashed, one line each
    warnings: list[str] = field(default_factory=list)  # inventory warnings (--verbose prints them)
    cached: bool = False  # came from the result cache

    def to_json(self) -> dict[str, Any]:
        return {"outputs": self.outputs, "exit_code": self.exit_code, "errors": self.errors,
                "warnings": self.warnings}

    @classmethod
    def from_json(cls, doc: Any) -> Outcome | None:
        if not isinstance(doc, dict):
            return None
        lists = [doc.get(k) for k in ("outputs", "errors", "warnings")]
        code = doc.get("exit_code")
        if not isinstance(code, int) or not all(_strings(v) for v in lists):
            return None
        outputs, errors, warnings = ([str(x) for x in v or ()] for v in lists)
        return cls(outputs, code, errors, warnings, cached=True)


def _strings(value: Any) -> bool:  # a list of str, as the entry was written
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def file_digests(paths: Iterable[Path]) -> list[str] | None:
    """sha256 of each host file the audit reads; None when one is unreadable (then the run is
    not cached, so the audit itself reports the error)."""
    out = []
    for p in paths:
        try:
            out.append(hashlib.sha256(Path(p).read_bytes()).hexdigest())
        except OSError:
            return None
    return out


def audit_request(opts: AuditOptions, formats: list[str], renders: list[Any], baseline: Path | None,
                  dockerfile: Path | None) -> dict[str, Any] | None:
    """What, besides the image and the code, decides the reports and the exit code of one run;
    None when a host file it names cannot be read (that run is not cached)."""
    import datetime as dt

    cfg = opts.config
    files = [*cfg.requirements, *opts.requirements, *(p for p in (baseline, dockerfile) if p is not None)]
    digests = file_digests(files)
    if digests is None:
        return None
    return {
        "config": repr(cfg),  # rules' severities, suppressions, waste thresholds, fail-on
        "files": [[str(p), d] for p, d in zip(files, digests, strict=True)],
        "users": list(opts.users),
        "platform": opts.source.platform,
        "today": (opts.today or dt.date.today()).isoformat(),  # suppressions expire
        "reports": [[f, repr(r)] for f, r in zip(formats, renders, strict=True)],
    }


def code_fingerprint() -> list[Any]:
    """The code that computes the result: a changed or added module (an upgrade, an editable
    checkout being edited) changes the key. Stat only, no reading: ~200 files, ~1 ms."""
    root = os.path.dirname(os.path.abspath(__file__))
    files = []
    for top, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            st = os.stat(os.path.join(top, name))
            files.append((os.path.relpath(os.path.join(top, name), root), st.st_size, st.st_mtime_ns))
    # Checks registered from outside the package (a plugin, a test's): the files above do not
    # cover them. (The package's own register when sitelens.checks is imported, which a hit
    # never needs: only the others count, so the key does not depend on that import.)
    base = sys.modules.get("sitelens.checks.base")
    registered = [f"{rc.fn.__module__}.{rc.name}" for rc in getattr(base, "REGISTRY", [])
                  if not rc.fn.__module__.startswith("sitelens.")]
    return [__version__, sys.version, files, registered]


def result_key(image: Image, request: dict[str, Any]) -> str | None:
    """The cache key of auditing ``image`` for ``request``; None when the image's content has no
    verifiable identity (a ``dir:`` source, a config without digest)."""
    if not image.config_digest or not all(is_sha256_digest(layer.diff_id) for layer in image.layers):
        return None
    doc = {
        "format": RESULT_FORMAT,
        "code": code_fingerprint(),
        "image": {
            "reference": image.reference,
            "digest": image.digest,
            "config_digest": image.config_digest,
            "layers": [[la.diff_id, la.digest, la.size, la.media_type] for la in image.layers],
        },
        "request": request,
    }
    blob = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


class ResultCache:
    def __init__(self, root: Path | None = None, warn: Callable[[str], None] | None = None) -> None:
        from .layers.cache import default_cache_dir

        self.root = (root or default_cache_dir()) / f"results-v{RESULT_FORMAT}"
        self._warn = warn

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.res"

    def get(self, key: str) -> Outcome | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        outcome = _decode(blob)
        if outcome is None:
            if self._warn is not None:
                self._warn(f"ignored a corrupt audit result cache entry ({path}); auditing again")
            with contextlib.suppress(OSError):
                path.unlink()
        return outcome

    def put(self, key: str, outcome: Outcome) -> None:
        path = self._path(key)
        payload = zlib.compress(json.dumps(outcome.to_json()).encode(), 1)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full cache must not fail the audit


def _decode(blob: bytes) -> Outcome | None:
    head = len(MAGIC) + 32
    if not blob.startswith(MAGIC) or len(blob) < head:
        return None
    payload = blob[head:]
    if hashlib.sha256(payload).digest() != blob[len(MAGIC):head]:
        return None
    try:
        return Outcome.from_json(json.loads(zlib.decompress(payload)))
    except (ValueError, zlib.error):
        return None


def run_cached(
    ref: str,
    opts: AuditOptions,
    request: dict[str, Any] | None,
    finish: Callable[[AuditResult], Outcome],
    cache: ResultCache | None,
) -> Outcome:
    """Audit ``ref`` and ``finish`` the result (render, decide the exit code), or return what a
    previous run with the same key finished with. ``request`` None: not cacheable."""
    from .audit import audit_image, import_analysis
    from .layers.cache import LayerCache
    from .layers.loader import load_indexes
    from .pipeline import build_filesystem, opened

    key = None
    with opened(ref, opts.source, opts.cache_dir) as image:
        if cache is not None and request is not None:
            key = result_key(image, request)
            hit = cache.get(key) if key else None
            if hit is not None:
                return hit
        indexes = load_indexes(image, LayerCache(opts.cache_dir, enabled=opts.use_cache), opts.progress,
                               meanwhile=import_analysis)
    fs = build_filesystem(image, indexes)
    outcome = finish(audit_image(image, indexes, fs, opts))
    if cache is not None and key is not None:
        cache.put(key, outcome)
    return outcome
