"""Helpers for the waste tests: build fixture images, load them the way the CLI does, run dive."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import image_from_built, require_tool

from fixtures.imagebuilder import ImageSpec, build, write_docker_archive
from sitelens.checks.base import Context
from sitelens.fs import Filesystem
from sitelens.image import Image
from sitelens.inventory.model import Inventory
from sitelens.layers.cache import LayerCache
from sitelens.layers.index import LayerIndex
from sitelens.layers.loader import load_indexes
from sitelens.waste import WasteReport, compute_waste

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Loaded:
    image: Image
    indexes: list[LayerIndex]
    fs: Filesystem


def load_spec(spec: ImageSpec) -> Loaded:
    image = image_from_built(build(spec, None))
    indexes = load_indexes(image, LayerCache(None, enabled=False))
    fs = Filesystem.from_indexes(indexes, [layer.created_by for layer in image.layers])
    return Loaded(image, indexes, fs)


def report_for(spec: ImageSpec) -> WasteReport:
    lo = load_spec(spec)
    return compute_waste(lo.fs, lo.indexes, lo.image)


def context_for(spec: ImageSpec, waste_options: dict | None = None) -> Context:
    lo = load_spec(spec)
    return Context(fs=lo.fs, inventory=Inventory(), image=lo.image, indexes=lo.indexes,
                   options={"waste": dict(waste_options or {})})


def write_archive(spec: ImageSpec, out: Path, layout: str = "legacy") -> Path:
    built = build(spec, None if layout == "legacy" else "gzip")
    return write_docker_archive(built, out, layout=layout)


@dataclass
class DiveResult:
    efficiency: float
    inefficient_bytes: int
    size_bytes: int
    layer_sizes: list[int]
    file_references: list[tuple[str, int, int]]  # (path, count, bytes)

    @property
    def user_wasted_percent(self) -> float | None:
        user = sum(self.layer_sizes[1:])
        return None if user == 0 else self.inefficient_bytes / user


def run_dive_json(archive: Path, workdir: Path) -> DiveResult:
    """``dive --json`` on a docker-archive (in ``workdir`` so no stray .dive-ci is read)."""
    require_tool("dive")
    out = workdir / "dive.json"
    proc = subprocess.run(
        ["dive", "--json", str(out), "--source", "docker-archive", str(archive)],
        cwd=workdir, env={**os.environ, "CI": "true"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    img = doc["image"]
    return DiveResult(
        efficiency=img["efficiencyScore"],
        inefficient_bytes=img["inefficientBytes"],
        size_bytes=img["sizeBytes"],
        layer_sizes=[layer["sizeBytes"] for layer in doc["layer"]],
        file_references=sorted((r["file"], r["count"], r["sizeBytes"]) for r in img["fileReference"] or []),
    )


@dataclass
class DiveCi:
    passed: bool
    efficiency_pct: float
    wasted_bytes: int
    user_wasted_pct: float | None
    text: str


def run_dive_ci(archive: Path, workdir: Path, lowest_efficiency: str = "0.9",
                highest_wasted_bytes: str = "disabled",
                highest_user_wasted_percent: str = "0.1") -> DiveCi:
    """``dive --ci`` with a ``.dive-ci`` file; the figures it prints (4 decimals) and its verdict."""
    require_tool("dive")
    cfg = workdir / ".dive-ci"
    cfg.write_text(
        "rules:\n"
        f"  lowestEfficiency: {lowest_efficiency}\n"
        f"  highestWastedBytes: {highest_wasted_bytes}\n"
        f"  highestUserWastedPercent: {highest_user_wasted_percent}\n"
    )
    proc = subprocess.run(
        ["dive", "--ci", "--ci-config", str(cfg), "--source", "docker-archive", str(archive)],
        cwd=workdir, env={**os.environ, "CI": "true"}, capture_output=True, text=True, timeout=300,
    )
    text = ANSI.sub("", proc.stdout + proc.stderr)
    assert "Misconfigured" not in text, text
    eff = re.search(r"efficiency: ([\d.]+) %", text)
    wasted = re.search(r"wastedBytes: (\d+) bytes", text)
    pct = re.search(r"userWastedPercent: ([\d.]+|NaN|\+Inf) %", text)
    assert eff and wasted and pct, text
    user = None if pct.group(1) in ("NaN", "+Inf") else float(pct.group(1))
    assert proc.returncode in (0, 1), text
    return DiveCi(proc.returncode == 0, float(eff.group(1)), int(wasted.group(1)), user, text)
