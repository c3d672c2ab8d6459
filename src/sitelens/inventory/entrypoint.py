"""Which Python the image's Entrypoint/Cmd runs, with which flags, found without running it.

The runtime execs ``Entrypoint + Cmd`` (or ``Cmd`` alone), looking a bare name up on the image's
PATH. Shell forms (``sh -c "exec python app.py"``), ``env`` and small init wrappers (tini,
dumb-init) are seen through; a script is followed through its ``#!`` line (Linux passes everything
after the interpreter as one argument, so ``#!/usr/bin/python3 -sE`` means ``-s -E``); a pyenv shim
is followed to the version pyenv would choose (:mod:`.pyenv`), ``poetry run``/``pdm run`` to the
project's environment (:mod:`.project_runner`).
"""

from __future__ import annotations

import posixpath
import re
import shlex

from ..fs import Filesystem
from ..image import ImageConfig
from . import _pyfs
from .model import Entrypoint
from .project_runner import project_run
from .pyenv import pyenv_select, pyenv_shim
from .scripts import parse_shebang

_PY = re.compile(r"^python(\d(\.\d+)?)?[dmu]*$")
_WRAPPERS = {"tini", "tini-static", "dumb-init", "catatonit", "gosu", "su-exec"}
_SHELLS = {"sh", "bash", "dash", "ash", "zsh"}
_ARG_OPTS = {"W", "X", "Q"}  # python options that take a value
MAX_HOPS = 8


def which(fs: Filesystem, name: str, config: ImageConfig) -> str | None:
    """PATH lookup inside the image, as execvp would do it."""
    if "/" in name:
        return _pyfs.abspath(name, config.workdir or "/")
    for d in config.path_env:
        if not d:
            d = config.workdir or "/"
        cand = posixpath.join(d, name)
        node = fs.lookup(cand)
        if node is not None and node.kind in ("file", "hardlink") and node.mode & 0o111:
            return cand
    return None


def _python_flags(args: list[str]) -> tuple[list[str], str | None]:
    """Flags before the script, and the script (or ``-m mod`` / ``-c``)."""
    flags: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            return flags, f"-m {args[i + 1]}"
        if a.startswith("-m") and len(a) > 2:
            return flags, f"-m {a[2:]}"
        if a == "-c":
            return flags, "-c"
        if a.startswith("--") or a == "-":
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            letters = a[1:]
            for j, ch in enumerate(letters):
                if ch in _ARG_OPTS:
                    if j == len(letters) - 1:
                        i += 1  # the value is the next argument
                    break
                if ch == "c":
                    return flags, "-c"
                if ch == "m":
                    rest = letters[j + 1 :] or (args[i + 1] if i + 1 < len(args) else "")
                    return flags, f"-m {rest}"
                flags.append("-" + ch)
            i += 1
            continue
        return flags, a
    return flags, None


MAX_SHELL_COMMAND = 16 << 10


def _strip_wrappers(argv: list[str]) -> list[str]:
    for _ in range(MAX_HOPS):
        if not argv:
            return argv
        base = posixpath.basename(argv[0])
        if base in _SHELLS and len(argv) >= 3 and argv[1] in ("-c", "-ec", "-xc", "-exc"):
            if len(argv[2]) > MAX_SHELL_COMMAND:
                # shlex builds each token by string concatenation: quadratic on a hostile
                # megabyte. A command this long is not one whose interpreter we can name.
                return argv
            try:
                words = shlex.split(argv[2])
            except ValueError:
                return argv
            while words and (words[0] == "exec" or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
                words = words[1:]
            argv = words
            continue
        if base == "env":
            rest = argv[1:]
            while rest and (rest[0].startswith("-") or "=" in rest[0]):
                rest = rest[1:]
            argv = rest
            continue
        if base in _WRAPPERS:
            rest = argv[1:]
            if "--" in rest:
                rest = rest[rest.index("--") + 1 :]
            else:
                while rest and rest[0].startswith("-"):
                    rest = rest[1:]
            argv = rest
            continue
        return argv
    return argv


def resolve_entrypoint(fs: Filesystem, config: ImageConfig) -> Entrypoint | None:
    argv = list(config.entrypoint or []) + list(config.cmd or []) if config.entrypoint else list(config.cmd or [])
    if not argv:
        return None
    ep = Entrypoint(argv=argv)
    cur = _strip_wrappers(list(argv))
    for _ in range(MAX_HOPS):
        if not cur:
            return ep
        prog = which(fs, cur[0], config)
        if prog is None:
            return ep
        run = project_run(fs, prog, cur[1:], config, lambda name: which(fs, name, config))
        if run is not None:
            target, ep.selected_by = run
            if target is None:
                return ep
            cur = target
            continue
        # a pyenv shim is named python too: follow it before taking the name for an interpreter
        shim = pyenv_shim(fs, prog)
        if shim is not None:
            chosen, why = pyenv_select(fs, config, shim, posixpath.basename(prog))
            ep.selected_by = why
            if chosen is None:
                return ep
            cur = [chosen, *cur[1:]]
            continue
        if _PY.match(posixpath.basename(prog)) or _PY.match(posixpath.basename(fs.resolve(prog) or "")):
            ep.interpreter = prog
            flags, script = _python_flags(cur[1:])
            ep.flags = [*ep.flags, *flags]
            ep.script = ep.script or script
            return ep
        node = fs.lookup(prog)
        head = node.entry.head if node is not None else None
        if not head:
            return ep
        parsed = parse_shebang(head)
        if parsed is None:
            return ep
        interp, arg = parsed
        ep.script = ep.script or prog
        shebang = [interp] + ([arg] if arg else [])
        if posixpath.basename(interp) == "env":
            # `#!/usr/bin/env python3` (or `env -S python3 -s`): look the name up on PATH
            words = arg.split()
            if words and words[0] == "-S":
                words = words[1:]
            shebang = words
        else:
            shebang = _strip_wrappers(shebang)
        cur = [*shebang, prog, *cur[1:]]
    return ep
