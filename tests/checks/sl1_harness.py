"""Shared set-up for the SL1xx tests: build scenario images once, audit them with the real
pipeline (layer index -> filesystem -> inventory -> checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sitelens.checks  # noqa: F401  (registers every check)
from fixtures.imagebuilder import Built
from sitelens.checks.base import REGISTRY, Context
from sitelens.findings import Finding
from sitelens.fs import Filesystem
from sitelens.inventory.model import Inventory
from sitelens.layers.cache import LayerCache
from sitelens.layers.loader import load_indexes
from tests.helpers import image_from_built

CACHE = Path(__file__).resolve().parents[2] / ".fixture-cache" / "sl1-index"


@dataclass
class Audited:
    ctx: Context
    findings: list[Finding]

    @property
    def inventory(self) -> Inventory:
        return self.ctx.inventory

    @property
    def fs(self) -> Filesystem:
        return self.ctx.fs

    def rule(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]


def audit(built: Built, rules: tuple[str, ...] | None = None, options: dict[str, Any] | None = None) -> Audited:
    from sitelens.inventory.builder import build_inventory

    image = image_from_built(built)
    indexes = load_indexes(image, LayerCache(CACHE, enabled=True))
    fs = Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])
    inv = build_inventory(fs, image)
    ctx = Context(fs, inv, image, indexes, options or {})
    out: list[Finding] = []
    for reg in REGISTRY:
        if rules is not None and not set(reg.rules) & set(rules):
            continue
        out.extend(reg.fn(ctx))
    return Audited(ctx, out)
