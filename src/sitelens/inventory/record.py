"""RECORD files (PEP 376 / 627): pure bytes → entries, malformed rows reported, never raised."""

from __future__ import annotations

import binascii
import csv
import io
import posixpath
from typing import TYPE_CHECKING

from ..paths import normpath
from .model import RecordEntry

if TYPE_CHECKING:
    from ..fs import Filesystem

MAX_WARNINGS = 20


_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADS = (b"", b"===", b"==", b"=")


def decode_digest(value: str) -> bytes:
    """urlsafe base64 without padding → raw bytes (raises ValueError). What
    ``base64.urlsafe_b64decode`` does, in one call: RECORDs hold tens of thousands of rows."""
    try:
        return binascii.a2b_base64(value.encode("ascii").translate(_URLSAFE) + _PADS[len(value) % 4])
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from None


def resolve_record_path(raw: str, site_dir: str) -> str:
    """RECORD paths are relative to the dir holding the .dist-info (or absolute)."""
    if raw.startswith("/"):
        return posixpath.normpath(raw)
    # posixpath.join's result for a relative ``raw``, without its per-call type checks
    joined = site_dir + raw if not site_dir or site_dir[-1] == "/" else f"{site_dir}/{raw}"
    out = normpath(joined)
    return out if out[:1] == "/" and out[1:2] != "/" else "/" + out.lstrip("/")


def _unquoted_rows(text: str) -> list[list[str]] | None:
    """The csv reader's rows, split by str methods, for a RECORD with nothing to unquote (pip
    quotes no path of a normal wheel) and CRLF or LF line ends only: a third of the parse of a
    big RECORD. None when the csv reader must read it (a quote, a lone CR, or a line long enough
    for a field to pass the reader's size limit: it raises there, and the caller warns)."""
    if '"' in text:
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if max(map(len, lines)) >= csv.field_size_limit():
        return None
    # an empty line is [''] here and [] for the reader: the caller skips both alike
    return [line.split(",") for line in lines]


def parse_record(
    data: bytes, site_dir: str, where: str, fs: Filesystem | None = None
) -> tuple[list[RecordEntry], list[str]]:
    """The rows of a RECORD. With ``fs``, a row naming a file of the image holds the file's own
    path, digest and size objects where they are equal: the inventory keeps every row of every
    RECORD for the whole audit (10^5 rows in a big image), and a second copy of each path and
    digest was a quarter of its memory."""
    entries: list[RecordEntry] = []
    warnings: list[str] = []

    def warn(msg: str) -> None:
        if len(warnings) < MAX_WARNINGS:
            warnings.append(f"{where}: {msg}")
        elif len(warnings) == MAX_WARNINGS:
            warnings.append(f"{where}: more malformed rows not reported")

    text = data.decode("utf-8", "replace")
    if "\0" in text:
        warn("contains NUL bytes; they were dropped")
        text = text.replace("\0", "")
    rows = _unquoted_rows(text)
    if rows is None:
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            warn(f"not valid CSV ({exc}); reading it line by line")
            rows = [line.split(",") for line in text.splitlines()]
    # A big wheel's RECORD has thousands of rows: each entry is built once with all its fields.
    append = entries.append
    get = fs.get if fs is not None else None
    algos: dict[str, str] = {}  # one string per algorithm name, not one per row
    for n, row in enumerate(rows, 1):
        fields = len(row)
        if not fields or (fields == 1 and not row[0].strip()):
            continue
        if fields > 3:
            warn(f"row {n} has {fields} fields (3 expected)")
        raw = row[0]
        if not raw:
            warn(f"row {n} has an empty path")
            continue
        algo: str | None = None
        digest: bytes | None = None
        size: int | None = None
        hash_field = row[1].strip() if fields > 1 else ""
        if hash_field:
            name, eq, value = hash_field.partition("=")
            if not eq or not name or not value:
                warn(f"row {n} has a malformed hash {hash_field[:40]!r}")
            else:
                try:
                    digest = decode_digest(value)
                    algo = algos.get(name)
                    if algo is None:
                        algo = algos[name] = name.lower()
                except ValueError:
                    warn(f"row {n} has an undecodable digest {value[:40]!r}")
        size_field = row[2].strip() if fields > 2 else ""
        if size_field:
            try:
                size = int(size_field)
            except ValueError:
                size = None
            if size is None or size < 0:
                size = None
                warn(f"row {n} has a malformed size {size_field[:20]!r}")
        path = resolve_record_path(raw, site_dir)
        if get is not None:
            node = get(path)
            if node is not None:
                e = node.entry
                path = e.path
                if digest is not None and digest == e.sha256:
                    digest = e.sha256
                if size is not None and size == e.size:
                    size = e.size
        append(RecordEntry(path, algo, digest, size))
    return entries, warnings
