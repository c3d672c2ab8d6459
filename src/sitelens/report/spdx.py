"""The image as an SPDX 2.3 JSON document (validated with spdx-tools in tests).

The document DESCRIBES one package for the image (purpose CONTAINER), which CONTAINS every OS
package and every Python distribution *copy*; an OS package that owns a copy's metadata
CONTAINS that copy too. purls are ``externalRefs``; where a copy was installed from and by whom
is its ``sourceInfo``; the facts only sitelens knows (which identity imports it, what shadows
it, code vs metadata version, files overwritten in place) are annotations whose comment reads
``sitelens:<property>=<value>``, the same properties as the CycloneDX output.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import __version__
from .interface import JsonRenderer
from .sbom_facts import copies, document_id, os_packages, timestamp

if TYPE_CHECKING:
    from ..audit import AuditResult

TOOL = f"Tool: sitelens-{__version__}"
NAMESPACE_BASE = "https://github.com/sitelens/sitelens/spdx/"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _spdx_id(ref: str) -> str:
    return "SPDXRef-" + _ID_UNSAFE.sub("-", ref).strip("-")


def _purl_ref(purl: str) -> list[dict[str, str]]:
    return [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}]


def spdx_document(result: AuditResult) -> dict[str, Any]:
    image = result.image
    now = timestamp()
    image_id = "SPDXRef-Image"
    packages: list[dict[str, Any]] = [{
        "SPDXID": image_id, "name": image.reference, "versionInfo": image.digest or "unknown",
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER",
        "comment": f"platform {image.platform}; {len(image.layers)} layers",
    }]
    relationships: list[dict[str, str]] = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id}]
    owner_ids: dict[str, str] = {}
    for p in os_packages(result):
        pid = _spdx_id(p.ref)
        owner_ids[p.owner] = pid
        packages.append({"SPDXID": pid, "name": p.name, "versionInfo": p.version,
                         "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
                         "primaryPackagePurpose": "LIBRARY",
                         "supplier": "NOASSERTION", "externalRefs": _purl_ref(p.purl),
                         "sourceInfo": f"installed by {p.manager}"})
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": pid})
    for c in copies(result):
        pid = _spdx_id(c.ref)
        where = f"layer {c.layer}" if c.layer is not None else "an unknown layer"
        pkg: dict[str, Any] = {
            "SPDXID": pid, "name": c.name, "versionInfo": c.version or "NOASSERTION",
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": "LIBRARY",
            "sourceInfo": f"installed by {c.installer}" + (f" (owned by {c.os_owner})" if c.os_owner else "")
                          + f" at {c.path} in {where}, for {c.environment}",
            "annotations": [{"annotationType": "OTHER", "annotator": TOOL, "annotationDate": now,
                             "comment": f"{k}={v}"} for k, v in c.properties],
        }
        if c.purl:
            pkg["externalRefs"] = _purl_ref(c.purl)
        packages.append(pkg)
        relationships.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": pid})
        if c.os_owner in owner_ids:
            relationships.append({"spdxElementId": owner_ids[c.os_owner], "relationshipType": "CONTAINS",
                                  "relatedSpdxElement": pid})
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"sitelens {image.reference}",
        "documentNamespace": NAMESPACE_BASE + document_id(result),
        "creationInfo": {"created": now, "creators": [TOOL]},
        "packages": packages,
        "relationships": relationships,
    }


RENDERER = JsonRenderer("spdx", "SPDX 2.3 JSON SBOM, with the same sitelens facts as annotations",
                        lambda result, _options: spdx_document(result))
