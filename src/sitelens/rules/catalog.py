"""Every rule of RULES.md: id, name, default severity, title and one-line summary.

The ids are a public contract (suppressions, SARIF, scan diffs key on them): never reuse or
renumber one. The long text of each rule lives beside this module in ``SLnnn.md``; docs/rules/
holds byte-identical copies (``python -m sitelens.rules --write-docs docs/rules``
regenerates them, and a test fails when they drift).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..findings import docs_url

CATEGORIES = {
    "SL1": "Python resolution and ownership",
    "SL2": "Permissions and identities",
    "SL3": "Wasted bytes",
}


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str  # default severity; config may override per rule
    title: str
    summary: str
    severity_note: str = ""  # when a check picks another severity by itself

    @property
    def category(self) -> str:
        return CATEGORIES[self.id[:3]]

    @property
    def docs(self) -> str:
        return docs_url(self.id)


_RULES = [
    Rule("SL101", "shadowed-distribution", "high",
         "Distribution installed twice on one import path",
         "One distribution is installed in two or more site dirs of one import path; only the "
         "first copy is imported.",
         "high when the copies' versions differ, low when they are equal"),
    Rule("SL102", "context-dependent-import", "high", "Import result depends on who runs Python",
         "The version imported, or whether it imports at all, differs between identities or "
         "interpreter flags."),
    Rule("SL103", "altered-os-file", "high", "OS package file changed or removed",
         "A file owned by an OS package no longer matches the package database, or is gone."),
    Rule("SL104", "doubly-owned-file", "medium", "File claimed by two owners",
         "One path is claimed by an OS package and a RECORD, or by two RECORDs."),
    Rule("SL105", "duplicate-metadata", "high", "Two metadata dirs for one distribution",
         "Two metadata dirs for one distribution sit in the same site dir; tools report an "
         "arbitrary one."),
    Rule("SL106", "record-integrity", "medium", "Installed files do not match RECORD",
         "RECORD lists files that are missing or whose hash or size differs, and no OS package "
         "explains it."),
    Rule("SL107", "orphan-files", "low", "Importable code that nothing owns",
         "Modules or packages in a site dir that no OS package and no RECORD claims."),
    Rule("SL108", "unmet-requirement", "high", "Requirement not met by the imported copy",
         "A Requires-Dist is not satisfied by the version that resolves first on the import "
         "path, or is missing."),
    Rule("SL109", "externally-managed-bypassed", "medium", "pip used in an externally managed "
         "environment", "pip-installed distributions in an environment marked EXTERNALLY-MANAGED "
         "(PEP 668)."),
    Rule("SL110", "broken-venv", "critical", "Virtual environment cannot start",
         "A venv's home interpreter is missing or unreadable, its bin/python link dangles, or its "
         "version differs from that interpreter's."),
    Rule("SL111", "stale-shebang", "high", "Console script points to a missing interpreter",
         "A console script's #! interpreter does not exist in the image."),
    Rule("SL112", "dead-site-packages", "medium", "Site-packages for a missing Python version",
         "A site-packages tree for a Python version no interpreter in the image has."),
    Rule("SL113", "abi-mismatch", "high", "Extension module built for another ABI",
         "Extension modules built for another CPython ABI or libc than the interpreter that "
         "would import them."),
    Rule("SL114", "venv-system-leak", "medium", "System packages leak into a venv",
         "A venv with include-system-site-packages in which system distributions shadow, or are "
         "shadowed by, the venv's own."),
    Rule("SL115", "no-bytecode", "info", "No bytecode and no place to write it",
         "An identity cannot write __pycache__ where the image ships no .pyc: every start "
         "recompiles."),
    Rule("SL116", "requirement-not-effective", "high", "Requirements file not honoured",
         "A requirements or lock file asks for a version that the copy Python actually imports "
         "does not satisfy.",
         "medium when the version is right but the installed file is not one the lock's hashes vouch for"),
    Rule("SL201", "unreadable-import-path", "critical", "Import path not readable",
         "For an identity, a directory on the import path cannot be traversed or listed, or "
         "module files cannot be read."),
    Rule("SL202", "unreachable-user-site", "high", "User site that an identity will not use",
         "Distributions sit in a user site that an identity will not use or cannot read."),
    Rule("SL203", "unwritable-home", "medium", "HOME or WorkingDir not writable",
         "The identity's HOME or the WorkingDir is missing or not writable by it."),
    Rule("SL204", "writable-import-path", "high", "Import path writable by others",
         "A directory or file on the import path, or a .pth file, is writable by someone other "
         "than root and the image's user."),
    Rule("SL205", "interpreter-not-executable", "critical", "Interpreter not executable",
         "The entrypoint's interpreter, or a venv's python, is not executable by an identity."),
    Rule("SL206", "runs-as-root", "info", "Image runs as root",
         "The image config sets no user, or user 0."),
    Rule("SL207", "setuid-file", "low", "setuid or setgid file",
         "setuid/setgid regular files in the image."),
    Rule("SL301", "hidden-bytes", "low", "Bytes hidden by a later layer",
         "Files shipped in one layer are overwritten or deleted by a later one; the bytes still "
         "travel."),
    Rule("SL302", "metadata-only-copy", "medium", "Layer re-ships files to change owner or mode",
         "A later layer re-ships unchanged content only to change owner or mode."),
    Rule("SL303", "package-caches", "low", "Package caches in the image",
         "pip/uv/poetry caches, apt lists and archives, or bytecode for missing interpreter "
         "versions."),
    Rule("SL304", "duplicate-distributions", "low", "Same distribution in several environments",
         "Identical distribution contents installed in more than one environment."),
    Rule("SL305", "build-toolchain", "info", "Build toolchain in the final image",
         "Compilers, -dev headers or build-only packages in the final image."),
    Rule("SL306", "low-efficiency", "high", "Image efficiency below the configured threshold",
         "Efficiency, wasted bytes or wasted percent passes the configured threshold.",
         "a gate: it fires only when a waste threshold is passed, at high by default so "
         "that it fails the default --fail-on; override it like any other rule"),
]

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def all_rules() -> list[Rule]:
    return list(_RULES)


def get_rule(rule_id: str) -> Rule:
    """The rule with this id (case-insensitive); an unknown id is a usage error."""
    rule = RULES.get(rule_id.strip().upper())
    if rule is None:
        raise UsageError(f"unknown rule {rule_id!r} (see `sitelens rules`)")
    return rule


def rule_page(rule_id: str) -> str:
    """The rule's page (Markdown), the same text as docs/rules/SLnnn.md."""
    rule = get_rule(rule_id)
    return resources.files(__package__).joinpath(f"{rule.id}.md").read_text(encoding="utf-8")


def docs_index() -> str:
    """docs/rules/README.md: the catalog as a Markdown table linking every page."""
    lines = ["# sitelens rules", "",
             "Generated from `src/sitelens/rules/`; `sitelens rules` prints the same catalog and "
             "`sitelens explain SLnnn` the same pages.", ""]
    for prefix, title in CATEGORIES.items():
        lines += [f"## {title}", "", "| id | name | default | summary |", "|---|---|---|---|"]
        for r in _RULES:
            if r.id.startswith(prefix):
                lines.append(f"| [{r.id}]({r.id}.md) | {r.name} | {r.severity} | {r.summary} |")
        lines.append("")
    return "\n".join(lines)


def docs_files() -> dict[str, str]:
    """Every file docs/rules/ must hold, name → text."""
    files = {f"{r.id}.md": rule_page(r.id) for r in _RULES}
    files["README.md"] = docs_index()
    return files


def write_docs(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in docs_files().items():
        (dest / name).write_text(text, encoding="utf-8")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-docs":
        write_docs(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m sitelens.rules --write-docs DIR")
