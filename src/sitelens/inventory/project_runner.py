"""``poetry run CMD`` and ``pdm run CMD`` in an entrypoint: the project environment they run CMD in.

Both put the project's environment first and exec CMD there, so following the ``poetry`` script's
``#!`` line would name the tool's own Python, not the application's. Followed from files:

- PDM: the interpreter recorded in the project's ``.pdm-python`` (what ``pdm use`` and
  ``pdm install`` write), else the in-project ``.venv``;
- Poetry: the in-project ``.venv`` (used when it exists unless ``virtualenvs.in-project`` is set
  false in a config file sitelens does not read), else the venv in its cache dir,
  ``{POETRY_VIRTUALENVS_PATH or {POETRY_CACHE_DIR or $XDG_CACHE_HOME/pypoetry or
  ~/.cache/pypoetry}/virtualenvs}/{name}-{hash}-pyX.Y`` where ``hash`` is the first 8 characters of
  the urlsafe base64 of the sha256 of the project directory (Poetry's ``generate_env_name``);
  with ``POETRY_VIRTUALENVS_CREATE=false`` Poetry runs in its own environment, which is what its
  script's ``#!`` names, so it is not treated as a runner.

CMD is looked up in that environment's ``bin`` first, then on PATH. A project whose environment
cannot be told from files (PDM's ``__pypackages__``, several Poetry venvs for one project) is
reported as not followed.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Callable

from ..fs import Filesystem
from ..image import ImageConfig
from . import _pyfs
from .requirement_files import toml_document

RUNNERS = ("poetry", "pdm")


def _executable(fs: Filesystem, path: str) -> bool:
    node = fs.lookup(path)
    return node is not None and node.kind in ("file", "hardlink") and bool(node.mode & 0o111)


def poetry_env_name(name: str, project: str) -> str:
    """Poetry's ``EnvManager.generate_env_name`` for a project directory (already real)."""
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", name.lower())[:42]
    digest = base64.urlsafe_b64encode(hashlib.sha256(project.encode()).digest()).decode()[:8]
    return f"{sanitized}-{digest}"


def _home(fs: Filesystem, config: ImageConfig) -> str | None:
    if config.env.get("HOME"):
        return config.env["HOME"]
    user = (config.user or "root").split(":")[0]
    for line in (fs.read_text("/etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and user in (parts[0], parts[2]):
            return parts[5]
    return "/root" if user in ("root", "0") else None


def _poetry_cache_venv(fs: Filesystem, config: ImageConfig, project: str) -> tuple[str | None, str]:
    doc = toml_document(fs.read_text(posixpath.join(project, "pyproject.toml")) or "") or {}
    tool = doc.get("tool")
    tables = [doc.get("project"), tool.get("poetry") if isinstance(tool, dict) else None]
    name = next((t["name"] for t in tables if isinstance(t, dict) and isinstance(t.get("name"), str)), None)
    if name is None:
        return None, f"poetry run: {project}/pyproject.toml names no project (not followed)"
    env = config.env
    home = _home(fs, config)
    if env.get("POETRY_CACHE_DIR"):
        cache: str | None = env["POETRY_CACHE_DIR"]
    elif env.get("XDG_CACHE_HOME"):
        cache = f"{env['XDG_CACHE_HOME']}/pypoetry"
    else:
        cache = f"{home}/.cache/pypoetry" if home else None
    venvs = env.get("POETRY_VIRTUALENVS_PATH") or (f"{cache}/virtualenvs" if cache else None)
    if venvs is None:
        return None, "poetry run: no HOME, so no cache dir (not followed)"
    prefix = poetry_env_name(name, fs.resolve(project) or project) + "-py"
    found = sorted(n for n in fs.listdir(venvs) if n.startswith(prefix))
    if len(found) != 1:
        what = "no venv" if not found else f"{len(found)} venvs ({', '.join(found)})"
        return None, f"poetry run: {what} named {prefix}X.Y in {venvs} (not followed)"
    return posixpath.join(venvs, found[0], "bin"), f"Poetry's venv {venvs}/{found[0]}"


def _project_bin(fs: Filesystem, config: ImageConfig, tool: str, project: str) -> tuple[str | None, str]:
    if tool == "pdm":
        recorded = fs.read_text(posixpath.join(project, ".pdm-python"))
        line = recorded.strip().splitlines()[0].strip() if recorded and recorded.strip() else ""
        if line.startswith("/"):
            return posixpath.dirname(line), f"{project}/.pdm-python"
    venv = posixpath.join(project, ".venv")
    if fs.lookup(posixpath.join(venv, "pyvenv.cfg")) is not None:
        return posixpath.join(venv, "bin"), f"in-project venv {venv}"
    if tool == "poetry":
        return _poetry_cache_venv(fs, config, project)
    return None, (f"{tool} run: no in-project environment in {project}; the one {tool} would use "
                  "depends on its config (not followed)")


def project_run(fs: Filesystem, prog: str, args: list[str], config: ImageConfig,
                path_lookup: Callable[[str], str | None]) -> tuple[list[str] | None, str] | None:
    """``(argv to follow, how it was chosen)`` for ``poetry run``/``pdm run``; ``(None, why)`` when
    the environment cannot be told from files; None when ``prog`` is not such a runner."""
    tool = posixpath.basename(prog)
    if tool not in RUNNERS or len(args) < 2 or args[0] != "run":
        return None
    if tool == "poetry" and config.env.get("POETRY_VIRTUALENVS_CREATE", "").lower() in ("false", "0"):
        return None
    cmd = args[1]
    if cmd.startswith("-"):
        return None, f"{tool} run {cmd}: options before the command are not followed"
    project = posixpath.normpath(config.workdir or "/")
    bindir, origin = _project_bin(fs, config, tool, project)
    if bindir is None:
        return None, origin
    if "/" in cmd:
        target: str | None = _pyfs.abspath(cmd, project)
    else:
        cand = posixpath.join(bindir, cmd)
        target = cand if _executable(fs, cand) else path_lookup(cmd)
    if target is None:
        return None, f"{tool} run: {cmd} is neither in {bindir} nor on PATH"
    return [target, *args[2:]], f"{tool} run ({origin})"
