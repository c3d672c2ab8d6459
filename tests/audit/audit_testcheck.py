"""Test-only checks that exercise the audit frame before (and besides) the real checks.

They fire only on images carrying a marker under ``/sitelens-test/``, so registering them in the
global registry cannot change any other test's result. This is the frame's own test fixture,
not a stand-in for a product check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, build, write_oci_layout
from sitelens.checks.base import Context, check
from sitelens.checks.helpers import strategy_for
from sitelens.findings import Finding, finding
from sitelens.strategy import remediation_for

# under a *.dist-info dir so the layer index keeps the bytes (checks read no other bytes)
MARKER = "/sitelens-test/marker.dist-info/findings.json"
CRASH = "/sitelens-test/crash"


@check("SL101", "SL206", "SL303")
def marker_findings(ctx: Context) -> Iterator[Finding]:
    raw = ctx.fs.read_text(MARKER)
    if raw is None:
        return
    for item in json.loads(raw):
        dist = item.get("distribution")
        evidence = {
            "distribution": dist,
            "versions": item.get("versions", []),
            "paths": item.get("paths", []),
            "layers": item.get("layers", []),
            "owners": item.get("owners", []),
            "identity": "image-user",
        }
        yield finding(
            item["rule"],
            f"test finding for {dist}",
            f"{dist} {' and '.join(item.get('versions', []))} at {', '.join(item.get('paths', []))}",
            {k: v for k, v in evidence.items() if v is not None},
            remediation_for(strategy_for(ctx), {
                "venv": "fix it inside the venv",
                "system": "fix it with one installer per distribution",
                "default": "fix it",
            }),
            key=(dist, tuple(item.get("paths", []))), severity=item["severity"],
        )


@check("SL107")
def crash_on_marker(ctx: Context) -> Iterator[Finding]:
    if ctx.fs.exists(CRASH):
        raise RuntimeError("deliberate crash for the frame test")
    return iter(())


def marker_image(items: list[dict], user: str | None = "1000", crash: bool = False) -> ImageSpec:
    base = [
        Dir("/etc"),
        File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        File("/etc/group", b"root:x:0:\napp:x:1000:\n"),
        # writable by the image user and by group 0 (arbitrary UIDs): no SL203 noise
        Dir("/home/app", mode=0o775, uid=1000, gid=0),
        Dir("/root", mode=0o700),
    ]
    marker = [Dir("/sitelens-test"), Dir("/sitelens-test/marker.dist-info"),
              File(MARKER, json.dumps(items).encode())]
    if crash:
        marker.append(File(CRASH, b""))
    return ImageSpec(
        layers=[LayerSpec(base, created_by="base"), LayerSpec(marker, created_by="RUN marker")],
        user=user,
        workdir="/home/app",
        entrypoint=["/bin/sh"],
    )


def write_marker_image(tmp: Path, items: list[dict], **kw: object) -> str:
    out = tmp / "img"
    write_oci_layout(build(marker_image(items, **kw)), out)  # type: ignore[arg-type]
    return f"oci:{out}"


HIGH_JINJA = {
    "rule": "SL101", "severity": "high", "distribution": "jinja2",
    "versions": ["3.1.4", "3.1.2"],
    "paths": ["/usr/local/lib/python3.11/dist-packages/Jinja2-3.1.4.dist-info",
              "/usr/lib/python3/dist-packages/Jinja2-3.1.2.egg-info"],
    "layers": [2, 1],
    "owners": ["pip:/usr/local/lib/python3.11/dist-packages/Jinja2-3.1.4.dist-info",
               "dpkg:python3-jinja2"],
}
LOW_CACHE = {
    "rule": "SL303", "severity": "low", "distribution": None,
    "paths": ["/root/.cache/pip"], "layers": [1],
}
