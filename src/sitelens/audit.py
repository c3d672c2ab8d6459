"""The audit: image → filesystem → inventory → every registered check → config → result.

``run_audit`` is the library entry point behind ``sitelens audit``; ``audit_image`` does the same
from an already loaded image (tests, the scan job). Renderers and the CLI only read the
:class:`AuditResult`; the exit code is decided here (:meth:`AuditResult.exit_code`) and nowhere
else.

A check that raises is a bug in sitelens, not a property of the image. By default
(``on_check_error="raise"``) it propagates, so tests see it. The CLI passes ``"record"``: the other
checks still run, the failure is reported in every format (JSON ``errors``, SARIF
``toolExecutionNotifications`` with ``executionSuccessful: false``, a console banner) and the exit
code is 2, because an incomplete audit must neither pass a gate (0) nor pose as findings (1).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from .findings import Finding, Summary, at_or_above, cap_per_rule, sort_key
from .sources.base import SourceOptions

if TYPE_CHECKING:
    from .checks.base import RegisteredCheck
    from .fs import Filesystem
    from .image import Image
    from .inventory.model import Identity, Inventory
    from .layers.index import LayerIndex
    from .layers.loader import Progress
    from .strategy import Strategy
    from .suppress import SuppressionStatus

InventoryBuilder = Callable[["Filesystem", "Image", "list[Identity]"], "Inventory"]


@dataclass
class AuditOptions:
    source: SourceOptions = field(default_factory=SourceOptions)
    cache_dir: Path | None = None
    use_cache: bool = True
    progress: Progress | None = None
    users: tuple[str, ...] = ()  # extra identities, --user UID[:GID]
    config: Config = field(default_factory=Config)
    requirements: tuple[Path, ...] = ()  # --requirements, added to the config's
    today: dt.date | None = None  # for suppression expiry; None = today
    on_check_error: str = "raise"  # raise | record


@dataclass(frozen=True)
class CheckFailure:
    check: str
    rules: tuple[str, ...]
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "rules": list(self.rules), "error": self.error}


@dataclass
class AuditResult:
    image: Image
    fs: Filesystem
    identities: list[Identity]
    inventory: Inventory
    strategy: Strategy
    waste: Any | None  # sitelens.waste's result (to_json()), None when not computed
    findings: list[Finding]
    suppressions: list[SuppressionStatus]
    errors: list[CheckFailure]
    config: Config

    @property
    def summary(self) -> Summary:
        return Summary.of(self.findings)

    def failing(self, fail_on: str) -> list[Finding]:
        """Unsuppressed findings at or above ``fail_on`` (none for ``none``)."""
        if fail_on == "none":
            return []
        return [f for f in self.findings if not f.suppressed and at_or_above(f.severity, fail_on)]

    def exit_code(self, fail_on: str) -> int:
        """DESIGN §4: 2 when a check crashed (incomplete audit), 1 when findings reach
        ``fail_on``, else 0. (3 never comes from here: an unreadable image raises earlier.)"""
        if self.errors:
            return EXIT_USAGE
        return EXIT_FINDINGS if self.failing(fail_on) else EXIT_OK


def _read_requirements(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """Host requirement files as (path, text), the form the SL116 check reads from options."""
    out = []
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read requirements file {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"requirements file {p} is not UTF-8 text") from None
        out.append((str(p), text))
    return out


def _default_builder() -> InventoryBuilder:
    # Imported late: the inventory is the heaviest import and `rules`/`explain` never need it.
    from .inventory.builder import build_inventory

    return build_inventory


def import_analysis() -> None:
    """Import what :func:`audit_image` runs (the inventory, every check, the waste model): the
    loader calls it while worker processes index the layers, so the imports cost no wall time."""
    from . import checks, waste  # noqa: F401
    from .inventory import builder  # noqa: F401


# Checks run in the forked child beside the parent's (see forked.py). The child also computes the
# Python waste figures, so it takes the checks that read them (waste, venv_integrity through
# interpreter_versions, interpreter_abi) and the requirement checks; the parent keeps the
# ownership checks and every permission walk, which share derived claims and access caches a
# second process would build again. Only speed depends on this split: a check that reads a fact
# the other process computed derives it again.
CHILD_CHECK_MODULES = frozenset({"waste", "venv_integrity", "interpreter_abi", "requirements"})

# The child pays for itself only on big images: every page the parent writes while a child
# lives is copied. A warm audit of the benchmark image (16 k files, 18 k layer entries) took
# the same wall time with and without it and 0.08 s more CPU with it; at 4x (73 k entries) it
# took 10 % less wall time (2.23 -> 2.00 s), at 8x 12 % less (5.2 -> 4.6 s).
FORK_MIN_ENTRIES = 50_000


def _in_child(rc: RegisteredCheck) -> bool:
    return rc.name.split(".")[-2] in CHILD_CHECK_MODULES


def _run_checks(ctx: Any, on_error: str, which: Callable[[RegisteredCheck], bool] | None = None) -> list[Any]:
    """Each selected check's findings (or its failure), in registry order."""
    from .rules.catalog import RULES

    out: list[Any] = []
    for rc in _registry():
        if which is not None and not which(rc):
            continue
        try:
            produced = list(rc.fn(ctx))
            for f in produced:
                if f.rule not in rc.rules or f.rule not in RULES:
                    raise ValueError(f"emitted {f.rule}, which it does not declare ({rc.rules})")
        except Exception as exc:
            if on_error == "raise":
                raise
            out.append(CheckFailure(rc.name, rc.rules, f"{type(exc).__name__}: {exc}"))
            continue
        out.append(produced)
    return out


def _registry() -> list[RegisteredCheck]:
    from . import checks  # noqa: F401  (importing the package registers every check)
    from .checks.base import REGISTRY

    return REGISTRY


def _merge(outcomes: list[Any]) -> tuple[list[Finding], list[CheckFailure]]:
    findings: list[Finding] = []
    failures: list[CheckFailure] = []
    seen: set[tuple[str, str, str]] = set()
    for outcome in outcomes:
        if isinstance(outcome, CheckFailure):
            failures.append(outcome)
            continue
        for f in outcome:
            # the same statement reached twice (e.g. once per identity) is reported once
            k = (f.rule, f.fingerprint, f.message)
            if k not in seen:
                seen.add(k)
                findings.append(f)
    return findings, failures


def audit_image(
    image: Image,
    indexes: list[LayerIndex],
    fs: Filesystem,
    options: AuditOptions | None = None,
    build_inventory: InventoryBuilder | None = None,
    fork: bool | None = None,
) -> AuditResult:
    """Audit an image whose layers are already indexed and merged. ``fork``: None uses a
    second process for part of the analysis where that is safe (:func:`forked.can_fork`) and
    the image is big enough to repay it (:data:`FORK_MIN_ENTRIES`); True/False forces the
    choice (tests)."""
    from .forked import can_fork

    if fork is None:
        fork = sum(len(ix.entries) for ix in indexes) >= FORK_MIN_ENTRIES and can_fork()

    # The filesystem and the indexes (most of the heap) live through the whole analysis:
    # collections need not traverse them again and again, and a forked child shares their pages
    # instead of copying each one a collection touches (gc.freeze's documented use).
    gc.freeze()
    try:
        return _audit(image, indexes, fs, options, build_inventory, fork)
    finally:
        gc.unfreeze()


def _audit(
    image: Image,
    indexes: list[LayerIndex],
    fs: Filesystem,
    options: AuditOptions | None,
    build_inventory: InventoryBuilder | None,
    fork: bool,
) -> AuditResult:
    from .checks.base import Context
    from .checks.derived import Derived
    from .forked import Forked
    from .inventory.identities import resolve_identities
    from .strategy import detect_strategy
    from .suppress import apply_config
    from .waste import WasteReport, layer_waste, python_waste

    opts = options or AuditOptions()
    config = opts.config
    warnings: list[str] = []
    # dive's figures and the hidden copies need no inventory: a child computes them meanwhile
    layers_part = Forked(lambda: layer_waste(fs, indexes), fork)
    try:
        identities = resolve_identities(fs, image.config, opts.users, warnings=warnings)
        inventory = (build_inventory or _default_builder())(fs, image, identities)
        inventory.warnings.extend(w for w in warnings if w not in inventory.warnings)
        strategy = detect_strategy(inventory, fs)
    except BaseException:
        layers_part.cancel()
        raise
    dive, hidden = layers_part.result()

    def waste_from() -> WasteReport:
        return WasteReport(dive=dive, hidden=hidden, python=python_waste(fs, inventory))

    ctx = Context(
        fs=fs,
        inventory=inventory,
        image=image,
        indexes=indexes,
        options={
            "requirements": _read_requirements([*config.requirements, *opts.requirements]),
            "waste": config.waste.to_json(),
            "users": list(opts.users),
        },
        derived=Derived(fs, inventory, image, indexes, strategy=strategy, waste_from=waste_from),
    )
    on_error = opts.on_check_error

    def child_part() -> tuple[WasteReport, list[Any]]:
        return ctx.derived.waste, _run_checks(ctx, on_error, _in_child)

    checks_part = Forked(child_part, fork)
    try:
        outcomes = _run_checks(ctx, on_error, lambda rc: not _in_child(rc))
    except BaseException:
        checks_part.cancel()
        raise
    waste, child_outcomes = checks_part.result()
    for part in (layers_part, checks_part):
        if part.died:
            inventory.warnings.append(
                f"an analysis worker process {part.died}; its part ran again in the main process"
            )
    # registry order, as one process would have produced them
    by_check = iter(child_outcomes)
    mine = iter(outcomes)
    ordered = [next(by_check) if _in_child(rc) else next(mine) for rc in _registry()]
    raw, failures = _merge(ordered)
    findings, statuses = apply_config(raw, config, opts.today)
    findings.sort(key=sort_key)
    findings = cap_per_rule(findings)
    findings.sort(key=sort_key)
    return AuditResult(image, fs, identities, inventory, strategy, waste, findings, statuses,
                       failures, config)


def run_audit(ref: str, options: AuditOptions | None = None) -> AuditResult:
    """Obtain the image ``ref`` and audit it (ImageError subclasses when it cannot be read)."""
    from .pipeline import load

    opts = options or AuditOptions()
    with load(ref, opts.source, opts.cache_dir, opts.use_cache, opts.progress) as loaded:
        return audit_image(loaded.image, loaded.indexes, loaded.fs, opts)
