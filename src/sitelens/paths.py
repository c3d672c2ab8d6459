"""Path normalisation on the hot path: nearly every path a package database or RECORD names is
already absolute and normal, and ``posixpath.normpath`` costs a split and a join per call."""

from __future__ import annotations

import posixpath


def normpath(path: str) -> str:
    """``posixpath.normpath(path)``, returning an already normal absolute path as it is."""
    if path[:1] == "/" and "//" not in path and "/." not in path and (path[-1] != "/" or path == "/"):
        return path
    return posixpath.normpath(path)
