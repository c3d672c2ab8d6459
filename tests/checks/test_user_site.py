"""checks/user_site.py: SL202, SL203 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File
from sitelens.image import ImageConfig
from sitelens.inventory.model import Entrypoint
from tests.checks.check_support import PASSWD, run_rules


def test_sl203_home_equal_to_workdir_is_one_finding():
    out = run_rules([Dir("/srv", 0o755)], ImageConfig(user="1234", workdir="/srv",
                                                env={"HOME": "/srv"}), rules={"SL203"})
    mine = [f for f in out if "image-user" in f.evidence["identities"]]
    assert len(mine) == 1 and mine[0].evidence["what"] == ["HOME", "WorkingDir"]
    assert "HOME and WorkingDir /srv is not writable" in mine[0].message


def test_sl203_home_slash_for_an_arbitrary_uid_and_missing_workdir():
    # /etc/passwd group-writable: CRI-O injects nothing, so HOME is "/" for the arbitrary uid
    entries = [File("/etc/passwd", PASSWD, 0o664), Dir("/home/app", 0o700, 1001, 1001)]
    out = run_rules(entries, ImageConfig(user="app", workdir="/srv/app"), rules={"SL203"})
    got = {(n, w, f.evidence["paths"][0]) for f in out for w in f.evidence["what"]
           for n in f.evidence["identities"]}
    assert got == {("arbitrary-uid", "HOME", "/"), ("arbitrary-uid", "WorkingDir", "/srv/app"),
                   ("image-user", "WorkingDir", "/srv/app"),
                   ("root", "HOME", "/root")}  # this tiny image has no /root at all
    root_home = next(f for f in out if f.evidence["identity"] == "root")
    assert "HOME=/root does not exist" in root_home.message
    assert "chgrp -R 0" in out[0].remediation


def test_sl202_pythonnousersite_does_not_count_under_dash_E():
    """``python3 -E`` ignores PYTHONNOUSERSITE: app's user site is on for the entrypoint."""
    site = "/home/app/.local/lib/python3.11/site-packages"
    dirs = ("/home/app", "/home/app/.local", "/home/app/.local/lib", "/home/app/.local/lib/python3.11", site)
    entries = [*(Dir(d, 0o755, 1001, 1001) for d in dirs), File(f"{site}/six.py", b"", 0o644, 1001, 1001)]
    config = ImageConfig(user="app", env={"PYTHONNOUSERSITE": "1"})

    def unable(flags: list[str]) -> dict[str, str]:
        ep = Entrypoint(["python3", *flags, "app.py"], "/usr/local/bin/python3", flags, "app.py")
        out = run_rules(entries, config, rules={"SL202"}, entrypoint=ep)
        return {n: u["reason"] for f in out for u in f.evidence["unable"] for n in u["identities"]}

    assert "PYTHONNOUSERSITE" in unable([])["image-user"]
    assert "image-user" not in unable(["-E"])
    assert "-I" in unable(["-I"])["image-user"]
