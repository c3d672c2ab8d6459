"""Two audits compared: what a change to an image fixed, added or left alone.

Works on the JSON contract (DESIGN §6), so either side can be an image audited now or a report
saved by an earlier run (``sitelens audit -f json -o old.json``). Findings are matched by
fingerprint, which ignores rebuild noise (versions, layers, sizes), so "the same problem" stays
unchanged across a rebuild; distributions are matched per environment by name and site dir,
so an upgrade reads as *changed* (3.1.2 → 3.1.4), not as one removed and one added.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .findings import at_or_above


@dataclass
class DistChange:
    environment: str
    name: str
    site_dir: str
    old: str | None  # version(s); None: added
    new: str | None  # version(s); None: removed

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "name": self.name, "site_dir": self.site_dir,
                "old_version": self.old, "new_version": self.new, "change": self.kind}


@dataclass
class Diff:
    old: dict[str, Any]  # the image block of each side
    new: dict[str, Any]
    added: list[dict[str, Any]] = field(default_factory=list)  # findings, as in the JSON report
    fixed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    distributions: list[DistChange] = field(default_factory=list)
    waste: dict[str, dict[str, float | int | None]] = field(default_factory=dict)  # key -> old/new/delta

    def failing(self, fail_on: str) -> list[dict[str, Any]]:
        """New, unsuppressed findings at or above ``fail_on``: what a PR gate stops on."""
        if fail_on == "none":
            return []
        return [f for f in self.added if not f.get("suppressed") and at_or_above(f["severity"], fail_on)]

    def to_json(self, fail_on: str) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "old": self.old, "new": self.new,
            "findings": {"added": self.added, "fixed": self.fixed, "unchanged": self.unchanged},
            "distributions": [c.to_json() for c in self.distributions],
            "waste": self.waste,
            "fail_on": fail_on,
            "exit_code": 1 if self.failing(fail_on) else 0,
        }


def load_report(path: Path) -> dict[str, Any]:
    """A saved ``sitelens audit -f json`` report, checked enough to be diffed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read report {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{path} is not a JSON report (sitelens audit -f json)") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or not isinstance(doc.get("findings"), list):
        raise UsageError(f"{path} is not a sitelens JSON report with schema_version 1")
    return doc


def is_report(ref: str) -> bool:
    """A reference ending in ``.json`` names a saved report (no image reference looks like that)."""
    return ref.endswith(".json")


def _dists(doc: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(environment, name, site dir) → its versions there ("2.1.2, 2.1.5" when one site dir holds
    two metadata dirs of the distribution)."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for env in doc.get("environments") or []:
        for d in env.get("distributions") or []:
            key = (env.get("interpreter") or "?", d["name"], posixpath.dirname(d["path"]))
            found.setdefault(key, []).append(d.get("version") or "unknown")
    return {k: ", ".join(sorted(v)) for k, v in found.items()}


_WASTE_KEYS = ("total_bytes", "wasted_bytes", "efficiency")


def compare(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    before = {f["fingerprint"]: f for f in old.get("findings") or []}
    after = {f["fingerprint"]: f for f in new.get("findings") or []}
    diff = Diff(old=old.get("image") or {}, new=new.get("image") or {})
    diff.added = [f for k, f in after.items() if k not in before]
    diff.fixed = [f for k, f in before.items() if k not in after]
    diff.unchanged = [f for k, f in after.items() if k in before]
    od, nd = _dists(old), _dists(new)
    for key in sorted(od.keys() | nd.keys()):
        if key in od and key in nd and od[key] == nd[key]:
            continue
        diff.distributions.append(DistChange(key[0], key[1], key[2], od.get(key), nd.get(key)))
    ow, nw = old.get("waste") or {}, new.get("waste") or {}
    for k in _WASTE_KEYS:
        a, b = ow.get(k), nw.get(k)
        delta = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        diff.waste[k] = {"old": a, "new": b, "delta": delta}
    return diff
