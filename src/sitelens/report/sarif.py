"""The audit as SARIF 2.1.0, in the subset GitHub code scanning accepts and can track.

- ``tool.driver.rules`` lists every rule of the catalog (so ``ruleIndex`` is stable) with
  name, short/full description, help (the rule page) and helpUri, and a default level.
- GitHub keeps one analysis per ``automationDetails.id`` and closes an alert only when a later
  upload of the *same* id no longer has it. The id is ``sitelens/<category>/``: ``--sarif-category``,
  else the image's repository name (``ghcr.io/org/app:1.2`` → ``app``; an archive → its file
  stem), never the tag or digest, so a rebuild or a new tag is the next run of one analysis.
- ``partialFingerprints`` carry sitelens's fingerprint, which ignores rebuild noise.
- Locations are relative URIs GitHub can show: image paths under ``--sarif-path-prefix``
  (``usr/lib/python3/...``). A file gets ``region.startLine: 1``; a directory has no lines, so no
  region. With ``--dockerfile``, a finding about layers points first at the ``RUN``/``COPY``
  line that made each layer (matched by the layer's ``created_by``), and an image-wide finding
  at the final stage's ``USER`` (or ``FROM``) line; without it, an image-wide finding points at
  the image root (the prefix), not at a guessed file.
- Suppressed findings carry ``suppressions: [{kind: external}]`` with the config's reason.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import __version__
from ..rules.catalog import all_rules, rule_page
from .dockerfile import Instruction, match_layer, read_dockerfile, user_line
from .interface import JsonRenderer, RenderOptions

if TYPE_CHECKING:
    from ..audit import AuditResult
    from ..findings import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks alerts tagged "security" by this score (0.1-10).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                     "info": "1.0"}
SECURITY_RULES = frozenset({"SL201", "SL204", "SL205", "SL206", "SL207"})
MAX_LOCATIONS = 10  # GitHub ignores more
INFORMATION_URI = "https://github.com/sitelens/sitelens"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def category_for(reference: str) -> str:
    """The default SARIF category: the image's repository name, without tag or digest."""
    from ..errors import SitelensError
    from ..sources.reference import parse_reference

    try:
        ref = parse_reference(reference)
    except SitelensError:
        ref = None
    if ref is not None and ref.name is not None:
        base = ref.name.repository.rsplit("/", 1)[-1]
    else:
        target = ref.path if ref is not None and ref.path else reference.partition(":")[2] or reference
        base = os.path.basename(target.rstrip("/"))
        for suffix in (".tar.gz", ".tgz", ".tar"):
            base = base.removesuffix(suffix)
    return _UNSAFE.sub("-", base).strip("-") or "image"


def automation_id(category: str) -> str:
    return f"sitelens/{_UNSAFE.sub('-', category).strip('-') or 'image'}/"


def _uri(prefix: str, path: str) -> str:
    rel = prefix + path.lstrip("/")
    return quote(rel or ".", safe="/-._~+@", errors="surrogateescape")  # a non-UTF-8 name: its raw bytes


def _rule_descriptor(rule: Any) -> dict[str, Any]:
    page = rule_page(rule.id)
    tags = ["python", "container", "packaging"]
    props: dict[str, Any] = {"tags": tags, "precision": "high"}
    if rule.id in SECURITY_RULES:
        tags.append("security")
        props["security-severity"] = SECURITY_SEVERITY[rule.severity]
    full = rule.summary + (f" Severity: {rule.severity_note}." if rule.severity_note else "")
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": full},
        "help": {"text": page, "markdown": page},
        "helpUri": rule.docs,
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": props,
    }


def _paths(f: Finding) -> list[str]:
    ev = f.evidence
    out: list[str] = []
    for key in ("paths", "path"):
        value = ev.get(key)
        items = value if isinstance(value, list) else [value]
        out += [p for p in items if isinstance(p, str) and p.startswith("/")]
    return list(dict.fromkeys(out))


def _layers(f: Finding) -> list[int]:
    value = f.evidence.get("layers", f.evidence.get("layer"))
    items = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(i for i in items if isinstance(i, int) and not isinstance(i, bool)))


@dataclass
class _Locator:
    """Turns a finding's paths and layers into SARIF locations for one run."""

    result: AuditResult
    options: RenderOptions
    instructions: list[Instruction]

    def _dockerfile(self, ins: Instruction) -> dict[str, Any]:
        assert self.options.dockerfile is not None
        uri = quote(self.options.dockerfile.as_posix().removeprefix("./"), safe="/-._~+@")
        return {"physicalLocation": {"artifactLocation": {"uri": uri},
                                     "region": {"startLine": ins.line}},
                "message": {"text": f"{ins.keyword} {ins.args}"[:200]}}

    def _image_path(self, path: str) -> dict[str, Any]:
        loc: dict[str, Any] = {"artifactLocation": {"uri": _uri(self.options.sarif_path_prefix, path)}}
        node = self.result.fs.lookup(path, follow=False)
        # a directory has no lines; a file (or one a later layer deleted) starts at line 1
        if path != "/" and (node is None or node.kind != "dir"):
            loc["region"] = {"startLine": 1}
        return {"physicalLocation": loc}

    def locations(self, f: Finding) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.instructions:
            created = {layer.index: layer.created_by for layer in self.result.image.layers}
            made = [match_layer(created.get(i), self.instructions) for i in _layers(f)]
            out += [self._dockerfile(ins) for ins in dict.fromkeys(m for m in made if m)]
        paths = _paths(f)
        out += [self._image_path(p) for p in paths]
        if not out:
            ins = user_line(self.instructions)
            out = [self._dockerfile(ins)] if ins is not None else [self._image_path("/")]
        return out[:MAX_LOCATIONS]


def _result(f: Finding, index: dict[str, int], locator: _Locator) -> dict[str, Any]:
    res: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": LEVEL[f.severity],
        "message": {"text": f"{f.message}\n\nFix: {f.remediation}"},
        "locations": locator.locations(f),
        "partialFingerprints": {"sitelens/v1": f.fingerprint},
        "properties": {"severity": f.severity, "evidence": f.evidence},
    }
    if f.rule in SECURITY_RULES:
        res["properties"]["security-severity"] = SECURITY_SEVERITY[f.severity]
    if f.suppressed:
        res["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": (f.suppression or {}).get("reason", "")}]
    return res


def sarif_document(result: AuditResult, fail_on: str,
                   options: RenderOptions | None = None) -> dict[str, Any]:
    opts = options or RenderOptions(fail_on=fail_on)
    rules = all_rules()
    index = {r.id: i for i, r in enumerate(rules)}
    instructions = read_dockerfile(opts.dockerfile) if opts.dockerfile is not None else []
    locator = _Locator(result, opts, instructions)
    notifications: list[dict[str, Any]] = [
        {"level": "error",
         "message": {"text": f"check {e.check} crashed ({e.error}); rules "
                             f"{', '.join(e.rules)} were not evaluated"}}
        for e in result.errors
    ]
    notifications += [
        {"level": "warning", "message": {"text": s.message},
         "associatedRule": {"id": s.suppression.rule, "index": index[s.suppression.rule]}}
        for s in result.suppressions if s.is_notice
    ]
    image = result.image
    category = opts.sarif_category or category_for(image.reference)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sitelens",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule_descriptor(r) for r in rules],
            }},
            "automationDetails": {"id": automation_id(category)},
            "invocations": [{
                "executionSuccessful": not result.errors,
                "exitCode": result.exit_code(fail_on),
                "toolExecutionNotifications": notifications,
            }],
            "results": [_result(f, index, locator) for f in opts.shown(result.findings)],
            "properties": {
                "image": {"reference": image.reference, "digest": image.digest,
                          "platform": image.platform},
                "failOn": fail_on,
            },
        }],
    }


RENDERER = JsonRenderer("sarif", "SARIF 2.1.0 for GitHub code scanning",
                        lambda result, options: sarif_document(result, options.fail_on, options))
