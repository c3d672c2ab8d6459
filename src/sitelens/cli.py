"""The ``sitelens`` command line: thin typer commands that compose the pipeline stages.

Every command runs inside :func:`_guard`, which turns any :class:`SitelensError` into one line on
stderr and the documented exit code (DESIGN §4), so no bad input ever shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import EXIT_IMAGE, EXIT_USAGE, SitelensError
from .sources.base import SourceOptions

app = typer.Typer(
    name="sitelens",
    help="Audit container images for Python packaging problems, without running them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain prose with literal brackets (os/arch[/variant], UID[:GID]): never markup.
    rich_markup_mode=None,
)


class Format(str, Enum):
    console = "console"
    json = "json"
    sarif = "sarif"


class SimpleFormat(str, Enum):
    console = "console"
    json = "json"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"sitelens: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _guard() -> Iterator[None]:
    try:
        yield
    except SitelensError as exc:
        raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except MemoryError:
        raise _fail("out of memory while reading the image", EXIT_IMAGE) from None


# Options shared by the commands that read an image.
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="os/arch[/variant] to pick from a multi-platform index.")
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="Registry host allowed over plain HTTP (loopback always is)."),
]
RefArg = Annotated[str, typer.Argument(help="Image reference (see `sitelens --help`).")]
SimpleFormatOpt = Annotated[SimpleFormat, typer.Option("--format", "-f", help="console or json.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer index cache.")]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Layer index cache (default $XDG_CACHE_HOME/sitelens).")
]


_TIMEOUT: float = SourceOptions.timeout  # set by the root --timeout option


def source_options(platform: str | None, insecure: list[str] | None) -> SourceOptions:
    return SourceOptions(platform=platform, insecure_registries=tuple(insecure or ()),
                         timeout=_TIMEOUT, deadline=_TIMEOUT * 60)


def progress_for_tty():
    """A progress callback for the layer loader, or None when stdout is not an interactive tty."""
    import os

    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    from rich.console import Console

    console = Console(stderr=True)

    def report(layer, state):
        console.print(f"[dim]layer {layer.index} {layer.diff_id[7:19]} {state}[/dim]")

    return report


@app.command()
def layers(
    ref: RefArg,
    fmt: SimpleFormatOpt = SimpleFormat.console,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Per layer: digest, size, created_by, files added/modified/deleted, and wasted bytes."""
    from .pipeline import load
    from .report.layers import render_layers

    with _guard(), load(
        ref, source_options(platform, insecure_registry), cache_dir, not no_cache, progress_for_tty()
    ) as loaded:
        text = render_layers(loaded, fmt.value)
        _emit(text, output)


@app.command("ls")
def ls_cmd(
    ref: RefArg,
    path: Annotated[str, typer.Argument(help="Directory (or file) inside the image.")] = "/",
    fmt: SimpleFormatOpt = SimpleFormat.console,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """List a directory of the merged filesystem with mode, owner, size and layer.

    A PATH that does not exist in the image is a usage error (exit 2)."""
    from .pipeline import load
    from .report.listing import render_listing

    with _guard(), load(
        ref, source_options(platform, insecure_registry), cache_dir, not no_cache, progress_for_tty()
    ) as loaded:
        _emit(render_listing(loaded.fs, path, fmt.value), None)


class FailOn(str, Enum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"
    none = "none"


@app.command()
def audit(
    ref: RefArg,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="console, json or sarif.")] = (
        Format.console
    ),
    output: OutputOpt = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 on unsuppressed findings at or above this "
                     "severity (default: config's fail-on, else high; none never fails)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config (default: ./.sitelens.toml, else "
                     "[tool.sitelens] in ./pyproject.toml)."),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", help="Also evaluate this runtime identity, UID[:GID]; repeatable."),
    ] = None,
    requirements: Annotated[
        list[Path] | None,
        typer.Option("--requirements", help="Requirements/lock file the image should honour "
                     "(SL116); repeatable."),
    ] = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Audit an image: which copy of each package wins for whom, what pip overwrote, who can
    read the import path, wasted bytes. Exit 0 clean, 1 findings at or above --fail-on, 2 usage,
    configuration or internal error, 3 image unreadable."""
    from .audit import AuditOptions, run_audit
    from .config import load_config
    from .errors import UsageError
    from .inventory.identities import parse_user_option

    with _guard():
        users = []
        for u in user or []:
            try:
                users.append(parse_user_option(u))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        cfg = load_config(config)
        threshold = fail_on.value if fail_on is not None else cfg.fail_on
        opts = AuditOptions(
            source=source_options(platform, insecure_registry),
            cache_dir=cache_dir,
            use_cache=not no_cache,
            progress=progress_for_tty(),
            users=tuple(users),
            config=cfg,
            requirements=tuple(requirements or ()),
            on_check_error="record",
        )
        result = run_audit(ref, opts)
        if fmt is Format.json:
            from .report.json_report import render_json

            text = render_json(result, threshold)
        elif fmt is Format.sarif:
            from .report.sarif import render_sarif

            text = render_sarif(result, threshold)
        else:
            import os

            from .report.console import render_console

            color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            width = None if output is not None else _terminal_width()
            text = render_console(result, threshold, color=color, width=width)
        _emit(text, output)
        for failure in result.errors:
            typer.echo(f"sitelens: internal error in check {failure.check}: {failure.error}",
                       err=True)
        code = result.exit_code(threshold)
    raise typer.Exit(code)


def _terminal_width() -> int | None:
    import shutil

    return shutil.get_terminal_size((110, 24)).columns if sys.stdout.isatty() else None


@app.command("rules")
def rules_cmd(
    fmt: SimpleFormatOpt = SimpleFormat.console,
) -> None:
    """The rule catalog: id, name, default severity and what each rule reports."""
    from .rules.catalog import all_rules

    rules = all_rules()
    if fmt is SimpleFormat.json:
        import json

        doc = [{"id": r.id, "name": r.name, "severity": r.severity, "title": r.title,
                "summary": r.summary, "category": r.category, "docs": r.docs} for r in rules]
        _emit(json.dumps(doc, indent=2), None)
        return
    import io

    from rich.console import Console
    from rich.table import Table

    table = Table(title="sitelens rules (sitelens explain ID for the full page)",
                  title_justify="left")
    for col in ("id", "name", "default", "reports"):
        table.add_column(col, no_wrap=col != "reports")
    for r in rules:
        table.add_row(r.id, r.name, r.severity, r.summary)
    buf = io.StringIO()
    Console(file=buf, width=_terminal_width() or 120, no_color=True).print(table)
    _emit(buf.getvalue(), None)


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. SL101.")],
) -> None:
    """Print a rule's page: what it means, why it matters in a container, the fix for each way
    of building an image, and how to silence it (the same text as docs/rules/SLnnn.md)."""
    from .rules.catalog import rule_page

    with _guard():
        sys.stdout.write(rule_page(rule))


@app.command()
def scan(
    registry: Annotated[
        str | None, typer.Argument(help="Registry host[:port] to enumerate (omit with --images).")
    ] = None,
    repo: Annotated[str, typer.Option("--repo", help="Glob on repository names.")] = "*",
    tag: Annotated[str, typer.Option("--tag", help="Glob on tags.")] = "*",
    images: Annotated[
        Path | None, typer.Option("--images", help="File with one image reference per line (any form "
                                  "`audit` accepts; bare names go to REGISTRY when given).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Local worker processes.")] = 2,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local (default) or dask://HOST:PORT.")
    ] = None,
    db: Annotated[str, typer.Option("--db", help="SQLite path or postgresql:// URL.")] = "sitelens-scan.db",
    fmt: SimpleFormatOpt = SimpleFormat.console,
    output: OutputOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a static HTML site into this directory.")
    ] = None,
    all_images: Annotated[bool, typer.Option("--all", help="Report the whole store, not only this run.")] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when an image has unsuppressed findings at or above this.")
    ] = FailOn.none,
    config: Annotated[Path | None, typer.Option("--config", help="sitelens config file.")] = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Audit every image of a registry (or a list), skipping digests already audited. Exit 3 when
    any target failed, else 1 when an image has findings at or above --fail-on, else 0."""
    from .scan.command import ScanRequest, run_scan_command

    with _guard():
        request = ScanRequest(
            registry=registry, repo=repo, tag=tag, images=images, workers=workers, executor=executor, db=db,
            json=fmt == SimpleFormat.json, html=html, all_images=all_images, fail_on=fail_on.value,
            config=config, platform=platform, insecure_registries=tuple(insecure_registry or ()),
            use_cache=not no_cache, cache_dir=cache_dir,
        )
        text, code = run_scan_command(request, source_options(platform, insecure_registry))
        _emit(text, output)
    raise typer.Exit(code)


@app.command()
def inventory(
    ref: RefArg,
    fmt: SimpleFormatOpt = SimpleFormat.console,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", help="Also show the import path for UID[:GID]; repeatable."),
    ] = None,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """What is installed where, by whom, and visible to whom: interpreters, venvs, sys.path per
    identity, distributions. No judgement (see `audit`)."""
    from .errors import UsageError
    from .inventory.builder import build_inventory
    from .inventory.identities import parse_user_option, resolve_identities
    from .pipeline import load
    from .report.inventory import render_inventory

    with _guard():
        users = []
        for u in user or []:
            try:
                users.append(parse_user_option(u))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        with load(ref, source_options(platform, insecure_registry), cache_dir, not no_cache,
                  progress_for_tty()) as loaded:
            warnings: list[str] = []
            idents = resolve_identities(loaded.fs, loaded.image.config, users, warnings=warnings)
            inv = build_inventory(loaded.fs, loaded.image, idents)
            inv.warnings[:0] = [*loaded.fs.warnings, *warnings]
            _emit(render_inventory(inv, loaded.image, fmt.value, loaded.fs), output)


@app.command()
def why(
    module: Annotated[str, typer.Argument(help="The module to explain, e.g. yaml or jinja2.")],
    ref: RefArg,
    fmt: SimpleFormatOpt = SimpleFormat.console,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", help="Also explain the import for UID[:GID]; repeatable."),
    ] = None,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Why `import MODULE` loads what it loads: for each interpreter and identity, every sys.path
    entry tried and why it was skipped, the file that loads, whose bytes those are (owner, layer,
    version, mixed trees) and what importlib.metadata reports."""
    from .errors import UsageError
    from .inventory.builder import build_inventory
    from .inventory.identities import parse_user_option, resolve_identities
    from .inventory.import_truth import ImportTruth, cannot_start
    from .permissions import Cred
    from .pipeline import load
    from .report.why import WhyResult, render_why_console, render_why_json

    top = module.strip().split(".")[0]
    with _guard():
        if not top.isidentifier():
            raise UsageError(f"{module!r} is not a module name")
        users = []
        for u in user or []:
            try:
                users.append(parse_user_option(u))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        with load(ref, source_options(platform, insecure_registry), cache_dir, not no_cache,
                  progress_for_tty()) as loaded:
            idents = resolve_identities(loaded.fs, loaded.image.config, users)
            inv = build_inventory(loaded.fs, loaded.image, idents)
            truth = ImportTruth(loaded.fs, inv)
            results: list[WhyResult] = []
            for env in inv.environments:
                modules = truth.modules(env)
                for ident in idents:
                    if ident.name not in env.sys_path:
                        continue
                    reason = cannot_start(loaded.fs, env, ident)
                    if reason is not None:
                        results.append(WhyResult(env, ident.name, reason, None))
                        continue
                    cred = Cred.of(ident)
                    entries = env.sys_path[ident.name]
                    res = truth.resolver(env, cred, entries, env.pth_imports.get(ident.name, []))
                    mi = truth.one(res, cred, entries, top, modules.get(top, []))
                    results.append(WhyResult(env, ident.name, None, mi))
            if fmt is SimpleFormat.json:
                text = render_why_json(top, loaded.image, results)
            else:
                text = render_why_console(top, loaded.image, results, _terminal_width())
            _emit(text, output)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}", EXIT_USAGE) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sitelens {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, envvar="SITELENS_TIMEOUT",
                            help="Registry: seconds per request (connect, each read); a whole pull gets 60x.")
    ] = SourceOptions.timeout,
) -> None:
    """Image references: docker-archive:PATH | oci:DIR[:TAG] | oci-archive:PATH |
    registry:NAME[:TAG|@DIGEST] | docker:NAME | podman:NAME | dir:PATH | NAME[:TAG] (engine, then registry).

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/config error (or an audit
    left incomplete by an internal error), 3 image unreadable.
    """
    global _TIMEOUT
    _TIMEOUT = timeout


def main() -> None:
    app()
