"""No module imports from a later stage of the pipeline (type-only and late imports included).

sitelens reads top to bottom: sources → layers → fs → inventory → checks → audit → report,
then the front ends (cli, scan, baseline). A module may import its own stage, an earlier one, or
a shared leaf module (errors, findings, rules, config…), and a leaf imports only leaves. Every
module must be placed here, so a new top-level module or package has to say where it sits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LEAVES = {
    "sitelens", "sitelens.errors", "sitelens.findings", "sitelens.rules",
    "sitelens.humanize", "sitelens.config", "sitelens.dive_ci", "sitelens.suppress", "sitelens.diff",
    "sitelens.decompress", "sitelens.dbreaders", "sitelens.paths", "sitelens.forked", "sitelens.cachedir",
}
STAGES = [
    ("sources", {"sitelens.sources", "sitelens.image"}),
    ("layers", {"sitelens.layers"}),
    ("fs", {"sitelens.fs", "sitelens.permissions"}),
    ("inventory", {"sitelens.inventory"}),
    # facts derived from the inventory for the checks: build strategy, the waste model
    ("checks", {"sitelens.checks", "sitelens.strategy", "sitelens.waste"}),
    # the run: open the image, index, inventory, check; its result is what reports render
    # (the result cache keys and replays a whole run)
    ("audit", {"sitelens.pipeline", "sitelens.audit", "sitelens.result_cache"}),
    ("report", {"sitelens.report"}),
    ("front ends", {"sitelens.cli", "sitelens.scan", "sitelens.baseline", "sitelens.__main__"}),
]


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, src: Path = SRC) -> set[str]:
    """Every sitelens module ``path`` imports, at any depth of its code."""
    mod = _module_name(path, src)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "sitelens"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "sitelens":
                continue
            for alias in node.names:  # ``from . import x`` names a submodule
                sub = f"{target}.{alias.name}"
                is_module = (src / (sub.replace(".", "/") + ".py")).exists() or (src / sub.replace(".", "/")).is_dir()
                out.add(sub if is_module else target)
    return out


def _placement(module: str) -> tuple[str, int | None]:
    """(group, stage rank); leaves have rank None. The longest matching prefix decides."""
    best: tuple[int, str, int | None] = (-1, "", None)
    for name in LEAVES:
        if (module == name or module.startswith(name + ".")) and len(name) > best[0] and name != "sitelens":
            best = (len(name), name, None)
    for rank, (_, names) in enumerate(STAGES):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best[0]:
                best = (len(name), name, rank)
    if best[0] < 0 and module == "sitelens":
        return "sitelens", None
    if best[0] < 0:
        raise KeyError(module)
    return best[1], best[2]


MODULES = sorted(SRC.joinpath("sitelens").rglob("*.py"))


def test_every_module_is_placed() -> None:
    unplaced = []
    for path in MODULES:
        try:
            _placement(_module_name(path))
        except KeyError:
            unplaced.append(_module_name(path))
    assert unplaced == [], "add these to LEAVES or a stage"


def _violations(path: Path, src: Path = SRC) -> list[str]:
    _, rank = _placement(_module_name(path, src))
    bad = []
    for target in sorted(_imports(path, src)):
        _, target_rank = _placement(target)
        if rank is None and target_rank is not None:
            bad.append(f"{target} (stage {STAGES[target_rank][0]}; a leaf imports only leaves)")
        elif rank is not None and target_rank is not None and target_rank > rank:
            bad.append(f"{target} (stage {STAGES[target_rank][0]}, after {STAGES[rank][0]})")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_no_import_from_a_later_stage(path: Path) -> None:
    assert _violations(path) == [], f"{_module_name(path)} imports from a later stage"


def test_the_guard_sees_late_and_type_only_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "sitelens"
    (pkg / "report").mkdir(parents=True)
    (pkg / "report" / "sarif.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "fs.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .errors import CorruptImage\n"
        "if TYPE_CHECKING:\n    from .report import sarif\n"
        "def f():\n    from .checks.helpers import norm\n"
    )
    assert _violations(pkg / "fs.py", tmp_path) == [
        "sitelens.checks.helpers (stage checks, after fs)",
        "sitelens.report.sarif (stage report, after fs)",
    ]
    (pkg / "errors.py").write_text("import sitelens.inventory.model\n")
    assert _violations(pkg / "errors.py", tmp_path) == [
        "sitelens.inventory.model (stage inventory; a leaf imports only leaves)"
    ]
