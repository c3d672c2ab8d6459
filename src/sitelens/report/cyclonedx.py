"""The image as a CycloneDX 1.6 JSON SBOM (validated against the official schema in tests).

The image is ``metadata.component`` (type ``container``); every OS package and every Python
distribution *copy* is a component with its purl. A copy's install location is
``evidence.occurrences`` and everything sitelens knows about it (installer, OS owner, layer,
which identity imports it, what shadows it, files overwritten in place) is a ``sitelens:``
property (see :mod:`sitelens.report.sbom_facts`); a copy an OS package owns names that
package's component in ``sitelens:os-owner-ref``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .. import __version__
from .interface import JsonRenderer
from .sbom_facts import copies, document_id, os_packages, timestamp

if TYPE_CHECKING:
    from ..audit import AuditResult

SPEC_VERSION = "1.6"


def _props(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs]


def cyclonedx_document(result: AuditResult) -> dict[str, Any]:
    image = result.image
    packages = os_packages(result)
    pkg_ref = {p.owner: p.ref for p in packages}  # the OS-owner id form
    components: list[dict[str, Any]] = [
        {"type": "application" if p.manager != "apk" else "library", "bom-ref": p.ref, "name": p.name,
         "version": p.version, "purl": p.purl,
         "properties": _props([("sitelens:package-manager", p.manager)]
                              + ([("sitelens:arch", p.arch)] if p.arch else []))}
        for p in packages
    ]
    for c in copies(result):
        owner = [("sitelens:os-owner-ref", pkg_ref[c.os_owner])] if c.os_owner in pkg_ref else []
        comp: dict[str, Any] = {"type": "library", "bom-ref": c.ref, "name": c.name,
                                "evidence": {"occurrences": [{"location": c.path}]},
                                "properties": _props(c.properties + owner)}
        if c.version:
            comp["version"] = c.version
        if c.purl:
            comp["purl"] = c.purl
        components.append(comp)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.UUID(document_id(result)[:32])}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp(),
            "tools": {"components": [{"type": "application", "name": "sitelens", "version": __version__}]},
            "component": {
                "type": "container", "bom-ref": "image", "name": image.reference,
                **({"version": image.digest} if image.digest else {}),
                "properties": _props([("sitelens:platform", image.platform)]
                                     + [("sitelens:layer-diff-id", f"{layer.index}: {layer.diff_id}")
                                        for layer in image.layers]),
            },
        },
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": [c["bom-ref"] for c in components]}],
    }


RENDERER = JsonRenderer("cyclonedx", "CycloneDX 1.6 JSON SBOM: every copy, and which one each identity imports",
                        lambda result, _options: cyclonedx_document(result))
