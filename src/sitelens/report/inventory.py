"""``sitelens inventory``: what is installed where, by whom, visible to whom — no judgement.

A renderer over an :class:`~sitelens.inventory.model.Inventory`: JSON with DESIGN §6's
``environments`` (``sys_path`` per identity, ``distributions``) plus the detail behind them, or a
rich console view. Unknown values are ``null``, never left out.
"""

from __future__ import annotations

import io
import json
from typing import Any

from .. import __version__
from ..fs import Filesystem
from ..image import Image
from ..inventory.model import Distribution, Environment, Identity, Inventory, ModuleImport, PathEntry


def module_import_json(mi: ModuleImport) -> dict[str, Any]:
    """DESIGN §6 ``imports`` entry: what ``import MODULE`` does for one identity (the audit JSON
    uses the same one)."""
    return {
        "file": mi.file,
        "error": mi.error,
        "version": mi.version,
        "metadata_version": mi.metadata_version,
        "distribution": mi.distribution,
        "owner": mi.owner,
        "layer": mi.layer,
        "mixed": mi.mixed,
        "package_dir": mi.package_dir,
        "namespace": list(mi.namespace),
        "files_by_version": dict(mi.owners),
        "metadata_path": mi.metadata_path,
        "metadata_ambiguous": list(mi.metadata_ambiguous),
    }


def identity_json(i: Identity) -> dict[str, Any]:
    """DESIGN §6's identity object; the audit JSON uses the same one."""
    return {
        "name": i.name,
        "uid": i.uid,
        "gid": i.gid,
        "groups": list(i.groups),
        "username": i.username,
        "home": i.home,
        "has_passwd_entry": i.has_passwd_entry,
    }

SCHEMA_VERSION = 1


def _entry(e: PathEntry) -> dict[str, Any]:
    return {
        "path": e.path,
        "origin": e.origin,
        "exists": e.exists,
        "site_dir": e.site_dir,
        "added_by": e.added_by,
        "listable": e.listable,
    }


def _dist(d: Distribution) -> dict[str, Any]:
    return {
        "name": d.name,
        "raw_name": d.raw_name,
        "version": d.version,
        "path": d.metadata_path,
        "kind": d.kind,
        "site_dir": d.site_dir,
        "installer": d.installer,
        "owner_package": d.owner_package,
        "layer": d.layer,
        "requested": d.requested,
        "editable_target": d.editable_target,
        "requires": list(d.requires),
        "top_level": list(d.top_level),
        "record_entries": None if d.record is None else len(d.record),
        "wheel_tags": list(d.wheel_tags),
        "archive_hashes": dict(d.archive_hashes),
    }


def environment_json(env: Environment) -> dict[str, Any]:
    i = env.interpreter
    return {
        "interpreter": env.executable,
        "base_interpreter": i.real_path,
        "kind": env.kind,
        "version": env.version,
        "flavor": i.flavor,
        "prefix": env.prefix,
        "base_prefix": i.prefix,
        "exec_prefix": i.exec_prefix,
        "platlibdir": i.platlibdir,
        "externally_managed": i.externally_managed,
        "venv": None
        if env.venv is None
        else {
            "cfg_path": env.venv.cfg_path,
            "home": env.venv.home,
            "include_system_site_packages": env.venv.include_system_site_packages,
            "version": env.venv.version,
            "base_executable": env.venv.base_executable,
            "problems": list(env.venv.problems),
        },
        "sys_path": {k: [e.path for e in v] for k, v in env.sys_path.items()},
        "sys_path_entries": {k: [_entry(e) for e in v] for k, v in env.sys_path.items()},
        "pth_imports": {k: [{"pth": p, "line": line} for p, line in v] for k, v in env.pth_imports.items()},
        "pth_effects": {k: [{"pth": e.pth, "line": e.line, "effect": e.effect, "detail": e.detail} for e in v]
                        for k, v in env.pth_effects.items()},
        "startup_errors": dict(env.startup_errors),
        "distributions": [_dist(d) for d in env.distributions],
        "imports": {
            ident: None if mods is None else {name: module_import_json(mi) for name, mi in mods.items()}
            for ident, mods in env.imports.items()
        },
    }


def inventory_document(inv: Inventory, image: Image | None, fs: Filesystem | None = None) -> dict[str, Any]:
    layers = []
    if image is not None:
        info = {li.index: li for li in fs.layers} if fs is not None else {}
        for layer in image.layers:
            li = info.get(layer.index)
            layers.append(
                {
                    "index": layer.index,
                    "diff_id": layer.diff_id,
                    "size": li.tar_bytes if li is not None else None,
                    "created_by": layer.created_by,
                }
            )
    cfg = image.config if image is not None else None
    ep = inv.entrypoint
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "sitelens", "version": __version__},
        "image": None
        if image is None
        else {
            "reference": image.reference,
            "digest": image.digest,
            "platform": image.platform,
            "os_release": dict(inv.os_release) or None,
            "layers": layers,
            "config": {
                "user": cfg.user if cfg else None,
                "env": dict(cfg.env) if cfg else {},
                "workdir": cfg.workdir if cfg else None,
                "entrypoint": cfg.entrypoint if cfg else None,
                "cmd": cfg.cmd if cfg else None,
            },
        },
        "identities": [identity_json(i) for i in inv.identities],
        "package_dbs": [
            {"manager": db.manager, "path": db.path, "layer": db.layer, "packages": len(db.packages)}
            for db in inv.package_dbs
        ],
        "interpreters": [
            {
                "path": i.path,
                "real_path": i.real_path,
                "version": i.version,
                "flavor": i.flavor,
                "prefix": i.prefix,
                "exec_prefix": i.exec_prefix,
                "platlibdir": i.platlibdir,
                "stdlib": i.stdlib,
                "externally_managed": i.externally_managed,
            }
            for i in inv.interpreters
        ],
        "environments": [environment_json(e) for e in inv.environments],
        "entrypoint": None
        if ep is None
        else {
            "argv": ep.argv,
            "interpreter": ep.interpreter,
            "flags": ep.flags,
            "script": ep.script,
            "selected_by": ep.selected_by,
            "env": ep.env,
        },
        "declared_requirements": [
            {"source": w.source, "line": w.line, "name": w.name, "text": w.text, "spec": str(w.spec),
             "marker": str(w.marker) if w.marker else None, "kind": w.kind, "required": w.must_exist,
             "file_hashes": len(w.files)}
            for w in inv.declared
        ],
        "site_dirs": list(inv.site_dirs),
        "unattached_distributions": [_dist(d) for d in inv.unattached],
        "warnings": list(inv.warnings),
    }


def render_inventory(inv: Inventory, image: Image | None, fmt: str, fs: Filesystem | None = None) -> str:
    if fmt == "json":
        return json.dumps(inventory_document(inv, image, fs), indent=2, ensure_ascii=False) + "\n"
    return _console(inv, image)


def _imports_console(console: Any, env: Environment) -> None:
    """module -> outcome, identities with the same outcome on one line."""
    from rich.text import Text

    names = sorted({m for mods in env.imports.values() for m in (mods or {})})
    if not names:
        return
    console.print(Text("imports", style="bold"))
    for ident, mods in env.imports.items():
        if mods is None:
            console.print(Text(f"  {ident}: cannot start {env.executable}"))
    for name in names:
        outcome: dict[str, list[str]] = {}
        for ident, mods in env.imports.items():
            mi = (mods or {}).get(name)
            if mi is None:
                continue
            if mi.error:
                text = mi.error
            elif mi.file is None:
                text = "namespace package"
            else:
                text = f"{mi.version or '?'} {mi.file}" + (" (mixed)" if mi.mixed else "")
            outcome.setdefault(text, []).append(ident)
        for text, idents in outcome.items():
            console.print(Text(f"  {name}: {text}  [{', '.join(idents)}]"))


def _console(inv: Inventory, image: Image | None) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    import sys

    from .outputs import terminal_width

    console = Console(file=buf, width=terminal_width(sys.stdout.isatty()), force_terminal=False,
                      color_system=None)
    if image is not None:
        console.print(f"[bold]{image.reference}[/bold] {image.digest or ''} {image.platform}")
    if inv.os_release:
        console.print(f"OS: {inv.os_release.get('PRETTY_NAME') or inv.os_release.get('ID', '?')}")
    for db in inv.package_dbs:
        console.print(f"{db.manager} database {db.path}: {len(db.packages)} packages")
    idents = ", ".join(f"{i.name} (uid {i.uid}, gid {i.gid}, HOME {i.home})" for i in inv.identities)
    console.print(f"Identities: {idents}")
    if inv.entrypoint is not None:
        ep = inv.entrypoint
        console.print(
            f"Entrypoint: {' '.join(ep.argv)} -> {ep.interpreter or 'no Python'}"
            + (f" {' '.join(ep.flags)}" if ep.flags else "")
            + (f" (chosen by {ep.selected_by})" if ep.selected_by else "")
        )
    for env in inv.environments:
        i = env.interpreter
        console.rule(f"{env.executable} ({env.kind}, Python {env.version}, {i.flavor})")
        console.print(
            f"prefix {env.prefix}  base {i.prefix}  real {i.real_path}"
            + ("  EXTERNALLY-MANAGED" if i.externally_managed else "")
        )
        if env.venv is not None:
            v = env.venv
            console.print(
                f"venv home={v.home} system-site={v.include_system_site_packages}"
                + (f"  problems: {'; '.join(v.problems)}" if v.problems else "")
            )
        for ident, entries in env.sys_path.items():
            console.print(f"[bold]sys.path for {ident}[/bold]")
            if ident in env.startup_errors:
                console.print(f"  cannot start: {env.startup_errors[ident]}", markup=False)
                continue
            for e in entries:
                mark = "" if e.exists else "  (missing)"
                by = f"  <- {e.added_by}" if e.added_by else ""
                console.print(f"  {e.path}  [{e.origin}]{mark}{by}")
        if env.distributions:
            table = Table("name", "version", "installer", "owner", "layer", box=None)
            table.add_column("where", overflow="fold")  # a path wraps whole, never cut with …
            for d in env.distributions:
                table.add_row(
                    d.name,
                    d.version or "?",
                    d.installer,
                    d.owner_package or "",
                    "" if d.layer is None else str(d.layer),
                    d.metadata_path,
                )
            console.print(table)
        _imports_console(console, env)
    if inv.unattached:
        console.rule("distributions in site dirs no interpreter uses")
        for d in inv.unattached:
            console.print(f"  {d.name} {d.version or '?'}  {d.installer}  {d.metadata_path}", markup=False)
    if inv.warnings:
        console.rule("warnings")
        for w in inv.warnings:
            console.print(f"  {w}", markup=False)
    return buf.getvalue()
