"""SL201–SL207 and SL115 on real roots, each finding checked against what really happens when the
root's own Python runs in a chroot as the identity."""

from __future__ import annotations

import json
import os
import stat

import pytest
from perm_support import (  # type: ignore[import-not-found]
    CONFIG,
    MODULES,
    OS_APP,
    OS_CONFIG,
    OS_MODULES,
    Planted,
    inventory_from_reality,
    kernel,
    run_checks,
)

from sitelens.inventory.model import Identity

INTERPS = ["/usr/bin/python3", "/opt/venv/bin/python", "/opt/venv2/bin/python"]
ALL = {"SL115", "SL201", "SL202", "SL203", "SL204", "SL205", "SL206", "SL207"}

IMPORT = r"""
import importlib, json, sys
sys.dont_write_bytecode = %r
res = {}
for m in %r:
    try:
        importlib.import_module(m)
        res[m] = True
    except Exception:
        res[m] = False
print(json.dumps(res))
"""

def imports(planted: Planted, ident: Identity, exe: str, mods: list[str],
            no_pyc: bool = True) -> dict[str, bool] | None:
    proc = planted.run(ident, [exe, "-P", "-c", IMPORT % (no_pyc, mods)])
    return json.loads(proc.stdout) if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def result(planted: Planted):  # type: ignore[no-untyped-def]
    inv = inventory_from_reality(planted, CONFIG, INTERPS, ["/opt/venv/bin/python", "/app/main.py"])
    return inv, run_checks(planted.fs, inv, CONFIG, ALL)


def by_rule(findings, rule):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.rule == rule]


def test_sl205_fires_exactly_when_the_interpreter_does_not_start(planted, result):
    _, findings = result
    reported = {(f.evidence["interpreter"], n) for f in by_rule(findings, "SL205")
                for n in f.evidence["identities"]}
    real = set()
    for exe in ["/opt/venv/bin/python", "/opt/venv2/bin/python"]:
        for ident in planted.identities:
            if imports(planted, ident, exe, ["os"]) is None:
                real.add((exe, ident.name))
    assert real == reported
    assert ("/opt/venv/bin/python", "arbitrary-uid") in real  # 1001:1001 0700
    assert ("/opt/venv2/bin/python", "image-user") in real  # unreadable pyvenv.cfg
    venv = next(f for f in by_rule(findings, "SL205")
                if f.evidence["interpreter"] == "/opt/venv/bin/python")
    denied = venv.evidence["access"]["denied_by"]
    assert denied == {"path": "/opt/venv", "need": "x", "mode": "0700", "owner": "1001:1001",
                      "class": "other", "kind": "dir"}


def test_sl201_every_unimportable_module_is_explained_and_every_finding_is_real(planted, result):
    inv, findings = result
    sl201 = by_rule(findings, "SL201")
    root_ident = planted.ident("root")
    for env in inv.environments:
        ref = imports(planted, root_ident, env.executable, list(MODULES))
        assert ref is not None
        for ident in planted.identities:
            got = imports(planted, ident, env.executable, list(MODULES))
            if got is None:
                continue  # does not start: SL205
            own = {e.path for e in env.sys_path[ident.name]}
            for mod, path in MODULES.items():
                if not ref[mod] or got[mod] or "/.local/" in path:
                    continue  # user sites are SL202's
                if not any(path.startswith(e.rstrip("/") + "/") for e in own | {
                        e.path for e in env.sys_path["root"]}):
                    continue
                hits = [f for f in sl201 if env.executable in f.evidence["interpreters"]
                        and ident.name in f.evidence["identities"]
                        and path.startswith(f.evidence["paths"][0].rstrip("/") + "/")]
                assert hits, (env.executable, ident.name, mod)
    assert sl201
    for f in sl201:
        ident = planted.ident(f.evidence["identity"])
        if "unreadable" in f.evidence:
            qs = [("list" if u["kind"] == "dir" else "read", u["path"])
                  for u in f.evidence["unreadable"]]
        else:
            qs = [("list", f.evidence["paths"][0])]
        assert not any(kernel(planted, ident, qs)), f.message
        assert ident.uid != 0


def test_sl202_user_sites_match_who_imports_them(planted, result):
    _, findings = result
    sl202 = {f.evidence["paths"][0]: f for f in by_rule(findings, "SL202")}
    assert set(sl202) == {"/root/.local/lib/python3.11/site-packages",
                          "/home/app/.local/lib/python3.11/site-packages"}
    for mod, site in (("usermod", "/root/.local/lib/python3.11/site-packages"),
                      ("buildmod", "/home/app/.local/lib/python3.11/site-packages")):
        f = sl202[site]
        unable = {n for u in f.evidence["unable"] for n in u["identities"]}
        for name in ("image-user", "arbitrary-uid"):
            ok = imports(planted, planted.ident(name), "/usr/bin/python3", [mod])
            assert ok is not None
            assert (name in unable) == (not ok[mod]), (mod, name)
    root_site = sl202["/root/.local/lib/python3.11/site-packages"]
    reasons = {u["identities"][0]: u for u in root_site.evidence["unable"]}
    assert "HOME='/home/app'" in reasons["image-user"]["reason"]
    build = sl202["/home/app/.local/lib/python3.11/site-packages"]
    assert build.evidence["able"] == ["image-user"]


def test_sl203_home_and_workdir_writability_matches_the_kernel(planted, result):
    _, findings = result
    reported = {(n, w) for f in by_rule(findings, "SL203")
                for n in f.evidence["identities"] for w in f.evidence["what"]}
    for ident in planted.identities:
        real_home, real_wd = kernel(planted, ident, [("create", ident.home), ("create", "/app")])
        assert ((ident.name, "HOME") not in reported) == real_home
        assert ((ident.name, "WorkingDir") not in reported) == real_wd


def test_sl204_world_writable_site_dir_and_not_the_group0_app_dir(planted, result):
    inv, findings = result
    sl204 = by_rule(findings, "SL204")
    assert [(f.evidence["paths"][0], f.severity) for f in sl204] == [
        ("/usr/local/lib/python3.11/dist-packages", "high")]
    assert "any user" in sl204[0].evidence["writer"]
    # reality: a stranger (not root, not the image user, not group 0) can plant a module there,
    # and can plant nowhere else on any import path that is not the app's own dir
    stranger = Identity("stranger", 2000, 2000)
    dirs = sorted({e.path for env in inv.environments for es in env.sys_path.values()
                   for e in es if e.exists and e.origin not in ("pythonpath",)})
    real = kernel(planted, stranger, [("create", d) for d in dirs])
    assert {d for d, ok in zip(dirs, real, strict=True) if ok} == {sl204[0].evidence["paths"][0]}
    # the group-0 app dir is writable by the arbitrary uid, on purpose, and not reported
    assert kernel(planted, planted.ident("arbitrary-uid"), [("create", "/app")]) == [True]


def test_sl207_setid_files_are_exactly_those_on_disk(planted, result):
    _, findings = result
    reported = {f.evidence["paths"][0] for f in by_rule(findings, "SL207")}
    real = set()
    for dirpath, dirnames, filenames in os.walk(planted.root):
        rel = "/" + os.path.relpath(dirpath, planted.root)
        if rel.split("/")[1] in ("proc", "sys", "dev"):
            dirnames[:] = []
            continue
        for n in filenames:
            st = os.lstat(os.path.join(dirpath, n))
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o6000:
                real.add(os.path.normpath(rel + "/" + n))
    assert "/usr/local/bin/suid-helper" in real and len(real) > 3
    assert reported == real


def test_sl206_only_for_root_images(planted, result):
    _, findings = result
    assert not by_rule(findings, "SL206")
    from dataclasses import replace

    inv, _ = result
    root_inv = replace(inv, identities=[replace(planted.ident("root"), name="image-user")])
    out = run_checks(planted.fs, root_inv, replace(CONFIG, user=None), {"SL206"})
    assert [f.rule for f in out] == ["SL206"]


def test_sl115_bytecode_written_or_not_as_predicted(planted, result):
    _, findings = result
    arb = planted.ident("arbitrary-uid")
    f = next(f for f in by_rule(findings, "SL115")
             if f.evidence["interpreter"] == "/usr/bin/python3" and "arbitrary-uid" in
             f.evidence["identities"])
    dirs = {e["dir"] for e in f.evidence["examples"]}
    ok = imports(planted, arb, "/usr/bin/python3", ["pyc_no", "pyc_app"], no_pyc=False)
    assert ok == {"pyc_no": True, "pyc_app": True}
    assert not (planted.root / "opt/nopyc/__pycache__").exists()
    assert (planted.root / "app/__pycache__/pyc_app.cpython-311.pyc").exists()
    assert f.evidence["count"] >= 1 and "/app" not in dirs
    assert any(d == "/opt/nopyc" for d in dirs) or f.evidence["count"] > len(dirs)
    # root can always write: never reported
    assert not [g for g in by_rule(findings, "SL115") if "root" in g.evidence["identities"]]


def test_openshift_built_image_has_no_sl201_to_sl205(openshift: Planted):
    inv = inventory_from_reality(openshift, OS_CONFIG, ["/opt/venv/bin/python"],
                                 OS_CONFIG.entrypoint)
    findings = run_checks(openshift.fs, inv, OS_CONFIG, ALL)
    bad = [f for f in findings if f.rule in {"SL201", "SL202", "SL203", "SL204", "SL205"}]
    assert not bad, [f.message for f in bad]
    # the same from the static inventory builder
    from sitelens.image import Image
    from sitelens.inventory.builder import build_inventory

    static = build_inventory(openshift.fs, Image("openshift", None, OS_CONFIG, []))
    assert [e.executable for e in static.environments if e.kind == "venv"] == ["/opt/venv/bin/python"]
    bad = [f for f in run_checks(openshift.fs, static, OS_CONFIG, ALL)
           if f.rule in {"SL201", "SL202", "SL203", "SL204", "SL205"}]
    assert not bad, [f.message for f in bad]
    # ...and reality agrees: everyone imports everything, writes HOME and the workdir
    for ident in openshift.identities:
        got = imports(openshift, ident, "/opt/venv/bin/python", list(OS_MODULES), no_pyc=True)
        assert got == {"osvenvmod": True, "oslocalmod": False}, ident.name  # venv: no system site
        assert kernel(openshift, ident, [("create", OS_APP), ("create", f"{OS_APP}/data")]) == [
            True, True]
    assert {i.name: i.home for i in openshift.identities}["arbitrary-uid"] == OS_APP


def _summary(findings):  # type: ignore[no-untyped-def]
    return {(f.rule, f.evidence["paths"][0], tuple(f.evidence.get("identities", ())))
            for f in findings if f.rule != "SL207"}


def test_inventory_builder_gives_the_same_findings_as_the_real_interpreters(planted, result):
    """The static inventory (sys.path computed from files) leads the permission rules to the
    same findings as import paths printed by the real interpreters."""
    from sitelens.image import Image
    from sitelens.inventory.builder import build_inventory

    _, from_reality = result
    inv = build_inventory(planted.fs, Image("planted", None, CONFIG, []))
    from_files = run_checks(planted.fs, inv, CONFIG, ALL)
    assert _summary(from_files) == _summary(from_reality)
    assert len(_summary(from_reality)) >= 10


def test_findings_match_the_published_json_schema(result):
    import pathlib

    import jsonschema

    schema = json.loads((pathlib.Path(__file__).resolve().parents[2]
                         / "docs/schema/audit-v1.json").read_text())
    finding_schema = {"$defs": schema["$defs"], **schema["$defs"]["finding"]}
    _, findings = result
    assert {f.rule for f in findings} >= {"SL115", "SL201", "SL202", "SL204", "SL205", "SL207"}
    for f in findings:
        jsonschema.validate(json.loads(json.dumps(f.to_json())), finding_schema)
