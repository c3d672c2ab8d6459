"""The check interface: a check is a pure function of (filesystem, inventory, derived) → findings.

Checks never read file contents (the inventory parsed them), call the network or print; shared
wording and ordering come from :mod:`sitelens.checks.helpers`. Each concern lives in its own
module and registers its checks with :func:`check`; ``checks/__init__.py`` imports the modules so
registration happens once. Adding a rule = one function here-shaped plus one import line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..findings import Finding
from .derived import Derived

if TYPE_CHECKING:
    from ..fs import Filesystem
    from ..image import Image
    from ..inventory.model import Inventory
    from ..layers.index import LayerIndex


@dataclass
class Context:
    fs: Filesystem
    inventory: Inventory
    image: Image
    indexes: list[LayerIndex]
    options: dict[str, Any] = field(default_factory=dict)  # e.g. requirements files, thresholds
    derived: Derived = None  # type: ignore[assignment]  # facts shared by the checks; built if absent

    def __post_init__(self) -> None:
        if self.derived is None:
            self.derived = Derived(self.fs, self.inventory, self.image, self.indexes)


CheckFn = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    rules: tuple[str, ...]
    fn: CheckFn


REGISTRY: list[RegisteredCheck] = []


def check(*rules: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        REGISTRY.append(RegisteredCheck(f"{fn.__module__}.{fn.__name__}", rules, fn))
        return fn

    return deco
