"""sitelens's ``Environment.imports`` against the interpreter of the image, per case ×
interpreter × identity (the oracle runs each in a chroot with the identity dropped before exec)."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.import_truth import CASES, IDENTITIES, agreement, compare

SHORT = {
    "/usr/bin/python3": "system",
    "/opt/venv/bin/python": "venv",
    "/root/venv/bin/python": "root-venv",
    "/opt/venv-build/bin/python": "venv-build",
}
PARAMS = [
    pytest.param(case, exe, ident.name, id=f"{case.name}-{SHORT[exe]}-{ident.name}")
    for case in CASES
    for exe in case.interpreters
    for ident in IDENTITIES
]


@pytest.mark.parametrize(("case", "exe", "ident"), PARAMS)
def test_imports_match_interpreter(truth: Any, case: Any, exe: str, ident: str) -> None:
    diffs = compare(truth.inventory, truth.built.expected, interpreters=(exe,), identities=(ident,),
                    modules=tuple(m.name for m in case.modules))
    assert diffs == [], f"{case.what}:\n" + "\n".join(diffs)


def test_imports_agreement_figure(truth: Any) -> None:
    agree, total = agreement(truth.inventory, truth.built.expected)
    print(f"import truth: {agree}/{total} field comparisons agree ({100 * agree / max(total, 1):.1f}%)")
    diffs = compare(truth.inventory, truth.built.expected)
    for d in diffs[:40]:
        print("  ", d)
    assert diffs == [] and agree == total and total > 400
