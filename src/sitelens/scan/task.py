"""The per-image task of a scan. It runs in a worker process (local pool or Dask worker), so it
takes and returns plain picklable data and never raises for a bad image: a failure is a result.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import SitelensError


def _usable_cache_dir(wanted: str | None) -> Path | None:
    """The coordinator's cache dir when this worker can write it (same machine, or a shared
    filesystem mounted at the same path); else this worker's own default cache (None)."""
    if not wanted:
        return None
    path = Path(wanted)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def audit_task(reference: str, options: dict[str, Any]) -> dict[str, Any]:
    """Audit one image; ``options``: cache_dir, use_cache, config (path or None), fail_on,
    insecure_registries, platform, docker_config."""
    from ..audit import AuditOptions, audit_image
    from ..config import Config, load_config
    from ..pipeline import load
    from ..report.json_report import audit_document
    from ..sources.base import SourceOptions
    from .targets import failure_reason, one_line

    started = time.monotonic()
    cfg_path = options.get("config")
    docker_config = options.get("docker_config")
    source = SourceOptions(
        platform=options.get("platform"),
        insecure_registries=tuple(options.get("insecure_registries") or ()),
        docker_config=Path(docker_config) if docker_config else None,
    )
    cache_dir = _usable_cache_dir(options.get("cache_dir"))
    try:
        # The coordinator resolved the config file; no path means defaults, not a search of
        # whatever directory this worker happens to run in.
        config = load_config(Path(cfg_path)) if cfg_path else Config()
        with load(reference, source, cache_dir, options.get("use_cache", True)) as loaded:
            audit_opts = AuditOptions(source=source, cache_dir=cache_dir, config=config,
                                      on_check_error="record")
            result = audit_image(loaded.image, loaded.indexes, loaded.fs, audit_opts)
            doc = audit_document(result, options.get("fail_on") or config.fail_on)
            layers_total = len(loaded.image.layers)
            layers_reused = loaded.cache.hits
    except SitelensError as exc:
        return {"status": "failed", "reason": failure_reason(exc), "error": one_line(exc),
                "seconds": time.monotonic() - started}
    except Exception as exc:  # noqa: BLE001 - one image's internal error must not end a registry scan
        # A bug, not a bad image: recorded with its type so it can be reported, and the run goes on.
        return {"status": "failed", "reason": "internal",
                "error": f"internal error: {type(exc).__name__}: {exc}".splitlines()[0],
                "seconds": time.monotonic() - started}
    waste = doc.get("waste") or {}
    return {
        "status": "ok",
        "reason": None,
        "error": None,
        "digest": (doc.get("image") or {}).get("digest"),
        "platform": (doc.get("image") or {}).get("platform"),
        "counts": doc.get("summary") or {},
        "wasted_bytes": waste.get("wasted_bytes"),
        "total_bytes": waste.get("total_bytes"),
        "layers_total": layers_total,
        "layers_reused": layers_reused,
        "seconds": time.monotonic() - started,
        "result": doc,
    }
