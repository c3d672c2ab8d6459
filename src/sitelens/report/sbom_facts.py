"""What both SBOM formats say about each installed copy: one place, so CycloneDX and SPDX agree.

Every Python distribution *copy* (one metadata dir in one environment; two copies of Jinja2 are
two entries) gets its purl, installer, OS owner, layer and path, and the facts only an import
resolver knows, read from :attr:`Environment.imports` (DESIGN §1, import truth):

- ``imported-for``: the identities for which ``import`` of this distribution's modules loads
  this copy's code; ``shadowed-for``: those for which another copy wins (and which one);
- ``code-version`` / ``metadata-version``: what the loaded code is (by digest) vs what
  ``importlib.metadata.version()`` answers, when they differ from this copy's metadata;
- ``overwritten-file``: files of this OS-owned copy that a later install changed or deleted in
  place (the SL103 findings' evidence).

A vulnerability scanner fed the SBOM can then triage the copy that actually runs. Properties
use the ``sitelens:`` namespace (CycloneDX property taxonomy convention).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from ..audit import AuditResult
    from ..inventory.model import Distribution, Environment, ModuleImport, OsPackage

PURL_TYPE = {"dpkg": "deb", "rpm": "rpm", "apk": "apk", "conda": "conda"}


@dataclass
class CopyFacts:
    """One installed distribution copy, with everything an SBOM says about it."""

    ref: str  # unique within the document
    name: str  # as the metadata spells it
    normalized: str
    version: str | None
    purl: str | None
    environment: str
    path: str
    site_dir: str
    installer: str
    os_owner: str | None
    layer: int | None
    layer_diff_id: str | None
    properties: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class OsPackageFacts:
    ref: str
    manager: str
    name: str
    version: str
    arch: str | None
    purl: str
    owner: str  # the owner id findings and copies name (``dpkg:python3-jinja2``, ``conda:<record>``)


def purl_pypi(name: str, version: str | None) -> str:
    # PEP 503 normalised names are what the purl spec asks for pypi (lower case, "-")
    return f"pkg:pypi/{quote(name)}" + (f"@{quote(version)}" if version else "")


def _distro(result: AuditResult) -> str | None:
    rel = result.inventory.os_release
    ident, version = rel.get("ID"), rel.get("VERSION_ID")
    return f"{ident}-{version}" if ident and version else ident


def purl_os(pkg: OsPackage, distro: str | None, namespace: str | None) -> str:
    if pkg.manager == "conda":
        # the purl spec's conda type: build, channel and subdir qualifiers; no distro
        pairs = [("build", pkg.build), ("channel", pkg.channel), ("subdir", pkg.arch)]
        quals = "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs if v)
        return f"pkg:conda/{quote(pkg.name)}@{quote(pkg.version)}" + (f"?{quals}" if quals else "")
    qualifiers = [f"arch={quote(pkg.arch)}"] if pkg.arch else []
    if distro:
        qualifiers.append(f"distro={quote(distro)}")
    ns = f"{quote(namespace)}/" if namespace else ""
    return (f"pkg:{PURL_TYPE.get(pkg.manager, pkg.manager)}/{ns}{quote(pkg.name)}@{quote(pkg.version)}"
            + ("?" + "&".join(qualifiers) if qualifiers else ""))


def _is_this_copy(mi: ModuleImport, d: Distribution) -> bool:
    if mi.distribution != d.name:
        return False
    if mi.metadata_path is not None:
        return mi.metadata_path == d.metadata_path
    return mi.owner in (f"pip:{d.metadata_path}", d.owner_package) or (
        mi.owner is not None and mi.owner.endswith(d.metadata_path))


def _import_facts(env: Environment, d: Distribution) -> list[tuple[str, str]]:
    props: list[tuple[str, str]] = []
    for ident, modules in env.imports.items():
        if modules is None:
            continue
        for mi in sorted(modules.values(), key=lambda m: m.module):
            if mi.distribution != d.name or mi.error is not None:
                continue
            if _is_this_copy(mi, d):
                loads = mi.file or mi.package_dir
                props.append(("sitelens:imported-for", f"{ident}: import {mi.module} loads {loads}"))
                if mi.version and mi.version != d.version:
                    props.append(("sitelens:code-version", f"{ident}: {mi.version}"))
                if mi.metadata_version and mi.metadata_version != d.version:
                    props.append(("sitelens:metadata-version", f"{ident}: {mi.metadata_version}"))
                if mi.mixed:
                    props.append(("sitelens:mixed-tree", f"{ident}: {mi.package_dir or mi.file}"))
            else:
                winner = mi.metadata_path or mi.owner or mi.file or "another copy"
                props.append(("sitelens:shadowed-for", f"{ident}: import {mi.module} loads {winner}"))
            break  # one module per distribution and identity says it
    return props


def _overwritten(result: AuditResult) -> dict[str, list[str]]:
    """OS owner id ("dpkg:python3-markupsafe") → paths changed or deleted in place (SL103)."""
    out: dict[str, list[str]] = {}
    for f in result.findings:
        if f.rule != "SL103":
            continue
        owners = f.evidence.get("owners") or []
        paths = [*(f.evidence.get("changed") or []), *(f.evidence.get("deleted") or [])]
        if owners and isinstance(owners[0], str):
            out.setdefault(owners[0], []).extend(p for p in paths if isinstance(p, str))
    return out


def copies(result: AuditResult) -> list[CopyFacts]:
    diff_ids = {layer.index: layer.diff_id for layer in result.image.layers}
    overwritten = _overwritten(result)
    out: list[CopyFacts] = []
    for env in result.inventory.environments:
        for d in env.distributions:
            ref = "py:" + hashlib.sha256(f"{env.executable}\0{d.metadata_path}".encode()).hexdigest()[:16]
            facts = CopyFacts(ref, d.raw_name or d.name, d.name, d.version, purl_pypi(d.name, d.version),
                              env.executable, d.metadata_path, d.site_dir, d.installer, d.owner_package,
                              d.layer, diff_ids.get(d.layer) if d.layer is not None else None)
            props = [("sitelens:environment", env.executable), ("sitelens:path", d.metadata_path),
                     ("sitelens:site-dir", d.site_dir), ("sitelens:installer", d.installer),
                     ("sitelens:metadata-kind", d.kind)]
            if d.owner_package:
                props.append(("sitelens:os-owner", d.owner_package))
            if d.layer is not None:
                props.append(("sitelens:layer", str(d.layer)))
                if facts.layer_diff_id:
                    props.append(("sitelens:layer-diff-id", facts.layer_diff_id))
            props += _import_facts(env, d)
            props += [("sitelens:overwritten-file", p) for p in overwritten.get(d.owner_package or "", [])]
            facts.properties = props
            out.append(facts)
    return out


def os_packages(result: AuditResult) -> list[OsPackageFacts]:
    distro = _distro(result)
    namespace = result.inventory.os_release.get("ID")
    out = []
    for db in result.inventory.package_dbs:
        for pkg in db.packages:
            out.append(OsPackageFacts(f"os:{pkg.owner_id}:{pkg.arch or ''}", pkg.manager, pkg.name,
                                      pkg.version, pkg.arch, purl_os(pkg, distro, namespace), pkg.owner_id))
    return out


def document_id(result: AuditResult) -> str:
    """Stable per image and tool version: the same image gives the same serial number."""
    from .. import __version__

    seed = f"{result.image.digest or result.image.reference}\0{__version__}"
    return hashlib.sha256(seed.encode()).hexdigest()


def timestamp() -> str:
    """Now, or SOURCE_DATE_EPOCH for reproducible documents."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = int(epoch) if epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
