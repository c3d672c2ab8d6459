"""RHEL/CentOS/UBI 8's platform-python: the only interpreter of a minimal image is
``/usr/libexec/platform-python3.6`` (what dnf runs), with Fedora's lib64 stdlib and the rpm site
dirs. A static image from spec (no RHEL content can be fetched here; the runnable re-laid
``platform-python`` is checked against its interpreter in ``tests/inventory_py/test_pyinv_fedora.py``)."""

from __future__ import annotations

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Symlink, build
from tests.checks.sl1_harness import audit

ELF = b"\x7fELF\x02\x01\x01\x00 placeholder\n"
OS_RELEASE = b'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="8.9"\n'
SITELIB = "/usr/lib/python3.6/site-packages"


def _image(platform_python: bool) -> ImageSpec:
    entries = [
        Dir("/etc"), File("/etc/os-release", OS_RELEASE),
        Dir("/usr"), Dir("/usr/lib64"), Dir("/usr/lib64/python3.6"), File("/usr/lib64/python3.6/os.py", b"#\n"),
        Dir("/usr/lib64/python3.6/lib-dynload"), Dir("/usr/lib"), Dir("/usr/lib/python3.6"), Dir(SITELIB),
        Dir(f"{SITELIB}/six-1.11.0-py3.6.egg-info"),
        File(f"{SITELIB}/six-1.11.0-py3.6.egg-info/PKG-INFO", b"Metadata-Version: 1.1\nName: six\nVersion: 1.11.0\n"),
        File(f"{SITELIB}/six.py", b'__version__ = "1.11.0"\n'),
    ]
    if platform_python:
        entries += [Dir("/usr/libexec"), File("/usr/libexec/platform-python3.6", ELF, 0o755),
                    Symlink("/usr/libexec/platform-python", "platform-python3.6")]
    return ImageSpec([LayerSpec(entries, "ADD ubi8-rootfs.tar /")])


def test_platform_python_is_an_interpreter_and_its_site_is_not_dead() -> None:
    a = audit(build(_image(True), None), ("SL112",))
    (interp,) = a.inventory.interpreters
    assert (interp.real_path, interp.version, interp.flavor, interp.platlibdir, interp.prefix) == (
        "/usr/libexec/platform-python3.6", "3.6", "fedora", "lib64", "/usr")
    (env,) = a.inventory.environments
    assert [e.path for e in env.sys_path["root"] if e.site_dir] == [SITELIB]
    assert [d.name for d in env.distributions] == ["six"] and a.inventory.unattached == []
    assert a.rule("SL112") == []


def test_without_platform_python_nothing_imports_the_rpm_site() -> None:
    """The counterpart (how sitelens saw RHEL 8 images before platform-python counted): no
    interpreter, no environment, the rpm's distributions only 'unattached' — so no import path,
    shadowing or attribution could be reported for them. SL112 stays silent either way: the
    stdlib on disk counts as a Python 3.6 the image has."""
    a = audit(build(_image(False), None), ("SL112",))
    assert a.inventory.interpreters == [] and a.inventory.environments == []
    assert [d.name for d in a.inventory.unattached] == ["six"]
    assert a.rule("SL112") == []
