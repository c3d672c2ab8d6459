"""``json.dumps(doc, indent=2, ensure_ascii=False)``, byte for byte, at about twice its speed.

With ``indent`` the standard library leaves its C encoder aside for a pure-Python generator that
yields every separator and value of the document separately: 0.15 s of a no-op rescan's
4 MB report (a thousand unchanged images, each with its findings), written after all the
network work. This walks the same tree with one call per value and string concatenation, using
the same scalar encoders (the C string escaper, ``int.__repr__``, ``float.__repr__``). Anything
it does not know (another type, a key that is not a scalar, a cycle) goes to ``json.dumps``,
which answers or raises exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

_encode_str: Callable[[str], str] = encode_basestring
_int = int.__repr__
_float = float.__repr__
_INF = float("inf")


class _Unknown(Exception):
    """A value the fast path leaves to ``json.dumps``."""


def _floatstr(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return _float(o)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return _encode_str(k)
    if isinstance(k, float):
        return _encode_str(_floatstr(k))
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, int):
        return _encode_str(_int(k))
    raise _Unknown


def _value(o: Any, nl: str, out: list[str], depth: int) -> None:
    """Append ``o`` encoded at the indentation ``nl`` ("\\n" + two spaces per level)."""
    if isinstance(o, str):
        out.append(_encode_str(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(_int(o))
    elif isinstance(o, float):
        out.append(_floatstr(o))
    elif depth > 200:  # deeper than any report: a cycle, or json.dumps's own recursion to answer
        raise _Unknown
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            if type(v) is str:  # most values: no call for them
                out.append(sep + _encode_str(v))
            else:
                out.append(sep)
                _value(v, inner, out, depth + 1)
            sep = "," + inner
        out.append(nl + "]")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for k, v in o.items():
            head = sep + (_encode_str(k) if type(k) is str else _key(k)) + ": "
            if type(v) is str:
                out.append(head + _encode_str(v))
            elif v is None:
                out.append(head + "null")
            elif type(v) is int:
                out.append(head + _int(v))
            else:
                out.append(head)
                _value(v, inner, out, depth + 1)
            sep = "," + inner
        out.append(nl + "}")
    else:
        raise _Unknown


def dumps_indented(doc: Any) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    try:
        _value(doc, "\n", out, 0)
    except _Unknown:
        return json.dumps(doc, indent=2, ensure_ascii=False)
    return "".join(out)
