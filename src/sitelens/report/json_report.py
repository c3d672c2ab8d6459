"""The audit as JSON: DESIGN §6, ``schema_version: 1``, validated by ``report/schema.json``.

Every documented key is always present; what sitelens does not know is ``null``, never left out.
A renderer only: it turns an :class:`~sitelens.audit.AuditResult` into a document and decides
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__
from .inventory import identity_json, module_import_json

if TYPE_CHECKING:
    from ..audit import AuditResult
    from ..inventory.model import Environment, PathEntry

from .interface import JsonRenderer, RenderOptions

SCHEMA_VERSION = 1
# site.py leaves out site dirs that do not exist; PYTHONPATH entries and the stdlib zip stay
# in sys.path even when absent, exactly as the interpreter prints them.
_DROPPED_WHEN_MISSING = frozenset({"venv-site", "user-site", "site", "pth"})


def _visible(e: PathEntry) -> bool:
    return e.exists or not (e.site_dir or e.origin in _DROPPED_WHEN_MISSING)


def _environment(env: Environment) -> dict[str, Any]:
    return {
        "interpreter": env.executable,
        "base_interpreter": env.interpreter.real_path,
        "kind": env.kind,
        "version": env.version,
        "flavor": env.interpreter.flavor,
        "prefix": env.prefix,
        "externally_managed": env.interpreter.externally_managed,
        "venv": None if env.venv is None else {
            "cfg_path": env.venv.cfg_path,
            "home": env.venv.home,
            "include_system_site_packages": env.venv.include_system_site_packages,
            "version": env.venv.version,
        },
        "sys_path": {
            ident: [e.path for e in entries if _visible(e)]
            for ident, entries in env.sys_path.items()
        },
        "distributions": [
            {
                "name": d.name,
                "version": d.version,
                "path": d.metadata_path,
                "installer": d.installer,
                "owner_package": d.owner_package,
                "layer": d.layer,
            }
            for d in env.distributions
        ],
        "imports": {
            ident: None if mods is None else {name: module_import_json(mi) for name, mi in mods.items()}
            for ident, mods in env.imports.items()
        },
    }


def audit_document(result: AuditResult, fail_on: str,
                   options: RenderOptions | None = None) -> dict[str, Any]:
    shown = (options or RenderOptions(fail_on=fail_on)).shown(result.findings)
    image = result.image
    cfg = image.config
    layer_info = {li.index: li for li in result.fs.layers}
    layers = []
    for layer in image.layers:
        li = layer_info.get(layer.index)
        layers.append({
            "index": layer.index,
            "diff_id": layer.diff_id,
            "digest": layer.digest,
            "size": li.tar_bytes if li is not None else None,  # uncompressed tar bytes
            "blob_size": layer.size,  # as stored or transferred (compressed)
            "created_by": layer.created_by,
        })
    waste = result.waste
    inv = result.inventory
    summary = result.summary
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "sitelens", "version": __version__},
        "image": {
            "reference": image.reference,
            "digest": image.digest,
            "config_digest": image.config_digest,
            "platform": image.platform,
            "os_release": dict(inv.os_release) or None,
            "layers": layers,
            "config": {
                "user": cfg.user,
                "env": dict(cfg.env),
                "workdir": cfg.workdir,
                "entrypoint": cfg.entrypoint,
                "cmd": cfg.cmd,
            },
        },
        "identities": [identity_json(i) for i in result.identities],
        "strategy": result.strategy.to_json(),
        "environments": [_environment(e) for e in inv.environments],
        "waste": None if waste is None else (waste.to_json() if hasattr(waste, "to_json")
                                             else dict(waste)),
        "findings": [f.to_json() for f in shown],
        "suppressions": [s.to_json() for s in result.suppressions],
        "errors": [e.to_json() for e in result.errors],
        "warnings": list(inv.warnings),
        "summary": summary.to_json(),
        "fail_on": fail_on,
        "exit_code": result.exit_code(fail_on),
    }


RENDERER = JsonRenderer("json", "the JSON contract (schema_version 1, docs/schema/)",
                        lambda result, options: audit_document(result, options.fail_on, options))
