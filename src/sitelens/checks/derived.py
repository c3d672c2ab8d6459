"""Facts the checks share, derived once per audit from the filesystem and the inventory.

Each is computed on first use and kept (``functools.cached_property``): the build strategy (which
fix text fits), the waste model, the import resolver with its attribution, RECORD and OS-package
claims by path (and which RECORD paths an OS package lists too), the Python versions the image can
run, and the identities to judge. The audit hands in what it already computed (strategy, waste); a
test that builds a :class:`Context` by hand gets the rest derived the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from ..dbreaders import OS_INSTALLERS
from ..inventory.attribution import Attributor
from ..paths import normpath

if TYPE_CHECKING:
    from ..fs import Filesystem
    from ..image import Image
    from ..inventory.import_truth import ImportTruth
    from ..inventory.model import Distribution, Identity, Inventory, OsPackage
    from ..layers.index import LayerIndex
    from ..strategy import Strategy
    from ..waste import WasteReport


# The package-database managers (dbreaders.READERS); conda is one: its database records every
# file's sha256, and pip over a conda package is two owners of one tree (docs/build-styles.md)
def is_os_owned(d: Distribution) -> bool:
    return bool(d.owner_package) or d.installer_name in OS_INSTALLERS


class Derived:
    def __init__(
        self,
        fs: Filesystem,
        inventory: Inventory,
        image: Image,
        indexes: list[LayerIndex],
        strategy: Strategy | None = None,
        waste: WasteReport | None = None,
        waste_from: Callable[[], WasteReport] | None = None,
    ) -> None:
        self._fs, self._inv, self._image, self._indexes = fs, inventory, image, indexes
        self._waste_from = waste_from
        if strategy is not None:
            self.__dict__["strategy"] = strategy
        if waste is not None:
            self.__dict__["waste"] = waste

    @cached_property
    def strategy(self) -> Strategy:
        from ..strategy import detect_strategy

        return detect_strategy(self._inv, self._fs)

    @cached_property
    def waste(self) -> WasteReport:
        from ..waste import compute_waste

        if self._waste_from is not None:
            return self._waste_from()  # the audit's own way, from parts it already computed
        # a hand-built context may hold a partial inventory: the waste model reads the package
        # databases itself
        return compute_waste(self._fs, self._indexes, self._image)

    @cached_property
    def truth(self) -> ImportTruth:
        from ..inventory.import_truth import ImportTruth

        # the one that filled env.imports, attribution and all (a hand-built inventory has none)
        built = self._inv.import_truth
        return built if built is not None else ImportTruth(self._fs, self._inv)

    @cached_property
    def attributor(self) -> Attributor:
        return self.truth.attributor

    @cached_property
    def record_claims(self) -> dict[str, list[Distribution]]:
        """path -> non-OS distributions whose RECORD lists it (RECORD itself and .pyc excluded).
        Read-only: lists are shared between paths."""
        out: dict[str, list[Distribution]] = {}
        for d in self._inv.all_distributions():
            if is_os_owned(d) or not d.record:
                continue
            # Every path only ``d`` claims shares one list (a list per path was 15 MB at 170 k
            # RECORD rows): the lists are read, never changed, and a second claim makes a new one.
            alone = [d]
            for r in d.record:
                path = normpath(r.path)
                got = out.get(path)
                out[path] = alone if got is None else [*got, d]
        return out

    @cached_property
    def os_owners(self) -> dict[str, list[OsPackage]]:
        return {normpath(p): v for p, v in self._inv.os_owners().items()}

    @cached_property
    def os_claimed(self) -> frozenset[str]:
        """The :attr:`record_claims` paths an OS package lists too, as written or with their
        parent's links resolved (usr-merge: ``/bin/x`` is ``/usr/bin/x``): SL104 needs them as
        the second owner and SL106 leaves them to SL103. Computed once for both checks."""
        owners = self.os_owners
        canonical = self._fs.canonical
        return frozenset(p for p in self.record_claims if p in owners or (canonical(p) or p) in owners)

    def os_owned(self, path: str) -> bool:
        """Whether an OS package lists the normalised ``path``, as written or canonically."""
        if path in self.record_claims:
            return path in self.os_claimed
        owners = self.os_owners
        return path in owners or (self._fs.canonical(path) or path) in owners

    @cached_property
    def interpreter_versions(self) -> set[str]:
        """Every CPython X.Y the image can run: the inventory's interpreters and any
        ``pythonX.Y`` executable or stdlib on disk (the waste model's scan)."""
        out = {i.version for i in self._inv.interpreters}
        out |= {e.version for e in self._inv.environments}
        return out | set(self.waste.python.versions)

    @cached_property
    def identities(self) -> list[Identity]:
        """The inventory's identities; resolved from the image when an inventory has none (a
        partial inventory), so the permission rules never silently judge nobody."""
        if self._inv.identities:
            return list(self._inv.identities)
        from ..inventory.identities import resolve_identities

        return list(resolve_identities(self._fs, self._image.config))
