"""checks/helpers.py: the wording and grouping every check module shares."""

from __future__ import annotations

from sitelens.checks.helpers import groups_of, identity_evidence, listed, marker_environment
from sitelens.inventory.model import Environment, Identity, Interpreter, Venv


def test_listed_names_a_few_and_counts_the_rest() -> None:
    assert listed(["a", "b"]) == "a, b"
    assert listed([str(i) for i in range(10)], 3) == "0, 1, 2 and 7 more"


def test_identities_with_the_same_credentials_and_home_are_one_group() -> None:
    root = Identity("root", 0, 0, [], "root", "/root")
    user = Identity("image-user", 0, 0, [], "root", "/root")  # an image with no User runs as root
    arb = Identity("arbitrary-uid", 1000650000, 0, [], None, "/")
    groups = groups_of([user, arb, root])
    assert [[i.name for i in g] for g in groups] == [["image-user", "root"], ["arbitrary-uid"]]
    assert identity_evidence(groups[0])["identities"] == ["image-user", "root"]


def test_marker_environment_is_the_image_interpreter_not_ours() -> None:
    interp = Interpreter("/usr/bin/python3.9", "/usr/bin/python3.9", "3.9", "debian", "/usr", "/usr")
    env = Environment("/opt/venv/bin/python", "venv", interp, "/opt/venv",
                      venv=Venv("/opt/venv", "/opt/venv/pyvenv.cfg", "/usr/bin", False, "3.9.2", None))
    m = marker_environment(env, "arm64")
    assert (m["python_version"], m["python_full_version"], m["platform_machine"]) == ("3.9", "3.9.2", "aarch64")
