"""How the image was built, so a finding's fix can be given in that style.

sitelens takes no side in the venv-vs-system debate: a venv image is fixed inside its venv, a
system or ``pip --user`` image without one, a distro-packages image with the distro's packages,
and a multi-stage build in the stage that installs. The strategy is read from the inventory
alone: which environment the entrypoint runs (or, without one, the environment holding most
non-OS distributions), where its pip-installed distributions live, and whether the layer that
wrote them ran pip or merely copied a tree built elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dbreaders import OS_INSTALLERS

if TYPE_CHECKING:
    from .fs import Filesystem
    from .inventory.model import Distribution, Environment, Inventory

VENV = "venv"
SYSTEM = "system"
USER = "user"
CONDA = "conda"
DISTRO = "distro"
UNKNOWN = "unknown"
MULTI_STAGE = "multi-stage"

_USER_SITE = re.compile(r"/\.local/lib/python\d+\.\d+/site-packages(/|$)|^~/")
# A layer that copies a tree rather than running an installer: Dockerfile COPY/ADD as the
# classic builder and BuildKit record them ("COPY --from=build /opt/venv /opt/venv # buildkit",
# "/bin/sh -c #(nop) COPY dir:abc in /opt/venv").
_COPY_STEP = re.compile(r"(^|\s|#\(nop\)\s*)(COPY|ADD)\b", re.IGNORECASE)

# When a strategy has no text of its own, the nearest style that does.
FALLBACKS: dict[str, tuple[str, ...]] = {
    USER: (SYSTEM,),
    CONDA: (VENV,),
    DISTRO: (SYSTEM,),
    UNKNOWN: (SYSTEM,),
    SYSTEM: (),
    VENV: (),
}


@dataclass(frozen=True)
class Strategy:
    kind: str  # venv | system | user | conda | distro | unknown
    multi_stage: bool = False  # the installed tree was copied in from another stage
    environment: str | None = None  # prefix of the environment the app runs in
    evidence: tuple[str, ...] = field(default_factory=tuple)  # why we think so, for reports

    def describe(self) -> str:
        names = {VENV: "virtual environment", SYSTEM: "system-wide pip install",
                 USER: "pip --user install", CONDA: "conda environment",
                 DISTRO: "distribution packages only", UNKNOWN: "unknown"}
        text = names[self.kind]
        return f"{text}, copied from a build stage" if self.multi_stage else text

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "multi_stage": self.multi_stage,
                "environment": self.environment, "evidence": list(self.evidence)}


def is_user_site(path: str) -> bool:
    return bool(_USER_SITE.search(path))


def app_environment(inventory: Inventory, fs: Filesystem | None = None) -> Environment | None:
    """The environment the image's entrypoint runs, else the one holding most non-OS dists."""
    envs = inventory.environments
    ep = inventory.entrypoint
    if ep is not None and ep.interpreter:
        if fs is not None:
            from .inventory.builder import environment_for

            found = environment_for(inventory, ep.interpreter, fs)
            if found is not None:
                return found
        for env in envs:
            if ep.interpreter in (env.executable, env.interpreter.path, env.interpreter.real_path):
                return env
    best: Environment | None = None
    best_count = 0
    for env in envs:
        count = sum(1 for d in env.distributions if d.installer_name not in OS_INSTALLERS)
        # a venv beats a system env on a tie: it was made on purpose
        if count > best_count or (count == best_count and best is not None and count
                                  and env.kind == VENV and best.kind != VENV):
            best, best_count = env, count
    return best


def _copied(dists: list[Distribution], fs: Filesystem | None) -> bool:
    if fs is None:
        return False
    layers = {d.layer for d in dists if d.layer is not None}
    if not layers:
        return False
    by_index = {li.index: li.created_by or "" for li in fs.layers}
    # every layer that wrote pip metadata was a COPY/ADD: pip ran in another stage
    return all(_COPY_STEP.search(by_index.get(i, "")) for i in layers)


def detect_strategy(inventory: Inventory, fs: Filesystem | None = None) -> Strategy:
    env = app_environment(inventory, fs)
    if env is None:
        return Strategy(UNKNOWN, evidence=("no Python environment found",))
    installed = [d for d in env.distributions if d.installer_name not in OS_INSTALLERS]
    evidence = [f"app environment {env.prefix} ({env.kind}, Python {env.version})"]
    if env.kind == CONDA:
        kind = CONDA
    elif env.kind == VENV:
        kind = VENV
    elif installed and all(is_user_site(d.site_dir) for d in installed):
        kind = USER
        evidence.append(f"{len(installed)} distributions installed with pip --user")
    elif installed:
        kind = SYSTEM
        evidence.append(f"{len(installed)} distributions installed by "
                        f"{', '.join(sorted({d.installer for d in installed}))} outside a venv")
    elif env.distributions:
        kind = DISTRO
        evidence.append("every distribution comes from an OS package")
    else:
        kind = UNKNOWN
    multi = _copied(installed, fs)
    if multi:
        evidence.append("the layers holding them were COPY/ADD steps")
    return Strategy(kind, multi, env.prefix, tuple(evidence))


def remediation_for(strategy: Strategy | str, texts: Mapping[str, str]) -> str:
    """Pick the fix written for the image's build style.

    ``texts`` maps strategy kinds (``venv``, ``system``, ``user``, ``conda``, ``distro``,
    ``multi-stage``) and ``default`` to text. A multi-stage image gets ``multi-stage`` text when
    there is one; otherwise its kind, then the nearest kind (user → system, conda → venv,
    distro → system), then ``default``. A check that gives none of these is a bug.
    """
    s = strategy if isinstance(strategy, Strategy) else Strategy(strategy)
    order: list[str] = []
    if s.multi_stage:
        order.append(MULTI_STAGE)
    order.append(s.kind)
    order.extend(FALLBACKS.get(s.kind, ()))
    order.append("default")
    for key in order:
        text = texts.get(key)
        if text:
            return text
    raise KeyError(f"no remediation for strategy {s.kind!r} among {sorted(texts)}")
