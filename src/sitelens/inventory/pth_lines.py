"""What a ``.pth`` ``import`` line does at start-up, for the lines whose effect is known.

``site.addpackage`` ``exec``s such a line while it builds ``sys.path``. Nothing is executed here:
a line is split into its ``;``-separated statements and each is matched against shapes whose
effect is known —

- ``import sys`` / ``import os, sys`` (stdlib modules only): no effect on the path;
- ``sys.path.insert(N, '<literal>')`` / ``sys.path.append('<literal>')``: the path changes there
  and then (before later site dirs are added);
- setuptools' ``distutils-precedence.pth`` (``_distutils_hack``): a ``sys.meta_path`` shim that
  makes ``import distutils`` load ``setuptools/_distutils`` when ``SETUPTOOLS_USE_DISTUTILS`` is
  ``local`` (the line's own default when unset: ``local`` since setuptools 60, ``stdlib`` before);
  resolved by :mod:`.imports`; ``sys.path`` unchanged;
- virtualenv's ``_virtualenv.pth`` (``import _virtualenv``): patches distutils/setuptools install
  schemes when those are imported; ``sys.path`` unchanged;
- setuptools' PEP 660 editable finders (``import __editable___…_finder; …install()``): a
  ``sys.meta_path`` finder, resolved by :mod:`.imports`;
- setuptools' ``*-nspkg.pth`` (``namespace_packages``): puts a module ``X`` into ``sys.modules``
  before any import, made from what the first such line finds in its own site dir (a regular
  package there is created without running its ``__init__``), whose ``__path__`` collects
  ``<sitedir>/X`` of every later line that finds something; a line that finds nothing raises and
  ends its file; resolved by :mod:`.imports`; ``sys.path`` unchanged.

Any other line is ``unknown``: it runs code of the image whose effect sitelens does not guess.
"""

from __future__ import annotations

import ast
import re

from .model import PthEffect

FINDER_LINE = re.compile(r"\b(__editable___[\w.]*_finder)\b")
NSPKG_LINE = re.compile(r"sys\.modules\.setdefault\('([\w.]+)'")
# modules whose import alone changes nothing on sys.path or sys.meta_path
_INERT = frozenset({"sys", "os", "site", "types", "importlib", "importlib.util", "importlib.machinery"})
# Real import lines are one statement or a few (setuptools' -nspkg lines, the longest, are ~600
# characters): a longer one is not parsed, so a hostile .pth costs neither time nor recursion.
MAX_LINE = 8192
MAX_SHOWN = 200


# setuptools 49–59 wrote ``os.environ.get(var, 'stdlib')`` (shim off unless asked for), 60+ 'local'
SHIM_DEFAULT = re.compile(r"environ\.get\(\s*[\w'\"]+\s*,\s*['\"](\w*)['\"]\s*\)")


def is_distutils_shim(line: str) -> bool:
    """setuptools' ``distutils-precedence.pth`` line (``_distutils_hack``'s ``add_shim``)."""
    return "_distutils_hack" in line and "add_shim" in line


def distutils_shim_default(line: str) -> str:
    """The ``SETUPTOOLS_USE_DISTUTILS`` value the line assumes when the variable is unset."""
    m = SHIM_DEFAULT.search(line)
    return m.group(1) if m else "local"


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _literal_path_call(node: ast.expr) -> tuple[str, int | None, str] | None:
    """``sys.path.insert(N, 'p')`` → ("insert", N, p); ``sys.path.append('p')`` → ("append", None, p)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    target = node.func.value
    if not (isinstance(target, ast.Attribute) and target.attr == "path" and isinstance(target.value, ast.Name)
            and target.value.id == "sys"):
        return None
    args = node.args
    if node.func.attr == "append" and len(args) == 1 and isinstance(args[0], ast.Constant) \
            and isinstance(args[0].value, str):
        return "append", None, args[0].value
    if node.func.attr == "insert" and len(args) == 2 and isinstance(args[0], ast.Constant) \
            and isinstance(args[0].value, int) and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
        return "insert", args[0].value, args[1].value
    return None


def interpret(pth: str, line: str, env: dict[str, str]) -> tuple[PthEffect, list[tuple[str, int | None, str]]]:
    """The effect of one ``import`` line, and the literal ``sys.path`` changes it makes, in order."""
    text = line.strip()
    finder = FINDER_LINE.search(text)
    if finder:
        return PthEffect(pth, line, "editable-finder", finder.group(1)), []
    nspkg = NSPKG_LINE.search(text)
    if nspkg and "f_locals['sitedir']" in text:
        return PthEffect(pth, line, "namespace-shim", f"sys.modules[{nspkg.group(1)!r}] set at start-up"), []
    if is_distutils_shim(text):
        default = distutils_shim_default(text)
        value = env.get("SETUPTOOLS_USE_DISTUTILS", default)
        if value != "local":
            why = (f"SETUPTOOLS_USE_DISTUTILS is {value!r}" if "SETUPTOOLS_USE_DISTUTILS" in env
                   else f"SETUPTOOLS_USE_DISTUTILS is unset and this setuptools defaults to {default!r}")
            return PthEffect(pth, line, "none", f"{why}, not 'local': the distutils shim stays off"), []
        return PthEffect(pth, line, "distutils-shim",
                         "`import distutils` loads setuptools/_distutils (a sys.meta_path shim)"), []
    if len(text) > MAX_LINE:
        return PthEffect(pth, line, "unknown", f"a {len(text)}-character line, not interpreted"), []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return PthEffect(pth, line, "unknown", "not valid Python: site reports the error and skips the rest "
                         "of the file"), []
    except (RecursionError, MemoryError, ValueError):
        return PthEffect(pth, line, "unknown", "too deeply nested to interpret"), []
    changes: list[tuple[str, int | None, str]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import) and all(a.name in _INERT and a.asname is None for a in stmt.names):
            continue
        if isinstance(stmt, ast.Import) and [a.name for a in stmt.names] == ["_virtualenv"]:
            return PthEffect(pth, line, "none", "virtualenv's install-scheme patch; sys.path unchanged"), []
        if isinstance(stmt, ast.Expr):
            call = _literal_path_call(stmt.value)
            if call is not None:
                changes.append(call)
                continue
        code = ast.get_source_segment(text, stmt) or text
        return PthEffect(pth, line, "unknown", f"runs `{_shown(code)}`, whose effect sitelens does not "
                         "model"), []
    if changes:
        return PthEffect(pth, line, "path", "; ".join(f"sys.path.{op}({'' if i is None else f'{i}, '}{p!r})"
                                                      for op, i, p in changes)), changes
    return PthEffect(pth, line, "none", "imports stdlib modules only"), []
