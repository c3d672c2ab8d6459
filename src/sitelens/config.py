"""Audit configuration: ``[tool.sitelens]`` in pyproject.toml, ``.sitelens.toml``, or ``--config``.

Keys (``-`` and ``_`` are interchangeable)::

    fail-on = "high"                  # critical|high|medium|low|info|none
    requirements = ["requirements.txt"]   # host files, relative to the config file
    [severity]                        # per-rule overrides
    SL107 = "info"
    [waste]                           # SL306 thresholds (dive's names); unset = defaults
    lowest_efficiency = 0.9
    highest_wasted_bytes = 50_000_000
    highest_user_wasted_percent = 0.1
    min_wasted_bytes = 10_000_000     # floor: below it, small images never trip the gate
    [[suppress]]
    rule = "SL101"
    match = "jinja2"                  # distribution, path glob, owner or fingerprint; omit = all
    reason = "the pip copy is intended; tracked in OPS-12"
    expires = 2026-12-31              # optional: after it, the finding counts again

In pyproject.toml the same keys sit under ``[tool.sitelens]`` (``[tool.sitelens.severity]``,
``[[tool.sitelens.suppress]]`` …). Without ``--config``, the working directory's
``.sitelens.toml`` is read, else its pyproject.toml if it has a ``[tool.sitelens]`` table. Any
mistake (bad TOML, unknown key, unknown rule, bad date) is a :class:`UsageError` (exit 2): a gate
that silently ignores a typo in its own configuration would pass images it should stop.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .findings import SEVERITIES

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - Python 3.10: the tomli backport, a dependency there
    import tomli as _toml

FAIL_ON_CHOICES = (*SEVERITIES, "none")
DEFAULT_FAIL_ON = "high"
CONFIG_NAMES = (".sitelens.toml", "pyproject.toml")


@dataclass(frozen=True)
class Suppression:
    rule: str
    reason: str
    match: str | None = None
    expires: dt.date | None = None
    where: str = ""  # "FILE: suppress[N]" for messages

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "match": self.match,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class WasteThresholds:
    lowest_efficiency: float | None = None
    highest_wasted_bytes: int | None = None
    highest_user_wasted_percent: float | None = None
    min_wasted_bytes: int | None = None

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "lowest_efficiency": self.lowest_efficiency,
            "highest_wasted_bytes": self.highest_wasted_bytes,
            "highest_user_wasted_percent": self.highest_user_wasted_percent,
            "min_wasted_bytes": self.min_wasted_bytes,
        }


@dataclass(frozen=True)
class Config:
    fail_on: str = DEFAULT_FAIL_ON
    severity: dict[str, str] = field(default_factory=dict)
    suppress: tuple[Suppression, ...] = ()
    requirements: tuple[Path, ...] = ()
    waste: WasteThresholds = field(default_factory=WasteThresholds)
    source: Path | None = None  # the file read, None for defaults


def _norm(key: str) -> str:
    return key.replace("-", "_")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror or exc}") from None
    try:
        return _toml.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, _toml.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def _table(doc: dict[str, Any], path: Path, explicit: bool) -> dict[str, Any] | None:
    """The sitelens table of a file: [tool.sitelens] in any file that has one, else (for a
    .sitelens.toml or an explicit non-pyproject file) the top level."""
    tool = doc.get("tool")
    if isinstance(tool, dict) and "sitelens" in tool:
        table = tool["sitelens"]
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [tool.sitelens] must be a table")
        return table
    if path.name == "pyproject.toml":
        if explicit:
            raise UsageError(f"{path}: no [tool.sitelens] table")
        return None
    return doc


def _rule_id(value: object, where: str) -> str:
    from .rules.catalog import RULES

    if not isinstance(value, str) or value.strip().upper() not in RULES:
        raise UsageError(f"{where}: unknown rule {value!r} (see `sitelens rules`)")
    return value.strip().upper()


def _severity(value: object, where: str, allowed: tuple[str, ...] = SEVERITIES) -> str:
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise UsageError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value.strip().lower()


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{where}: expires must be a date like 2026-12-31, got {value!r}")


def _suppression(item: object, where: str) -> Suppression:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: each suppression must be a table with rule and reason")
    item = {_norm(k): v for k, v in item.items()}
    unknown = set(item) - {"rule", "match", "reason", "expires"}
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if "rule" not in item:
        raise UsageError(f"{where}: a suppression needs a rule")
    reason = item.get("reason")
    # A silenced warning without a reason is a decision nobody can review later.
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError(f"{where}: a suppression needs a non-empty reason")
    match = item.get("match")
    if match is not None and (not isinstance(match, str) or not match.strip()):
        raise UsageError(f"{where}: match must be a non-empty string")
    return Suppression(
        rule=_rule_id(item["rule"], where),
        reason=reason.strip(),
        match=match.strip() if isinstance(match, str) else None,
        expires=_date(item["expires"], where) if "expires" in item else None,
        where=where,
    )


def _number(value: object, where: str, kind: type, lo: float | None = None,
            hi: float | None = None) -> Any:
    num = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    ok = num is not None and (kind is not int or num.is_integer())
    if num is None or not ok or (lo is not None and num < lo) or (hi is not None and num > hi):
        rng = f" between {lo} and {hi}" if hi is not None else f" >= {lo}" if lo is not None else ""
        what = "whole number" if kind is int else "number"
        raise UsageError(f"{where}: expected a {what}{rng}, got {value!r}")
    return kind(num)


def _waste(table: object, where: str) -> WasteThresholds:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: waste must be a table")
    t = {_norm(k): v for k, v in table.items()}
    known = {"lowest_efficiency", "highest_wasted_bytes", "highest_user_wasted_percent",
             "min_wasted_bytes"}
    unknown = set(t) - known
    if unknown:
        raise UsageError(f"{where}: unknown waste key(s) {', '.join(sorted(unknown))}")

    def get(key: str, kind: type, lo: float | None, hi: float | None) -> Any:
        return _number(t[key], f"{where}.{key}", kind, lo, hi) if key in t else None

    return WasteThresholds(
        lowest_efficiency=get("lowest_efficiency", float, 0.0, 1.0),
        highest_wasted_bytes=get("highest_wasted_bytes", int, 0, None),
        highest_user_wasted_percent=get("highest_user_wasted_percent", float, 0.0, 1.0),
        min_wasted_bytes=get("min_wasted_bytes", int, 0, None),
    )


def parse_config(table: dict[str, Any], path: Path) -> Config:
    """Validate a sitelens table (already parsed TOML) into a :class:`Config`."""
    t = {_norm(k): v for k, v in table.items()}
    known = {"fail_on", "severity", "suppress", "requirements", "waste"}
    unknown = set(t) - known
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(known))})")
    fail_on = _severity(t["fail_on"], f"{path}: fail-on", FAIL_ON_CHOICES) \
        if "fail_on" in t else DEFAULT_FAIL_ON
    severity: dict[str, str] = {}
    sev_table = t.get("severity", {})
    if not isinstance(sev_table, dict):
        raise UsageError(f"{path}: severity must be a table of RULE = \"severity\"")
    for rule, sev in sev_table.items():
        rid = _rule_id(rule, f"{path}: severity")
        severity[rid] = _severity(sev, f"{path}: severity.{rid}")
    raw_supp = t.get("suppress", [])
    if not isinstance(raw_supp, list):
        raise UsageError(f"{path}: suppress must be an array of tables ([[suppress]])")
    suppress = tuple(
        _suppression(item, f"{path}: suppress[{i}]") for i, item in enumerate(raw_supp)
    )
    raw_req = t.get("requirements", [])
    if isinstance(raw_req, str):
        raw_req = [raw_req]
    if not isinstance(raw_req, list) or not all(isinstance(r, str) and r for r in raw_req):
        raise UsageError(f"{path}: requirements must be a list of file names")
    base = path.parent
    requirements = tuple((base / r) for r in raw_req)
    waste = _waste(t["waste"], f"{path}: waste") if "waste" in t else WasteThresholds()
    return Config(fail_on, severity, suppress, requirements, waste, path)


def load_config(explicit: Path | None = None, cwd: Path | None = None) -> Config:
    """The configuration for this run: ``--config FILE``, else discovered in ``cwd``. When it
    sets no waste thresholds, a ``.dive-ci`` in ``cwd`` supplies them (dive's CI gate)."""
    from dataclasses import replace

    from .dive_ci import read_dive_ci

    config = _load_config(explicit, cwd)
    if config.waste == WasteThresholds():
        dive = read_dive_ci(cwd or Path.cwd())
        if dive is not None:
            config = replace(config, waste=dive)
    return config


def _load_config(explicit: Path | None, cwd: Path | None) -> Config:
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"config file {explicit} does not exist")
        table = _table(_read_toml(explicit), explicit, explicit=True)
        assert table is not None
        return parse_config(table, explicit)
    here = cwd or Path.cwd()
    for name in CONFIG_NAMES:
        candidate = here / name
        if candidate.is_file():
            table = _table(_read_toml(candidate), candidate, explicit=False)
            if table is not None:
                return parse_config(table, candidate)
    return Config()
