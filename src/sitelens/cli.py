"""The ``sitelens`` command line: thin typer commands that compose the pipeline stages.

Every command runs inside :func:`_guard`, which turns any :class:`SitelensError` into one line on
stderr and the documented exit code (DESIGN §4), so no bad input ever shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, TypeVar

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
)

T = TypeVar("T")


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


def run_guarded(fn: Callable[[], T]) -> T:
    with _guard():
        return fn()


# Options shared by the commands that read an image.
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="os/arch[/variant] to pick from a multi-platform index.")
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option("--insecure-registry", help="Registry host allowed over plain HTTP (loopback always is)."),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the layer index cache.")]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Layer index cache (default $XDG_CACHE_HOME/sitelens).")
]


def source_options(platform: str | None, insecure: list[str] | None) -> SourceOptions:
    return SourceOptions(platform=platform, insecure_registries=tuple(insecure or ()))


def progress_for_tty():  # type: ignore[no-untyped-def]
    """A progress callback for the layer loader, or None when stdout is not an interactive tty."""
    import os

    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    from rich.console import Console

    console = Console(stderr=True)

    def report(layer, state):  # type: ignore[no-untyped-def]
        console.print(f"[dim]layer {layer.index} {layer.diff_id[7:19]} {state}[/dim]")

    return report


@app.command()
def layers(
    ref: Annotated[str, typer.Argument(help="Image reference (see `sitelens --help`).")],
    fmt: Annotated[SimpleFormat, typer.Option("--format", "-f")] = SimpleFormat.console,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
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
    ref: Annotated[str, typer.Argument(help="Image reference.")],
    path: Annotated[str, typer.Argument(help="Directory (or file) inside the image.")] = "/",
    fmt: Annotated[SimpleFormat, typer.Option("--format", "-f")] = SimpleFormat.console,
    platform: PlatformOpt = None,
    insecure_registry: InsecureOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
) -> None:
    """List a directory of the merged filesystem with mode, owner, size and layer."""
    from .pipeline import load
    from .report.listing import render_listing

    with _guard(), load(ref, source_options(platform, insecure_registry), cache_dir, not no_cache) as loaded:
        _emit(render_listing(loaded.fs, path, fmt.value), None)


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
) -> None:
    """Image references: docker-archive:PATH | oci:DIR[:TAG] | oci-archive:PATH |
    registry:NAME[:TAG|@DIGEST] | docker:NAME | podman:NAME | dir:PATH | NAME[:TAG] (engine, then registry).

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/config error, 3 image unreadable.
    """


def main() -> None:
    app()
