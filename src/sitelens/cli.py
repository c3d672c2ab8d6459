"""The ``sitelens`` command line: thin typer commands that compose the pipeline stages.

Every command runs inside :func:`_guard`, which turns any :class:`SitelensError` into one line on
stderr and the documented exit code (DESIGN §4), so no bad input ever shows a traceback.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import __version__
from .errors import EXIT_IMAGE, EXIT_USAGE, SitelensError
from .sources.base import SourceOptions

if TYPE_CHECKING:
    from .layers.loader import Progress

HELP = """Audit container images for Python packaging problems, without running them.

\b
Image references (REF), as skopeo and syft spell them:
  docker-archive:PATH       docker save output (or a PATH ending in .tar)
  oci:DIR[:TAG]             an OCI image layout (or a DIR holding oci-layout)
  oci-archive:PATH          an OCI layout tarball
  registry:NAME[:TAG|@DIGEST]  pulled from a registry
  docker:NAME | podman:NAME a local engine (DOCKER_HOST, podman's socket)
  dir:PATH                  an unpacked root filesystem
  NAME[:TAG]                the local engine if it has it, else the registry

\b
Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage or configuration error (or an audit left incomplete by an internal
error); 3 the image could not be obtained or read (not found, auth refused,
unreachable, corrupt).

Options also come from SITELENS_<OPTION> environment variables (e.g.
SITELENS_FAIL_ON=medium, SITELENS_PLATFORM=linux/arm64)."""

app = typer.Typer(
    name="sitelens",
    help=HELP,
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_enable=False,
    # Help texts are plain prose with literal brackets (os/arch[/variant], UID[:GID]): never markup.
    rich_markup_mode=None,
)


def _plain_argument_help() -> None:
    """Typer 0.2x writes an argument as ``{REF}`` in the usage line and ``REF <str>`` in the
    list, leaking Python types into help meant for people. An argument with a metavar is shown
    as that metavar only, in click's own ``REF`` / ``[PATH]`` spelling."""
    from typer.core import TyperArgument

    def usage_name(self: TyperArgument) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def type_text(self: TyperArgument, ctx: object) -> str | None:
        return None

    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    TyperArgument.display_type_rich = type_text  # type: ignore[method-assign,assignment]


_plain_argument_help()


# Numbers written plainly (no sign, spaces, underscores or exponent): what int() and float() read
# exactly as pydantic does; anything else goes to typer.
_PLAIN_NUMBER = {int: re.compile(r"[0-9]{1,18}"), float: re.compile(r"[0-9]{1,18}(\.[0-9]{1,18})?")}

# The spellings of a boolean that click and pydantic both accept, in an environment variable
# (SITELENS_NO_RESULT_CACHE=1); any other text goes to typer and gets its error.
_BOOL_TEXT = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False),
}


def _coerce_without_pydantic() -> None:
    """Typer 0.2x coerces every parameter through a pydantic TypeAdapter built on first use,
    even an option left unset, so every command imports pydantic (≈ 0.15 s, most of a cached
    audit's start-up). The values that need no validation are passed through here with typer's
    own results: unset (None, or () for a repeatable option), a str for a str option, str items
    for list[str], a str for a Path option (converted as pydantic does, ``Path(value)``, then
    typer's own ``coerce_cli_path`` checks) and an int or float already in its option's range
    (a default, or plain digits from the command line), a choice spelled exactly as declared, a
    bool spelled in an environment variable as both click and pydantic read it. Anything else
    (signs, exponents, other spellings of a choice, parsers) goes to typer's coercion unchanged,
    errors and all."""
    from typing import Any, get_args, get_origin

    try:
        from typer._coercion import build_runtime_param
        from typer._param_types import coerce_cli_path
        from typer.core import _TyperParameter
    except ImportError:
        return  # another typer (pyproject allows >=0.12): its own coercion, only slower
    if not hasattr(_TyperParameter, "get_runtime_param"):
        return

    class PlainValues:
        def __init__(self, owner: _TyperParameter) -> None:
            self._owner = owner
            self._typer: Any = None

        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            desc = param.type_descriptor
            info = desc.parameter_info
            multi = param.multiple or param.nargs == -1
            if value is None:
                return () if multi else None  # what typer's RuntimeParam.coerce returns
            if info.parser is None and info.path_type is None and desc.file_annotation is None:
                ann = desc.annotation
                if not multi:
                    if ann is str and type(value) is str:
                        return value
                    if ann is Path and type(value) is str:
                        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
                    if ann is bool and type(value) is str and value.lower() in _BOOL_TEXT:
                        return _BOOL_TEXT[value.lower()]  # a flag set in the environment
                    number = value
                    if (ann is float or ann is int) and type(value) is str and _PLAIN_NUMBER[ann].fullmatch(value):
                        number = ann(value)  # "2", "0.5": the number pydantic reads, range still checked
                    if (ann is float or ann is int) and type(number) is ann and not info.clamp and (
                        (info.min is None or number >= info.min) and (info.max is None or number <= info.max)
                    ):
                        return number  # in range: typer's number adapter returns it as it is
                    if isinstance(ann, type) and issubclass(ann, Enum) and type(value) is str:
                        for member in ann:
                            if member.value == value:
                                return member  # a choice spelled exactly as declared
                elif isinstance(value, (tuple, list)) and all(type(v) is str for v in value):
                    if get_origin(ann) is list and get_args(ann) == (str,):
                        return list(value)
                    if get_origin(ann) is list and get_args(ann) == (Path,):
                        return [coerce_cli_path(Path(v), info, path_type=Path, param=param, ctx=ctx)
                                for v in value]
            if self._typer is None:
                self._typer = build_runtime_param(self._owner.type_descriptor)
            return self._typer.coerce(value, param=param, ctx=ctx)

    def get_runtime_param(self: _TyperParameter) -> Any:
        if self._runtime_param is None:
            self._runtime_param = PlainValues(self)  # type: ignore[assignment]
        return self._runtime_param

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


_coerce_without_pydantic()


class SimpleFormat(str, Enum):
    console = "console"
    json = "json"


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"sitelens: {message}", err=True)
    return typer.Exit(code)


_DEBUG = {"on": False}  # --debug: tracebacks too


@contextmanager
def _guard() -> Iterator[None]:
    try:
        yield
    except SitelensError as exc:
        if _DEBUG["on"]:
            import traceback

            traceback.print_exc()
        raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except MemoryError:
        raise _fail("out of memory while reading the image", EXIT_IMAGE) from None


# Options shared by the commands that read an image.
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", metavar="OS/ARCH[/VARIANT]", envvar="SITELENS_PLATFORM",
                             help="Platform to pick from a multi-platform index; an image of "
                                  "another platform is an error.")
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", metavar="HOST", envvar="SITELENS_INSECURE_REGISTRY",
                 help="Registry host allowed over plain HTTP (loopback always is)."),
]
RefArg = Annotated[str, typer.Argument(metavar="REF", help="Image reference (see `sitelens --help`).")]
SimpleFormatOpt = Annotated[SimpleFormat, typer.Option("--format", "-f", metavar="FORMAT",
                                                       help="console or json.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write the report to FILE ('-': stdout).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer index cache.")]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", metavar="DIR", envvar="SITELENS_CACHE_DIR",
                              help="Layer index cache (default $XDG_CACHE_HOME/sitelens).")
]
TimeoutOpt = Annotated[
    float | None, typer.Option("--timeout", metavar="SECONDS", min=0.1, envvar="SITELENS_TIMEOUT",
                               help="Network timeout per registry/engine request (default 30).")
]
UsernameOpt = Annotated[
    str | None, typer.Option("--username", metavar="USER", envvar="SITELENS_USERNAME",
                             help="Registry user (overrides the docker/podman auth files).")
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the registry password from stdin "
                       "(or set SITELENS_PASSWORD).")
]


_TIMEOUT: float = SourceOptions.timeout  # set by the root --timeout option


def source_options(platform: str | None, insecure: list[str] | None, timeout: float | None = None,
                   username: str | None = None, password_stdin: bool = False) -> SourceOptions:
    import os

    from .errors import UsageError

    password = os.environ.get("SITELENS_PASSWORD")
    if password_stdin:
        if username is None:
            raise UsageError("--password-stdin needs --username (or SITELENS_USERNAME)")
        password = sys.stdin.readline().rstrip("\r\n")
    elif username is not None and password is None:
        raise UsageError("--username needs --password-stdin (or SITELENS_PASSWORD)")
    # a command's --timeout wins over the root one (`sitelens --timeout S COMMAND`); a whole pull
    # gets 60x the per-request time
    per_request = timeout if timeout is not None else _TIMEOUT
    return SourceOptions(platform=platform, insecure_registries=tuple(insecure or ()),
                         username=username, password=password if username else None,
                         timeout=per_request, deadline=per_request * 60)


def progress_for_tty() -> Progress | None:
    """A progress callback for the layer loader, or None off a tty, in CI or with -q."""
    from .report.progress import layer_progress

    return layer_progress()


@app.command()
def layers(
    ref: RefArg,
    fmt: SimpleFormatOpt = SimpleFormat.console,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    timeout: TimeoutOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Per layer: digest, size, created_by, files added/modified/deleted, and wasted bytes."""
    from .pipeline import load
    from .report.layers import render_layers

    with _guard(), load(
        ref, source_options(platform, insecure_registry, timeout), cache_dir, not no_cache, progress_for_tty()
    ) as loaded:
        text = render_layers(loaded, fmt.value)
        _emit(text, output)


@app.command("ls")
def ls_cmd(
    ref: RefArg,
    path: Annotated[str, typer.Argument(metavar="PATH", help="Directory (or file) inside the image.")] = "/",
    fmt: SimpleFormatOpt = SimpleFormat.console,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    timeout: TimeoutOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """List a directory of the merged filesystem with mode, owner, size and layer.

    A PATH that does not exist in the image is a usage error (exit 2)."""
    from .pipeline import load
    from .report.listing import render_listing

    with _guard(), load(
        ref, source_options(platform, insecure_registry, timeout), cache_dir, not no_cache, progress_for_tty()
    ) as loaded:
        _emit(render_listing(loaded.fs, path, fmt.value), None)


def _severity_choice(value: str | None, option: str, allowed: tuple[str, ...]) -> str | None:
    """Validate --fail-on / --severity ourselves: one plain line, not click's enum wording."""
    from .errors import UsageError

    if value is None:
        return None
    v = value.strip().lower()
    if v not in allowed:
        raise UsageError(f"{option} {value!r}: choose one of {', '.join(allowed)}")
    return v


@app.command()
def audit(
    ref: RefArg,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", metavar="FORMAT", envvar="SITELENS_FORMAT",
        help="Report format: console, json, sarif, cyclonedx (1.6 SBOM) or spdx (2.3 SBOM).")] = "console",
    output: Annotated[list[str] | None, typer.Option(
        "--output", "-o", metavar="[FORMAT=]FILE",
        help="Write a report to FILE ('-' is stdout); FORMAT=FILE (e.g. sarif=out.sarif) writes "
             "that format; repeat for several reports in one run.")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", envvar="SITELENS_FAIL_ON",
        help="Exit 1 on unsuppressed findings at or above this severity: critical, high, "
             "medium, low, info, or none (default: the config's fail-on, else high).")] = None,
    severity: Annotated[str | None, typer.Option(
        "--severity", "-s", metavar="SEVERITY", envvar="SITELENS_SEVERITY",
        help="Show only findings at or above this severity (the exit code still follows "
             "--fail-on).")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No report on stdout and no progress: the exit code (and any "
                              "-o FILE) only.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also print warnings and timings on stderr.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Like --verbose, plus a traceback for errors.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", envvar="SITELENS_CONFIG",
        help="TOML config (default: ./.sitelens.toml, else [tool.sitelens] in "
             "./pyproject.toml; a ./.dive-ci supplies waste thresholds).")] = None,
    user: Annotated[list[str] | None, typer.Option(
        "--user", metavar="UID[:GID]",
        help="Also evaluate this runtime identity, UID[:GID]; repeatable.")] = None,
    requirements: Annotated[list[Path] | None, typer.Option(
        "--requirements", metavar="FILE",
        help="Requirements/lock file the image should honour (SL116); repeatable.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", metavar="REPORT.json", envvar="SITELENS_BASELINE",
        help="A saved JSON report: findings it already has are shown as suppressed and never fail "
             "the run, so only new findings do.")] = None,
    sarif_category: Annotated[str | None, typer.Option(
        "--sarif-category", metavar="NAME", envvar="SITELENS_SARIF_CATEGORY",
        help="SARIF automationDetails.id is sitelens/NAME/ (default: the image's repository "
             "name); one category per image keeps GitHub alerts tracked across builds.")] = None,
    sarif_path_prefix: Annotated[str, typer.Option(
        "--sarif-path-prefix", metavar="PREFIX", envvar="SITELENS_SARIF_PATH_PREFIX",
        help="Prefix for image paths in SARIF locations (e.g. image/).")] = "",
    dockerfile: Annotated[Path | None, typer.Option(
        "--dockerfile", metavar="PATH", envvar="SITELENS_DOCKERFILE",
        help="The Dockerfile that built the image: SARIF points layer and image-wide findings "
             "at the line whose RUN/COPY made the layer.")] = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    timeout: TimeoutOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Do not read or write the layer index cache nor the audit result cache.")] = False,
    no_result_cache: Annotated[bool, typer.Option(
        "--no-result-cache", envvar="SITELENS_NO_RESULT_CACHE",
        help="Audit again even when an earlier run audited the same image with the same "
             "configuration (layer indexes are still cached).")] = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Audit an image: which copy of each package wins for whom, what pip overwrote, who can
    read the import path, wasted bytes. Exit 0 clean, 1 findings at or above --fail-on, 2 usage,
    configuration or internal error, 3 image unreadable."""
    import os
    import time

    from .audit import AuditOptions, AuditResult
    from .config import FAIL_ON_CHOICES, load_config
    from .findings import SEVERITIES
    from .report.formats import renderer
    from .report.interface import RenderOptions
    from .report.outputs import parse_outputs, terminal_width
    from .report.progress import silence
    from .result_cache import Outcome, ResultCache, audit_request, run_cached

    if quiet:
        silence()
    if debug:
        import logging

        _DEBUG["on"] = True
        logging.basicConfig(level=logging.DEBUG, format="sitelens: %(name)s: %(message)s")
    with _guard():
        threshold_opt = _severity_choice(fail_on, "--fail-on", FAIL_ON_CHOICES)
        shown = _severity_choice(severity, "--severity", SEVERITIES)
        targets = parse_outputs(output or [], fmt, quiet)
        users = _user_options(user)
        cfg = load_config(config)
        threshold = threshold_opt or cfg.fail_on
        opts = AuditOptions(
            source=source_options(platform, insecure_registry, timeout, username, password_stdin),
            cache_dir=cache_dir,
            use_cache=not no_cache,
            progress=None if quiet else progress_for_tty(),
            users=tuple(users),
            config=cfg,
            requirements=tuple(requirements or ()),
            on_check_error="record",
        )
        to_tty = [t.path is None and sys.stdout.isatty() for t in targets]
        render_opts = [
            RenderOptions(
                fail_on=threshold,
                color=tty and not os.environ.get("NO_COLOR"),
                width=terminal_width(tty),
                severity=shown,
                sarif_category=sarif_category,
                sarif_path_prefix=sarif_path_prefix,
                dockerfile=dockerfile,
            )
            for tty in to_tty
        ]

        def finish(result: AuditResult) -> Outcome:
            if baseline is not None:
                from .baseline import apply_baseline

                apply_baseline(result, baseline)
            # renderers load here: a cached result needs none of them (formats were checked above)
            texts = [renderer(t.format).render(result, r) for t, r in zip(targets, render_opts, strict=True)]
            return Outcome(texts, result.exit_code(threshold),
                           [f"internal error in check {f.check}: {f.error}" for f in result.errors],
                           list(result.inventory.warnings))

        cache = None
        request = None
        if not no_cache and not no_result_cache:
            cache = ResultCache(cache_dir, warn=lambda msg: typer.echo(f"sitelens: warning: {msg}", err=True))
            request = audit_request(opts, [t.format for t in targets], render_opts, baseline, dockerfile)
        started = time.monotonic()
        outcome = run_cached(ref, opts, request, finish, cache)
        if verbose or debug:
            how = " (result cache)" if outcome.cached else ""
            typer.echo(f"sitelens: audited {ref} in {time.monotonic() - started:.1f} s{how}", err=True)
            for w in outcome.warnings:
                typer.echo(f"sitelens: warning: {w}", err=True)
        for target, text in zip(targets, outcome.outputs, strict=True):
            _emit(text, target.path)
        for line in outcome.errors:
            typer.echo(f"sitelens: {line}", err=True)
        code = outcome.exit_code
    raise typer.Exit(code)


@app.command("diff")
def diff_cmd(
    old: Annotated[str, typer.Argument(metavar="OLD", help="Image reference or saved JSON report (.json).")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="Image reference or saved JSON report (.json).")],
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", envvar="SITELENS_DIFF_FORMAT",
                                     help="console, json or markdown (for a PR comment).")] = "console",
    output: OutputOpt = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", envvar="SITELENS_FAIL_ON",
        help="Exit 1 when NEW adds unsuppressed findings at or above this severity "
             "(default high; none never fails).")] = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE", envvar="SITELENS_CONFIG",
                                                help="sitelens config for images audited now.")] = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    timeout: TimeoutOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Compare two images (or saved reports): findings added, fixed and unchanged (by
    fingerprint), distributions added, removed or changed per environment, and the wasted-bytes
    delta. Exit 1 when NEW adds findings at or above --fail-on."""
    from .config import FAIL_ON_CHOICES, load_config
    from .diff import compare, is_report, load_report
    from .report.diff import DIFF_FORMATS, render_diff
    from .report.outputs import terminal_width

    with _guard():
        threshold = _severity_choice(fail_on, "--fail-on", FAIL_ON_CHOICES) or "high"
        if fmt not in DIFF_FORMATS:
            raise _fail(f"unknown format {fmt!r} for diff (choose from {', '.join(DIFF_FORMATS)})", EXIT_USAGE)

        def side(ref: str) -> dict:
            if is_report(ref):
                return load_report(Path(ref))
            from .audit import AuditOptions, run_audit
            from .report.json_report import audit_document

            opts = AuditOptions(source=source_options(platform, insecure_registry, timeout),
                                cache_dir=cache_dir, use_cache=not no_cache, progress=progress_for_tty(),
                                config=load_config(config), on_check_error="record")
            return audit_document(run_audit(ref, opts), threshold)

        diff = compare(side(old), side(new))
        _emit(render_diff(diff, fmt, threshold, terminal_width(output is None and sys.stdout.isatty())),
              output)
        code = 1 if diff.failing(threshold) else 0
    raise typer.Exit(code)


def _terminal_width() -> int:
    """Console width for stdout: COLUMNS, else the terminal's, else the default (report/outputs)."""
    from .report.outputs import terminal_width

    return terminal_width(sys.stdout.isatty())


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
    Console(file=buf, width=_terminal_width(), no_color=True).print(table)
    _emit(buf.getvalue(), None)


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(metavar="RULE", help="Rule id, e.g. SL101.")],
) -> None:
    """Print a rule's page: what it means, why it matters in a container, the fix for each way
    of building an image, and how to silence it (the same text as docs/rules/SLnnn.md)."""
    from .rules.catalog import rule_page

    with _guard():
        sys.stdout.write(rule_page(rule))


@app.command()
def scan(
    registry: Annotated[
        str | None, typer.Argument(metavar="REGISTRY",
                                   help="Registry host[:port] to enumerate (omit with --images).")
    ] = None,
    repo: Annotated[str, typer.Option("--repo", metavar="GLOB", help="Glob on repository names.")] = "*",
    tag: Annotated[str, typer.Option("--tag", metavar="GLOB", help="Glob on tags.")] = "*",
    images: Annotated[
        Path | None, typer.Option("--images", metavar="FILE", help="File with one image reference per line "
                                  "(any form `audit` accepts; bare names go to REGISTRY when given).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", metavar="N", min=1, help="Local worker processes.")] = 2,
    executor: Annotated[
        str | None, typer.Option("--executor", metavar="local|dask://HOST:PORT",
                                 help="Where per-image tasks run (default: local processes).")
    ] = None,
    db: Annotated[str, typer.Option("--db", metavar="PATH|URL",
                                    help="SQLite path or postgresql:// URL.")] = "sitelens-scan.db",
    fmt: SimpleFormatOpt = SimpleFormat.console,
    output: OutputOpt = None,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="DIR", help="Also write a static HTML site into this directory.")
    ] = None,
    all_images: Annotated[bool, typer.Option("--all", help="Report the whole store, not only this run.")] = False,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY",
        help="Exit 1 when an audited image has unsuppressed findings at or above this severity: critical, "
             "high, medium, low, info, or none (the default for scans).")] = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE", envvar="SITELENS_CONFIG",
                                                help="sitelens config file.")] = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Audit every image of a registry (or a list), skipping digests already audited. Exit 3 when
    any target failed, else 1 when an image has findings at or above --fail-on, else 0."""
    from .config import FAIL_ON_CHOICES
    from .report.outputs import terminal_width
    from .scan.command import ScanRequest, run_scan_command

    with _guard():
        threshold = _severity_choice(fail_on, "--fail-on", FAIL_ON_CHOICES) or "none"
        request = ScanRequest(
            registry=registry, repo=repo, tag=tag, images=images, workers=workers, executor=executor, db=db,
            json=fmt == SimpleFormat.json, html=html, all_images=all_images, fail_on=threshold,
            config=config, platform=platform, insecure_registries=tuple(insecure_registry or ()),
            use_cache=not no_cache, cache_dir=cache_dir,
            width=terminal_width((output is None or str(output) == "-") and sys.stdout.isatty()),
        )
        text, code = run_scan_command(request, source_options(platform, insecure_registry))
        _emit(text, output)
    raise typer.Exit(code)


def _user_options(values: list[str] | None) -> list[str]:
    """``--user UID[:GID]`` values, validated; a malformed one is a usage error (exit 2)."""
    if not values:
        return []  # without importing the inventory model: a cached audit never needs it
    from .errors import UsageError
    from .inventory.identities import parse_user_option

    out = []
    for u in values or []:
        try:
            out.append(parse_user_option(u))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return out


@app.command()
def inventory(
    ref: RefArg,
    fmt: SimpleFormatOpt = SimpleFormat.console,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", metavar="UID[:GID]", help="Also show the import path for UID[:GID]; repeatable."),
    ] = None,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    timeout: TimeoutOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """What is installed where, by whom, and visible to whom: interpreters, venvs, sys.path per
    identity, distributions. No judgement (see `audit`)."""
    from .inventory.builder import build_inventory
    from .inventory.identities import resolve_identities
    from .pipeline import load
    from .report.inventory import render_inventory

    with _guard():
        users = _user_options(user)
        with load(ref, source_options(platform, insecure_registry, timeout), cache_dir, not no_cache,
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
    from .inventory.identities import resolve_identities
    from .inventory.import_truth import ImportTruth, cannot_start
    from .permissions import Cred
    from .pipeline import load
    from .report.why import WhyResult, render_why_console, render_why_json

    top = module.strip().split(".")[0]
    with _guard():
        if not top.isidentifier():
            raise UsageError(f"{module!r} is not a module name")
        users = _user_options(user)
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
                    res = truth.resolver(env, cred, entries, env.pth_effects.get(ident.name, []))
                    mi = truth.one(res, cred, entries, top, modules.get(top, []))
                    results.append(WhyResult(env, ident.name, None, mi))
            if fmt is SimpleFormat.json:
                text = render_why_json(top, loaded.image, results)
            else:
                text = render_why_console(top, loaded.image, results, _terminal_width())
            _emit(text, output)


def _emit(text: str, output: Path | None) -> None:
    from .report.progress import stop

    stop()  # the live progress line ends before the report starts
    if output is None or str(output) == "-":  # -o - is stdout, never a file named "-"
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
    """Global options; the help text is HELP above (typer shows the app's help)."""
    from .report.progress import silence

    global _TIMEOUT
    _TIMEOUT = timeout
    # per-command switches start off on every invocation (tests run many in one process)
    _DEBUG["on"] = False
    silence(False)


def main() -> None:
    # An audit builds a few hundred thousand objects that live until it ends (layer entries, the
    # filesystem, the inventory): with CPython's default thresholds the collector traverses them
    # again and again and frees nothing (≈ 0.06 s of a 0.9 s audit from cached layers, 0.7 s of
    # 4.5 s on 5 GB). Cycles are still collected, just after 50 000 allocations instead of 700.
    import gc

    gc.set_threshold(50_000, 20, 20)
    app()
