"""Wasted bytes: SL301 hidden bytes, SL302 chown/chmod copies, SL303 caches, SL304 duplicate
distributions, SL305 build toolchain, SL306 the efficiency gate.

The figures come from :func:`sitelens.waste.compute_waste` (computed once per audit and shared
through ``ctx.derived.waste``); these checks only decide what is worth a finding. Small amounts
are left out on purpose (``*_FLOOR``): every apt-using image re-ships a few KB of dpkg state, and
a finding about that would drown the ones that matter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..findings import Finding, finding
from ..waste import WasteReport
from ..waste import human_bytes as human
from ..waste.hidden import HiddenCopy, Offender
from .base import Context, check
from .helpers import layer_label, remedy, strategy_for

KIB = 1024
MIB = 1024 * KIB
SL301_FLOOR = 1 * MIB  # per hiding layer
SL302_FLOOR = 1 * MIB  # per layer
SL303_FLOOR = 64 * KIB  # per cache (foreign bytecode: any)
LISTED = 5

# SL306 defaults: dive's CI defaults, plus a floor dive does not have.
DEFAULT_LOWEST_EFFICIENCY = 0.9
DEFAULT_HIGHEST_USER_WASTED_PERCENT = 0.1
DEFAULT_HIGHEST_WASTED_BYTES: int | None = None  # dive: disabled
DEFAULT_MIN_WASTED_BYTES = 20 * MIB

CAUSE_TEXT = {
    "overwritten": "overwritten",
    "reshipped": "re-shipped unchanged",
    "metadata": "re-shipped for owner/mode only",
    "deleted": "deleted",
    "deleted-with-dir": "removed with its directory",
    "opaque": "hidden by an opaque directory",
    "replaced": "replaced by another file type",
}


def waste_report(ctx: Context) -> WasteReport:
    return ctx.derived.waste


def _created_by(ctx: Context, layer: int) -> str:
    """A layer's step, stable across rebuilds (its digest and often its index are not)."""
    for li in ctx.fs.layers:
        if li.index == layer:
            return li.created_by or f"layer {layer}"
    return f"layer {layer}"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _listed(items: list[str], total: int) -> str:
    more = f" and {total - len(items)} more" if total > len(items) else ""
    return ", ".join(items) + more


def _offender_text(o: Offender) -> str:
    files = f", {o.files} files" if o.files > 1 else ""  # one file: the path says it
    return f"{o.root} ({human(o.bytes)}{files}, {CAUSE_TEXT[o.cause]})"


# ---- SL301 hidden-bytes --------------------------------------------------------------------

SL301_FIX = {
    "multi-stage": "Do the work that creates and deletes these files in the build stage and "
    "COPY --from only the result into the final stage.",
    "distro": "Install and clean up in the same RUN (apt-get install … && rm -rf "
    "/var/lib/apt/lists/*): a later RUN that deletes or rewrites files does not shrink the layer "
    "that shipped them.",
    "default": "Create, change and delete files in the same RUN (or use a multi-stage build): a "
    "later layer that deletes or overwrites files does not shrink the layer that shipped them.",
}


@check("SL301")
def hidden_bytes(ctx: Context) -> Iterator[Finding]:
    report = waste_report(ctx)
    by_layer: dict[int, list[Offender]] = {}
    for o in report.hidden.offenders:
        if o.cause != "metadata":
            by_layer.setdefault(o.hidden_by, []).append(o)
    for layer, offenders in sorted(by_layer.items()):
        total = sum(o.bytes for o in offenders)
        if total < SL301_FLOOR:
            continue
        files = sum(o.files for o in offenders)
        shipped = sorted({x for o in offenders for x in o.layers})
        top = offenders[:LISTED]
        causes: Counter[str] = Counter()
        for o in offenders:
            causes[o.cause] += o.bytes
        how = ", ".join(f"{human(b)} {CAUSE_TEXT[c]}" for c, b in causes.most_common())
        yield finding(
            "SL301",
            f"{layer_label(ctx, layer)} hides {human(total)} shipped by earlier layers",
            f"{layer_label(ctx, layer)} hides {total} bytes in {_n(files, 'file')} that "
            f"{'layer' if len(shipped) == 1 else 'layers'} "
            f"{', '.join(str(x) for x in shipped)} still "
            f"{'carries' if len(shipped) == 1 else 'carry'} ({how}). Biggest: "
            f"{_listed([_offender_text(o) for o in top], len(offenders))}.",
            {"bytes": total, "layers": [layer, *shipped], "paths": [o.root for o in top]},
            remedy(ctx, SL301_FIX),
            key=("hidden", _created_by(ctx, layer), *sorted(o.root for o in top)),
        )


# ---- SL302 metadata-only-copy --------------------------------------------------------------

SL302_FIX = {
    "venv": "Create the venv as the user who should own it, or set ownership while copying "
    "(COPY --chown=UID:0 --chmod=g=u); if you must chown/chmod, do it in the RUN that creates "
    "the files.",
    "multi-stage": "Set ownership while copying from the build stage: COPY --from=build "
    "--chown=UID:0 --chmod=g=u SRC DST, instead of a chown -R/chmod -R afterwards.",
    "distro": "Do not change the owner or mode of packaged files in a later layer; if you must, "
    "do it in the RUN that installs them.",
    "default": "chown/chmod in the same RUN that installs the files, or use COPY --chown/--chmod: "
    "a later chown -R or chmod -R copies every file into a new layer.",
}


def _meta_change(ctx: Context, copy: HiddenCopy) -> str | None:
    hist = ctx.fs.history(copy.path)
    old = new = None
    for c in hist:
        if c.layer == copy.layer and c.entry is not None:
            old = c.entry
        if c.layer == copy.hidden_by and c.entry is not None:
            new = c.entry
    if old is None or new is None:
        return None
    parts = []
    if (old.uid, old.gid) != (new.uid, new.gid):
        parts.append(f"owner {old.uid}:{old.gid} → {new.uid}:{new.gid}")
    if old.mode != new.mode:
        parts.append(f"mode {old.mode:04o} → {new.mode:04o}")
    if old.xattrs != new.xattrs:
        parts.append("xattrs")
    return ", ".join(parts) or None


@check("SL302")
def metadata_only_copy(ctx: Context) -> Iterator[Finding]:
    report = waste_report(ctx)
    by_layer: dict[int, list[Offender]] = {}
    for o in report.hidden.offenders:
        if o.cause == "metadata":
            by_layer.setdefault(o.hidden_by, []).append(o)
    copies: dict[int, list[HiddenCopy]] = {}
    for c in report.hidden.copies:
        if c.cause == "metadata":
            copies.setdefault(c.hidden_by, []).append(c)
    for layer, offenders in sorted(by_layer.items()):
        total = sum(o.bytes for o in offenders)
        if total < SL302_FLOOR:
            continue
        files = sum(o.files for o in offenders)
        changes = Counter(filter(None, (_meta_change(ctx, c) for c in copies.get(layer, []))))
        what = "; ".join(t if len(changes) == 1 else f"{t} ({_n(n, 'file')})"
                         for t, n in changes.most_common(3)) or "metadata"
        top = offenders[:LISTED]
        roots = [f"{o.root} ({human(o.bytes)}, {_n(o.files, 'file')})" for o in top]
        yield finding(
            "SL302",
            f"{layer_label(ctx, layer)} re-ships {human(total)} only to change owner or mode",
            f"{layer_label(ctx, layer)} copies {_n(files, 'unchanged file')} ({total} bytes) into a new "
            f"layer to change {what}: "
            f"{_listed(roots, len(offenders))}."
            f" The image now carries them twice.",
            {"bytes": total, "layers": [layer, *sorted({x for o in offenders for x in o.layers})],
             "paths": [o.root for o in top]},
            remedy(ctx, SL302_FIX),
            key=("metadata", _created_by(ctx, layer), *sorted(o.root for o in top)),
        )


# ---- SL303 package-caches ------------------------------------------------------------------

CACHE_TEXT = {
    "pip-cache": "pip's cache",
    "uv-cache": "uv's cache",
    "poetry-cache": "poetry's cache",
    "pipenv-cache": "pipenv's cache",
    "apt-lists": "apt's package lists",
    "apt-archives": "downloaded .deb archives",
    "apt-pkgcache": "apt's package cache",
    "dnf-cache": "dnf's cache",
    "yum-cache": "yum's cache",
    "apk-cache": "apk's cache",
    "conda-pkgs": "conda's package cache (archives and extracted packages)",
    "virtualenv-app-data": "virtualenv's app-data (seed wheels and their unpacked copies)",
    "pycache-foreign": "bytecode for a Python version the image does not have",
}
CACHE_FIX = {
    "pip-cache": "pip install --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1), or a BuildKit cache "
    "mount: RUN --mount=type=cache,target=/root/.cache/pip pip install ….",
    "uv-cache": "uv pip install --no-cache (or UV_NO_CACHE=1), or RUN "
    "--mount=type=cache,target=/root/.cache/uv.",
    "poetry-cache": "poetry install --no-cache, or rm -rf ~/.cache/pypoetry/cache "
    "~/.cache/pypoetry/artifacts in the same RUN.",
    "pipenv-cache": "PIPENV_CACHE_DIR on a cache mount, or rm -rf ~/.cache/pipenv in the same RUN.",
    "apt-lists": "apt-get update && apt-get install -y --no-install-recommends … && rm -rf "
    "/var/lib/apt/lists/* in one RUN.",
    "apt-archives": "apt-get clean (or rm -rf /var/cache/apt/archives/*.deb) in the RUN that "
    "installs.",
    "apt-pkgcache": "rm -rf /var/cache/apt/*.bin in the RUN that installs (apt-get clean).",
    "dnf-cache": "dnf clean all in the RUN that installs.",
    "yum-cache": "yum clean all in the RUN that installs.",
    "apk-cache": "apk add --no-cache.",
    "conda-pkgs": "conda clean --all --yes (mamba clean -afy) in the RUN that installs.",
    "virtualenv-app-data": "Point virtualenv at a throw-away app-data dir "
    "(ENV VIRTUALENV_OVERRIDE_APP_DATA=/tmp/virtualenv, read whoever runs virtualenv: Poetry, "
    "tox, hatch), or rm -rf ~/.cache/virtualenv in the RUN that created the venv (unless it was "
    "made with --symlink-app-data, whose venvs link into it), or use a BuildKit cache mount.",
    "pycache-foreign": "The tree was byte-compiled by another Python: copy sources without "
    "__pycache__ (or build them with the image's Python) and delete the stale *.pyc files.",
}


@check("SL303")
def package_caches(ctx: Context) -> Iterator[Finding]:
    report = waste_report(ctx)
    multi = strategy_for(ctx).multi_stage
    for g in report.python.caches:
        if g.kind != "pycache-foreign" and g.bytes < SL303_FLOOR:
            continue
        what = CACHE_TEXT.get(g.kind, g.kind)
        if g.kind == "pycache-foreign":
            have = ", ".join(report.python.versions)
            title = f"{g.root} holds bytecode for Python {g.detail}, which the image lacks"
            tag = (g.detail or "").replace(".", "")
            message = (f"{_n(g.files, 'bytecode file')} (*.cpython-{tag}.pyc, {g.bytes} bytes) "
                       f"under {g.root} {'is' if g.files == 1 else 'are'} for Python {g.detail}; "
                       f"the image has Python {have}, which never reads them.")
        else:
            title = f"{what} in the image: {g.root} ({human(g.bytes)})"
            message = (f"{g.root} holds {what}: {_n(g.files, 'file')}, {g.bytes} bytes, shipped by "
                       f"{', '.join(layer_label(ctx, x) for x in sorted(g.layers))}. Nothing reads "
                       f"it at runtime.")
        fix = CACHE_FIX.get(g.kind, "Remove it in the RUN that creates it.")
        if multi:
            fix += " In a multi-stage build, keep it in the build stage and copy only the result."
        yield finding(
            "SL303",
            title,
            message,
            {"bytes": g.bytes, "layers": sorted(g.layers), "paths": [g.root],
             **({"versions": [g.detail]} if g.detail else {})},
            fix,
            key=(g.kind, g.root),
        )


# ---- SL304 duplicate-distributions ----------------------------------------------------------

SL304_FIX = {
    "venv": "Install into the venv only; do not also pip install into the system Python (or "
    "drop the unused environment).",
    "multi-stage": "Copy one environment into the final stage, not both.",
    "distro": "Do not install the distro package when an environment has its own copy.",
    "default": "Keep one environment for the app and drop the other copy.",
}


@check("SL304")
def duplicate_distributions(ctx: Context) -> Iterator[Finding]:
    report = waste_report(ctx)
    for d in report.python.duplicates:
        yield finding(
            "SL304",
            f"{d.name} {d.version} is installed identically in {len(d.site_dirs)} places",
            f"{d.name} {d.version} with identical files is installed in "
            f"{', '.join(d.site_dirs)} ({', '.join(human(b) for b in d.bytes_per_copy)}); "
            f"{d.reclaimable} bytes are a second copy.",
            {"distribution": d.name, "versions": [d.version], "paths": d.site_dirs,
             "bytes": d.reclaimable, "layers": sorted(d.layers)},
            remedy(ctx, SL304_FIX),
            key=(d.name, *d.site_dirs),
        )


# ---- SL305 build-toolchain -----------------------------------------------------------------

SL305_FIX = {
    "multi-stage": "Keep compilers and -dev packages in the build stage; the final stage needs "
    "only the built wheels or environment.",
    "default": "Build wheels in a build stage (pip wheel -w /wheels …) and install them in a "
    "runtime stage without compilers, or purge them in the RUN that used them: apt-get purge -y "
    "--auto-remove gcc python3-dev ….",
}


@check("SL305")
def build_toolchain(ctx: Context) -> Iterator[Finding]:
    py = waste_report(ctx).python
    if not py.toolchain:
        return
    total = py.toolchain_bytes
    names = [t.owner for t in py.toolchain]
    shown = [f"{t.owner.split(':', 1)[1]} ({human(t.bytes)})" for t in py.toolchain[:8]]
    from_packages = py.toolchain_source == "packages"
    yield finding(
        "SL305",
        f"Build toolchain in the final image ({human(total)})",
        (f"{len(names)} build-only packages are installed: " if from_packages
         else "Compilers or headers are present: ")
        + f"{_listed(shown, len(names))}; {total} bytes nobody needs to run the app.",
        {"bytes": total, "layers": sorted({x for t in py.toolchain for x in t.layers}),
         **({"owners": names} if from_packages
            else {"paths": [n.split(":", 1)[1] for n in names]})},
        remedy(ctx, SL305_FIX),
        key=("toolchain",),
    )


# ---- SL306 low-efficiency (the gate) -------------------------------------------------------

def thresholds(options: dict[str, Any]) -> dict[str, float | int | None]:
    """The gate's thresholds: config values where set, else dive's CI defaults and the floor."""
    cfg = options.get("waste") or {}

    def pick(key: str, default: float | int | None) -> float | int | None:
        value = cfg.get(key)
        return default if value is None else value

    return {
        "lowest_efficiency": pick("lowest_efficiency", DEFAULT_LOWEST_EFFICIENCY),
        "highest_wasted_bytes": pick("highest_wasted_bytes", DEFAULT_HIGHEST_WASTED_BYTES),
        "highest_user_wasted_percent": pick("highest_user_wasted_percent",
                                            DEFAULT_HIGHEST_USER_WASTED_PERCENT),
        "min_wasted_bytes": pick("min_wasted_bytes", DEFAULT_MIN_WASTED_BYTES),
    }


SL306_FIX = {
    "default": "Fix the waste findings above, biggest first (SL301 hidden bytes, SL302 "
    "chown/chmod copies, SL303 caches, SL305 toolchains), or set [waste] thresholds this image "
    "can reach.",
}


@check("SL306")
def low_efficiency(ctx: Context) -> Iterator[Finding]:
    report = waste_report(ctx)
    dive = report.dive
    t = thresholds(ctx.options)
    floor = t["min_wasted_bytes"] or 0
    if report.wasted_bytes < floor:
        return  # below the floor nothing could be saved worth failing a build for
    failed = []
    lowest = t["lowest_efficiency"]
    if lowest is not None and lowest > dive.efficiency:
        failed.append(f"efficiency {dive.efficiency:.4f} < lowest_efficiency {lowest}")
    highest = t["highest_wasted_bytes"]
    if highest is not None and dive.inefficient_bytes > highest:
        failed.append(f"wasted bytes {dive.inefficient_bytes} > highest_wasted_bytes {highest}")
    pct_limit = t["highest_user_wasted_percent"]
    if pct_limit is not None and dive.user_wasted_exceeds(float(pct_limit)):
        pct = dive.user_wasted_percent
        shown = "inf (no bytes above the base layer)" if pct is None else f"{pct:.4f}"
        failed.append(f"user wasted percent {shown} > highest_user_wasted_percent {pct_limit}")
    if not failed:
        return
    yield finding(
        "SL306",
        "Image wastes more than the configured thresholds allow",
        f"dive-compatible figures: {'; '.join(failed)} (inefficient bytes "
        f"{dive.inefficient_bytes} of {dive.size_bytes}). sitelens's own figures: "
        f"{report.wasted_bytes} reclaimable bytes of {report.total_bytes} "
        f"(efficiency {report.efficiency:.4f}; {report.metadata_bytes} of them chown/chmod "
        f"copies), above the {floor}-byte floor.",
        {"bytes": report.wasted_bytes},
        SL306_FIX["default"],
        key=("gate",),
    )
