"""checks/unreadable.py: SL201 on small images built from specs (real layer tars, no chroot)."""

from __future__ import annotations

from sitelens.image import ImageConfig
from tests.checks.check_support import SITE, run_rules, site_entries


def test_sl201_unreadable_file_in_site_dir():
    out = run_rules(site_entries(file_mode=0o600), ImageConfig(user="app"), rules={"SL201"})
    idents = sorted(n for f in out for n in f.evidence["identities"])
    assert idents == ["arbitrary-uid", "image-user"]
    assert out[0].evidence["unreadable"][0] == {"path": f"{SITE}/mod.py", "kind": "file",
                                                "mode": "0600", "owner": "0:0"}
    # group 0 may read a 0640 root:root file: only the image user is denied
    out = run_rules(site_entries(file_mode=0o640), ImageConfig(user="app"), rules={"SL201"})
    assert [f.evidence["identities"] for f in out] == [["image-user"]]
