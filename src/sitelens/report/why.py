"""``sitelens why MODULE REF``: the chain a user can follow for one import, per interpreter × identity.

Each sys.path entry tried, what it held, why it was skipped (does not exist, cannot be listed, a
namespace portion, a package dir that cannot be searched), what loads, whose bytes they are (owner,
layer, version, mixed files) and what ``importlib.metadata`` reports. A renderer only: the
answers come from the inventory's import resolver.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .inventory import module_import_json

if TYPE_CHECKING:
    from ..image import Image
    from ..inventory.model import Environment, ModuleImport


@dataclass
class WhyResult:
    env: Environment
    identity: str
    cannot_start: str | None  # why this identity cannot start the interpreter
    result: ModuleImport | None


def why_document(module: str, image: Image, results: list[WhyResult]) -> dict[str, Any]:
    out = []
    for r in results:
        item: dict[str, Any] = {
            "interpreter": r.env.executable,
            "kind": r.env.kind,
            "version": r.env.version,
            "identity": r.identity,
            "cannot_start": r.cannot_start,
            "import": None,
        }
        if r.result is not None:
            item["import"] = {
                **module_import_json(r.result),
                "steps": [{"entry": s.entry, "outcome": s.outcome, "detail": s.detail, "path": s.path}
                          for s in r.result.steps],
            }
        out.append(item)
    return {"module": module, "image": {"reference": image.reference, "digest": image.digest}, "results": out}


def _verdict(r: WhyResult) -> str:
    mi = r.result
    if mi is None:
        return f"cannot start {r.env.executable}: {r.cannot_start}"
    if mi.error is not None:
        return f"{mi.error}"
    if mi.file is None:
        return "an empty namespace package (" + ", ".join(mi.namespace) + ")"
    owner = mi.owner or "no owner's record matches these bytes"
    version = mi.version or "unknown version"
    layer = f"layer {mi.layer}" if mi.layer is not None else "unknown layer"
    return f"{mi.file} — {version}, {owner}, {layer}" + (" — MIXED TREE" if mi.mixed else "")


def render_why_console(module: str, image: Image, results: list[WhyResult], width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    con = Console(file=buf, width=width or 120, force_terminal=False, no_color=True, highlight=False,
                  markup=False)
    con.print(Text(f"Why `import {module}` loads what it loads in {image.reference}", style="bold"))
    # identities with the same chain are shown once
    groups: dict[tuple[str, str], list[WhyResult]] = {}
    for r in results:
        chain = json.dumps(why_document(module, image, [r])["results"][0]["import"], sort_keys=True)
        groups.setdefault((r.env.executable, chain + str(r.cannot_start)), []).append(r)
    for (exe, _), rs in groups.items():
        r = rs[0]
        who = ", ".join(x.identity for x in rs)
        con.print()
        con.print(Text(f"{exe} (Python {r.env.version}, {r.env.kind}) as {who}", style="bold"))
        con.print(Text(f"  → {_verdict(r)}"))
        mi = r.result
        if mi is None:
            continue
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        table.add_column("sys.path entry", overflow="fold")
        table.add_column("outcome")
        table.add_column("why", overflow="fold")
        for s in mi.steps:
            detail = s.detail + (f" ({s.path})" if s.path and s.path not in s.detail else "")
            table.add_row(Text(s.entry), Text(s.outcome), Text(detail))
        con.print(table)
        if mi.owners:
            con.print(Text("  files of the package dir whose bytes match each version's records: "
                           + ", ".join(f"{k}: {v}" for k, v in mi.owners.items())
                           + " (a file both versions ship unchanged counts for both)"))
        meta = mi.metadata_version or "None"
        if mi.metadata_ambiguous:
            meta = (f"one of {', '.join(mi.metadata_ambiguous)} (two metadata dirs in one directory: the "
                    "listing order decides)")
        if mi.distribution is None:
            con.print(Text(f"  no installed distribution provides {module}"))
            continue
        dist = mi.distribution
        con.print(Text(f"  importlib.metadata.version({dist!r}) → {meta}"
                       + (f" from {mi.metadata_path}" if mi.metadata_path else "")))
    return buf.getvalue()


def render_why_json(module: str, image: Image, results: list[WhyResult]) -> str:
    return json.dumps(why_document(module, image, results), indent=2, ensure_ascii=False) + "\n"
