"""Software Collections (RHEL/CentOS 7 SCL): the environment an ``enable`` script sets up.

A collection lives under ``/opt/rh/<collection>/root`` and ships ``/opt/rh/<collection>/enable``,
a shell fragment of ``export VAR=value`` lines that puts the collection first on PATH and
LD_LIBRARY_PATH (its interpreter needs its own libpython), MANPATH, PKG_CONFIG_PATH... An image
runs a collection's Python in one of three ways, modelled here from files alone:

- its ENV was set from the enable script (s2i images): nothing to do, PATH already says it;
- its entrypoint shell sources the script first: ``source /opt/rh/C/enable && python app.py``,
  ``. scl_source enable C; python …`` (scl-utils' ``scl_source`` finds the collection's prefix in
  ``/etc/scl/conf/C``, else ``/opt/rh``), or s2i's ``BASH_ENV`` file that bash sources before a
  non-interactive command;
- ``scl enable C [C2…] -- cmd args`` or ``scl enable C 'cmd args'``.

Only what such scripts contain is evaluated: ``export``/plain assignments (``$V``, ``${V}``,
``${V:+word}``, ``${V:-word}`` expanded against the environment built so far), ``unset``, and
nested ``source``/``.`` of further files. Anything else in a script (conditionals, functions,
command substitution) is skipped, so a script that computes PATH some other way is not followed.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from ..fs import Filesystem

SCL_PREFIX = "/opt/rh"
MAX_DEPTH = 4  # nested ``source``s
MAX_NESTING = 8  # ``${V:+${W:-…}}`` levels
MAX_WORD = 4096
MAX_LINE = 16 << 10
# An expanded value (PATH, LD_LIBRARY_PATH: a few hundred bytes in real scripts) longer than this
# is kept as written: ``A=$A$A`` repeated would otherwise double it per line, gigabytes in 30 lines
MAX_VALUE = 64 << 10
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand(value: str, env: dict[str, str], depth: int = 0) -> str:
    """Shell parameter expansion of one already-unquoted word (the forms enable scripts use:
    ``$V``, ``${V}``, ``${V:+word}``, ``${V:-word}``, nested as in ``${V:+:${V}}``). A word
    nested deeper than real scripts ever are, longer than a line of one, or expanding to more than
    :data:`MAX_VALUE`, is left as written: hostile bytes must not cost recursion, quadratic
    scanning or exponential growth."""
    if depth > MAX_NESTING or len(value) > MAX_WORD:
        return value
    out: list[str] = []
    size = 0
    i = 0
    while i < len(value):
        if value[i] != "$":
            piece = value[i]
            i += 1
        else:
            m = _NAME.match(value, i + 1)
            end = _closing_brace(value, i + 2) if m is None and value.startswith("${", i) else None
            if m:  # $V
                piece = env.get(m.group(0), "")
                i = m.end()
            elif end is not None:
                piece = _braced(value[i + 2:end], env, depth)
                i = end + 1
            else:
                piece = "$"
                i += 1
        size += len(piece)
        if size > MAX_VALUE:
            return value
        out.append(piece)
    return "".join(out)


def _closing_brace(value: str, start: int) -> int | None:
    depth = 1
    for j in range(start, len(value)):
        if value.startswith("${", j):
            depth += 1
        elif value[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return None


def _braced(inner: str, env: dict[str, str], depth: int) -> str:
    m = _NAME.match(inner)
    if m is None:
        return ""
    cur = env.get(m.group(0), "")
    rest = inner[m.end():]
    if rest.startswith(":+"):
        return expand(rest[2:], env, depth + 1) if cur else ""
    if rest.startswith(":-"):
        return cur if cur else expand(rest[2:], env, depth + 1)
    return cur


def enable_path(fs: Filesystem, collection: str) -> str:
    """``scl_source``'s lookup: the prefix in ``/etc/scl/conf/<collection>``, else /opt/rh."""
    conf = fs.read_text(f"/etc/scl/conf/{collection}") if "/" not in collection else None
    prefix = (conf or "").strip().splitlines()[0].strip() if conf and conf.strip() else SCL_PREFIX
    return posixpath.join(prefix, collection, "enable")


def enable_collections(fs: Filesystem, collections: list[str], env: dict[str, str]) -> None:
    """``scl enable``/``scl_source enable``: each collection's enable script, in order."""
    for c in collections:
        source_file(fs, enable_path(fs, c), env)


def source_file(fs: Filesystem, path: str, env: dict[str, str], depth: int = 0) -> bool:
    """Apply the assignments of a sourced shell file to ``env``; False when it is not in the image
    (or its bytes were not captured)."""
    if depth > MAX_DEPTH:
        return False
    text = fs.read_text(path)
    if text is None:
        return False
    for line in _logical_lines(text):
        run_simple(fs, line, env, depth)
    return True


def _logical_lines(text: str) -> list[list[str]]:
    """The simple commands of a script: lines split on ``;``/``&&``/``||`` into word lists."""
    out: list[list[str]] = []
    for raw in text.replace("\\\n", "").splitlines():
        if len(raw) > MAX_LINE:
            continue  # shlex is quadratic on one huge token; no enable script has such a line
        try:
            lex = shlex.shlex(raw, posix=True, punctuation_chars=";&|")
            lex.whitespace_split = True
            lex.commenters = "#"
            words = list(lex)
        except ValueError:
            continue
        out.extend(split_commands(words))
    return out


def split_commands(words: list[str]) -> list[list[str]]:
    cmds: list[list[str]] = [[]]
    for w in words:
        if w in (";", "&&", "||", "&"):
            cmds.append([])
        else:
            cmds[-1].append(w)
    return [c for c in cmds if c]


def run_simple(fs: Filesystem, words: list[str], env: dict[str, str], depth: int = 0) -> bool:
    """Evaluate one simple command if it changes the environment; True when it did something we
    model (an assignment, ``export``, ``unset``, a ``source``), False for any other command."""
    if not words:
        return False
    head = words[0]
    if head in ("source", ".") and len(words) >= 2:
        target = expand(words[1], env)
        if posixpath.basename(target) == "scl_source" and len(words) >= 4 and words[2] == "enable":
            enable_collections(fs, [expand(w, env) for w in words[3:]], env)
        else:
            source_file(fs, target, env, depth + 1)
        return True
    if head == "unset":
        for name in words[1:]:
            env.pop(name, None)
        return True
    args = words[1:] if head == "export" else words
    if head != "export" and not all(_ASSIGN.match(w) for w in words):
        return False  # ``X=1 prog``: an assignment for one command, not for the shell
    for w in args:
        m = _ASSIGN.match(w)
        if m:
            env[m.group(1)] = expand(m.group(2), env)
    return True


def scl_enable_command(argv: list[str]) -> tuple[list[str], list[str]] | None:
    """``scl enable C [C…] -- cmd…`` / ``scl enable C 'cmd'``: (collections, command argv)."""
    if len(argv) < 4 or posixpath.basename(argv[0]) != "scl" or argv[1] != "enable":
        return None
    rest = argv[2:]
    if "--" in rest:
        i = rest.index("--")
        return rest[:i], rest[i + 1:]
    # the last argument is the command string, the ones before it the collections
    try:
        return rest[:-1], shlex.split(rest[-1])
    except ValueError:
        return None
