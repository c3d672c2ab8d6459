"""`sitelens scan` from parsed options to (report text, exit code); the CLI only parses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..sources.base import SourceOptions


@dataclass(frozen=True)
class ScanRequest:
    registry: str | None
    repo: str
    tag: str
    images: Path | None
    workers: int
    executor: str | None
    db: str
    json: bool
    html: Path | None
    all_images: bool
    fail_on: str
    config: Path | None
    platform: str | None
    insecure_registries: tuple[str, ...]
    use_cache: bool
    cache_dir: Path | None
    width: int | None = None  # the console report's width (the CLI reads COLUMNS and the terminal)


def run_scan_command(req: ScanRequest, opts: SourceOptions) -> tuple[str, int]:
    from ..config import load_config
    from ..layers.cache import default_cache_dir
    from ..report.formats import renderer, site_renderer
    from ..report.interface import RenderOptions
    from .executor import make_executor
    from .job import config_hash, run_scan
    from .progress import ScanProgress
    from .store import ResultStore
    from .summary import scan_exit_code, summarise
    from .targets import file_targets, registry_targets
    from .task import audit_task

    if req.registry is None and req.images is None:
        raise UsageError("give a REGISTRY to enumerate or --images FILE")
    cfg = load_config(req.config)
    store = ResultStore(req.db)  # opened first: a bad --db is a usage error before any network work
    try:
        targets = (file_targets(req.images, req.registry, opts) if req.images is not None
                   else registry_targets(req.registry or "", req.repo, req.tag, opts))
        task_options = {
            "cache_dir": str(req.cache_dir or default_cache_dir()),
            "use_cache": req.use_cache,
            "config": str(cfg.source) if cfg.source else None,
            "fail_on": cfg.fail_on,
            "platform": req.platform,
            "insecure_registries": list(req.insecure_registries),
        }
        # Digest + tool version + config (and platform) decide whether an image is done.
        cfg_hash = config_hash({"config": cfg.source.read_text() if cfg.source else None,
                                "platform": req.platform})
        ex = make_executor(req.executor, req.workers)
        try:
            with ScanProgress() as progress:
                run = run_scan(targets, store, ex, audit_task, task_options, cfg_hash, progress)
        finally:
            ex.close()
        report = summarise(store, cfg_hash, run, req.all_images)
    finally:
        store.close()
    # Every output goes through the format table audit uses (report/formats.py, TABLE["scan"]).
    options = RenderOptions(fail_on=req.fail_on, width=req.width)
    if req.html is not None:
        from .html import write_files

        try:
            write_files(site_renderer("html", "scan").render_files(report, options), req.html)
        except OSError as exc:
            raise UsageError(f"cannot write the HTML report to {req.html}: {exc.strerror}") from None
    text = renderer("json" if req.json else "console", "scan").render(report, options)
    return text, scan_exit_code(report, req.fail_on)
