"""A team's existing ``.dive-ci`` (dive's CI gate file) read as sitelens waste thresholds.

dive reads, under ``rules:``, ``lowestEfficiency`` (0-1), ``highestWastedBytes`` (a byte size
such as ``20MB``, ``20MiB`` or ``20000000``) and ``highestUserWastedPercent`` (0-1); any of them
may be ``disabled``. These map one to one onto SL306's thresholds, so a repository that gates
on dive today gets the same gate from ``sitelens audit`` with no new config. The file is a tiny
YAML subset (``key: value`` lines, ``#`` comments), parsed here without a YAML dependency.
"""

from __future__ import annotations

import re
from pathlib import Path

from .config import WasteThresholds
from .errors import UsageError

FILE_NAME = ".dive-ci"
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?$", re.IGNORECASE)
_KEYS = {"lowestEfficiency": "lowest_efficiency", "highestWastedBytes": "highest_wasted_bytes",
         "highestUserWastedPercent": "highest_user_wasted_percent"}


def parse_size(text: str) -> int:
    """``20MB`` → 20_000_000 and ``20MiB`` → 20 << 20, as dive's humanize.ParseBytes reads them."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(text)
    number, prefix, binary = m.groups()
    power = "kmgt".find(prefix.lower()) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def parse_dive_ci(text: str, where: str) -> WasteThresholds:
    values: dict[str, float | int] = {}
    in_rules = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            in_rules = line.strip() == "rules:"
            continue
        if not in_rules:
            continue
        key, sep, value = line.strip().partition(":")
        value = value.strip().strip("\"'")
        if not sep or key not in _KEYS:
            raise UsageError(f"{where}:{n}: unknown dive rule {key!r} (known: {', '.join(_KEYS)})")
        if value.lower() == "disabled":
            continue
        try:
            values[_KEYS[key]] = parse_size(value) if key == "highestWastedBytes" else float(value)
        except ValueError:
            raise UsageError(f"{where}:{n}: {key} {value!r} is not a number") from None
        if key != "highestWastedBytes" and not 0 <= values[_KEYS[key]] <= 1:
            raise UsageError(f"{where}:{n}: {key} must be between 0 and 1")
    return WasteThresholds(
        lowest_efficiency=values.get("lowest_efficiency"),
        highest_wasted_bytes=int(values["highest_wasted_bytes"]) if "highest_wasted_bytes" in values else None,
        highest_user_wasted_percent=values.get("highest_user_wasted_percent"),
        min_wasted_bytes=0,  # dive has no floor: the same gate, byte for byte
    )


def read_dive_ci(directory: Path) -> WasteThresholds | None:
    path = directory / FILE_NAME
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return parse_dive_ci(text, str(path))
