"""``poetry run CMD`` and ``pdm run CMD`` in an entrypoint: the project environment they run CMD in.

Both put the project's environment first and exec CMD there, so following the ``poetry`` script's
``#!`` line would name the tool's own Python, not the application's. Followed from files:

- PDM: the interpreter recorded in the project's ``.pdm-python`` (what ``pdm use`` and
  ``pdm install`` write), else the in-project ``.venv``;
- Poetry: the in-project ``.venv`` (used when it exists unless ``virtualenvs.in-project`` is set
  false in a config file sitelens does not read).

CMD is looked up in that environment's ``bin`` first, then on PATH. A project without an in-project
environment (Poetry's cache-dir venvs, PDM's ``__pypackages__``) is reported as not followed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from ..fs import Filesystem
from . import _pyfs

RUNNERS = ("poetry", "pdm")


def _executable(fs: Filesystem, path: str) -> bool:
    node = fs.lookup(path)
    return node is not None and node.kind in ("file", "hardlink") and bool(node.mode & 0o111)


def _project_bin(fs: Filesystem, tool: str, project: str) -> tuple[str | None, str]:
    if tool == "pdm":
        recorded = fs.read_text(posixpath.join(project, ".pdm-python"))
        line = recorded.strip().splitlines()[0].strip() if recorded and recorded.strip() else ""
        if line.startswith("/"):
            return posixpath.dirname(line), f"{project}/.pdm-python"
    venv = posixpath.join(project, ".venv")
    if fs.lookup(posixpath.join(venv, "pyvenv.cfg")) is not None:
        return posixpath.join(venv, "bin"), f"in-project venv {venv}"
    return None, ""


def project_run(fs: Filesystem, prog: str, args: list[str], workdir: str,
                path_lookup: Callable[[str], str | None]) -> tuple[list[str] | None, str] | None:
    """``(argv to follow, how it was chosen)`` for ``poetry run``/``pdm run``; ``(None, why)`` when
    the environment cannot be told from files; None when ``prog`` is not such a runner."""
    tool = posixpath.basename(prog)
    if tool not in RUNNERS or len(args) < 2 or args[0] != "run":
        return None
    cmd = args[1]
    if cmd.startswith("-"):
        return None, f"{tool} run {cmd}: options before the command are not followed"
    project = posixpath.normpath(workdir or "/")
    bindir, origin = _project_bin(fs, tool, project)
    if bindir is None:
        return None, (f"{tool} run: no in-project environment in {project}; the one {tool} would use "
                      "depends on its cache and config (not followed)")
    if "/" in cmd:
        target: str | None = _pyfs.abspath(cmd, project)
    else:
        cand = posixpath.join(bindir, cmd)
        target = cand if _executable(fs, cand) else path_lookup(cmd)
    if target is None:
        return None, f"{tool} run: {cmd} is neither in {bindir} nor on PATH"
    return [target, *args[2:]], f"{tool} run ({origin})"
