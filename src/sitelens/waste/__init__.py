"""Wasted bytes: dive-compatible figures first, then sitelens's own, then the Python breakdown.

``compute_waste`` is a pure function of the merged filesystem (with its per-path history) and
the layer indexes; checks (``checks/waste.py``) and renderers (``report/layers.py``) only read
the :class:`WasteReport` it returns. Definitions and how they differ from dive: docs/waste.md.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..humanize import human_bytes
from .dive import DiveFigures, dive_figures
from .hidden import HiddenFigures, compute_hidden
from .python import PythonWaste, compute_python_waste

if TYPE_CHECKING:
    from ..fs import Filesystem
    from ..image import Image
    from ..inventory.model import Inventory, RecordEntry
    from ..layers.index import LayerIndex

__all__ = [
    "WasteReport", "compute_waste", "layer_waste", "python_waste", "human_bytes", "DiveFigures", "HiddenFigures",
    "PythonWaste",
]

OFFENDERS_IN_JSON = 50


@dataclass
class WasteReport:
    dive: DiveFigures
    hidden: HiddenFigures
    python: PythonWaste

    @property
    def total_bytes(self) -> int:
        """Σ bytes of regular files shipped by every layer."""
        return sum(lw.content_bytes for lw in self.hidden.layers)

    @property
    def wasted_bytes(self) -> int:
        """Reclaimable: every hidden copy (overwritten, re-shipped, deleted), not the kept one."""
        return self.hidden.wasted_bytes

    @property
    def metadata_bytes(self) -> int:
        return self.hidden.by_cause.get("metadata", 0)

    @property
    def efficiency(self) -> float:
        total = self.total_bytes
        return 1.0 if total == 0 else max(0.0, 1.0 - self.wasted_bytes / total)

    def to_json(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "wasted_bytes": self.wasted_bytes,
            "efficiency": self.efficiency,
            "content_change_bytes": self.wasted_bytes - self.metadata_bytes,
            "metadata_only_bytes": self.metadata_bytes,
            "by_cause": dict(self.hidden.by_cause),
            "by_layer": [lw.to_json() for lw in self.hidden.layers],
            "by_top_dir": [{"path": k, "bytes": v} for k, v in self.hidden.by_top_dir.items()],
            "offenders": [o.to_json() for o in self.hidden.offenders[:OFFENDERS_IN_JSON]],
            "offenders_total": len(self.hidden.offenders),
            "python": self.python.to_json(),
            "dive": self.dive.to_json(),
        }


def _inventory_records(inventory: Inventory) -> dict[str, list[RecordEntry]]:
    """RECORD path → entries the inventory parsed, where it parsed them against the RECORD's
    own parent dir (what the duplicate figure needs; any other RECORD is parsed there)."""
    out: dict[str, list[RecordEntry]] = {}
    for env in inventory.environments:
        for d in env.distributions:
            if d.kind == "dist-info" and d.record is not None and posixpath.dirname(d.metadata_path) == d.site_dir:
                out[f"{d.metadata_path}/RECORD"] = d.record
    return out


def layer_waste(fs: Filesystem, indexes: list[LayerIndex]) -> tuple[DiveFigures, HiddenFigures]:
    """The figures that need no inventory: dive's, and every hidden copy (the audit computes
    them beside the inventory)."""
    return dive_figures(indexes), compute_hidden(fs)


def python_waste(fs: Filesystem, inventory: Inventory | None = None) -> PythonWaste:
    """The Python breakdown; with the ``inventory`` its OS package databases and RECORDs are
    reused instead of read again."""
    if inventory is None:
        return compute_python_waste(fs)
    return compute_python_waste(fs, inventory.package_dbs, _inventory_records(inventory))


def compute_waste(
    fs: Filesystem, indexes: list[LayerIndex], image: Image | None = None, inventory: Inventory | None = None
) -> WasteReport:
    """``image`` is accepted for symmetry with the pipeline; every figure comes from ``fs`` and
    ``indexes`` (the layers' created_by are already on ``fs.layers``)."""
    del image
    dive, hidden = layer_waste(fs, indexes)
    return WasteReport(dive=dive, hidden=hidden, python=python_waste(fs, inventory))
