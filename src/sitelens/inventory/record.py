"""RECORD files (PEP 376 / 627): pure bytes → entries, malformed rows reported, never raised."""

from __future__ import annotations

import binascii
import csv
import io
import posixpath

from ..paths import normpath
from .model import RecordEntry

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
    out = normpath(posixpath.join(site_dir, raw))
    return out if out[:1] == "/" and out[1:2] != "/" else "/" + out.lstrip("/")


def parse_record(data: bytes, site_dir: str, where: str) -> tuple[list[RecordEntry], list[str]]:
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
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        warn(f"not valid CSV ({exc}); reading it line by line")
        rows = [line.split(",") for line in text.splitlines()]
    for n, row in enumerate(rows, 1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) > 3:
            warn(f"row {n} has {len(row)} fields (3 expected)")
        raw = row[0]
        if not raw:
            warn(f"row {n} has an empty path")
            continue
        entry = RecordEntry(path=resolve_record_path(raw, site_dir), raw=raw)
        hash_field = row[1].strip() if len(row) > 1 else ""
        if hash_field:
            algo, eq, value = hash_field.partition("=")
            if not eq or not algo or not value:
                warn(f"row {n} has a malformed hash {hash_field[:40]!r}")
            else:
                try:
                    entry.digest = decode_digest(value)
                    entry.algo = algo.lower()
                except ValueError:
                    warn(f"row {n} has an undecodable digest {value[:40]!r}")
        size_field = row[2].strip() if len(row) > 2 else ""
        if size_field:
            try:
                entry.size = int(size_field)
                if entry.size < 0:
                    raise ValueError
            except ValueError:
                entry.size = None
                warn(f"row {n} has a malformed size {size_field[:20]!r}")
        entries.append(entry)
    return entries, warnings
