"""`sitelens scan` from parsed options to (report text, exit code); the CLI only parses."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..sources.base import SourceOptions

if TYPE_CHECKING:
    from .targets import Target


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


class _Selection:
    """The targets, worked out in a thread of their own from the moment the scan starts.

    Listing a registry and resolving every tag is mostly waiting on the registry (a no-op rescan
    of a thousand tags is a thousand HEADs), and start-up is mostly this process importing and
    opening the store; one overlaps the other. A usage error found meanwhile (the config, the
    store) still ends the command at once: :meth:`cancel` stops the resolution between requests."""

    def __init__(self, req: ScanRequest, opts: SourceOptions) -> None:
        self._cancel = threading.Event()
        self._targets: list[Target] = []
        self._error: BaseException | None = None
        # a daemon: a scan that ends on a usage error does not wait for the registry to answer
        self._thread = threading.Thread(target=self._run, args=(req, opts), name="scan-targets", daemon=True)
        self._thread.start()

    def _run(self, req: ScanRequest, opts: SourceOptions) -> None:
        from .targets import file_targets, registry_targets

        try:
            self._targets = (file_targets(req.images, req.registry, opts) if req.images is not None
                             else registry_targets(req.registry or "", req.repo, req.tag, opts, self._cancel))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of result()
            self._error = exc

    def result(self) -> list[Target]:
        try:
            self._thread.join()
        except BaseException:  # Ctrl-C while waiting: the rest of the registry is not asked
            self.cancel()
            raise
        if self._error is not None:
            raise self._error
        return self._targets

    def cancel(self) -> None:
        self._cancel.set()


def run_scan_command(req: ScanRequest, opts: SourceOptions) -> tuple[str, int]:
    if req.registry is None and req.images is None:
        raise UsageError("give a REGISTRY to enumerate or --images FILE")
    selection = _Selection(req, opts)
    try:
        from ..config import load_config
        from .store import ResultStore

        cfg = load_config(req.config)
        store = ResultStore(req.db)
    except BaseException:
        selection.cancel()
        raise
    from ..cachedir import default_cache_dir
    from ..report.formats import renderer, site_renderer
    from ..report.interface import RenderOptions
    from .executor import make_executor
    from .job import config_hash, run_scan
    from .progress import ScanProgress
    from .summary import scan_exit_code, summarise
    from .task import audit_task

    try:
        targets = selection.result()
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
