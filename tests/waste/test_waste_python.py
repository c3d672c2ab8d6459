"""Python-specific waste: caches, foreign bytecode, duplicate distributions, dead site-packages,
build toolchains (from the dpkg database, else from paths)."""

from __future__ import annotations

from waste_specs import PY311, base_layer, blob, dist, dpkg_db
from waste_support import report_for

from fixtures.imagebuilder import Dir, File, ImageSpec, LayerSpec, Whiteout


def test_caches_and_foreign_bytecode() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([
            File("/root/.cache/pip/http/a/b/wheel", blob(200_000, "w")),
            File("/home/app/.cache/uv/archive-v0/x.whl", blob(50_000, "uv")),
            File("/root/.cache/pypoetry/artifacts/x.tar.gz", blob(30_000, "pa")),
            File("/root/.cache/pypoetry/virtualenvs/app-py3.11/lib/x.py", blob(9000, "venv")),
            File("/var/lib/apt/lists/deb.debian.org_Packages", blob(400_000, "al")),
            File("/var/lib/apt/lists/lock", b""),
            File("/var/cache/apt/archives/gcc_12.deb", blob(100_000, "deb")),
            File("/var/cache/apt/pkgcache.bin", blob(40_000, "pc")),
            File("/app/__pycache__/main.cpython-39.pyc", blob(3000, "39")),
            File("/app/__pycache__/util.cpython-39.opt-1.pyc", blob(2000, "39o")),
            File("/app/__pycache__/main.cpython-311.pyc", blob(3000, "311")),
            File("/opt/lib/python3.9/site-packages/pkg/__pycache__/m.cpython-39.pyc", blob(1000, "s39")),
        ], "RUN pip install && apt-get install"),
    ])
    py = report_for(spec).python
    assert py.versions == ["3.11"]
    got = {(g.kind, g.root): (g.bytes, g.files) for g in py.caches}
    assert got == {
        ("pip-cache", "/root/.cache/pip"): (200_000, 1),
        ("uv-cache", "/home/app/.cache/uv"): (50_000, 1),
        ("poetry-cache", "/root/.cache/pypoetry"): (30_000, 1),  # not its virtualenvs/
        ("apt-lists", "/var/lib/apt/lists"): (400_000, 1),  # lock excluded
        ("apt-archives", "/var/cache/apt/archives"): (100_000, 1),
        ("apt-pkgcache", "/var/cache/apt"): (40_000, 1),
        ("pycache-foreign", "/app"): (5000, 2),  # the cpython-311 file is in use
        ("pycache-foreign", "/opt/lib/python3.9/site-packages"): (1000, 1),
    }
    assert py.caches[0].kind == "apt-lists"  # biggest first
    assert all(g.detail == "3.9" for g in py.caches if g.kind == "pycache-foreign")


def test_deleted_cache_is_not_a_visible_cache() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([File("/root/.cache/pip/x", blob(100_000, "p"))], "RUN pip install"),
        LayerSpec([Dir("/root/.cache"), Whiteout("/root/.cache/pip")], "RUN rm -rf ~/.cache/pip"),
    ])
    r = report_for(spec)
    assert r.python.caches == []
    assert r.wasted_bytes == 100_000  # still shipped: that is SL301's business


def test_no_interpreter_means_no_bytecode_or_site_verdict() -> None:
    spec = ImageSpec([base_layer([File("/app/__pycache__/m.cpython-39.pyc", b"x" * 100),
                                  File("/usr/lib/python3.9/site-packages/a.py", b"x")])])
    py = report_for(spec).python
    assert py.versions == [] and py.caches == [] and py.dead_site_packages == []


def test_duplicate_distributions_need_identical_files() -> None:
    files = {"requests/__init__.py": blob(40_000, "rq"), "requests/api.py": blob(10_000, "api")}
    other = {"requests/__init__.py": blob(40_000, "rq2"), "requests/api.py": blob(10_000, "api")}
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec(dist("/usr/local/lib/python3.11/site-packages", "requests", "2.32.3", files),
                  "RUN pip install requests"),
        LayerSpec(dist("/opt/venv/lib/python3.11/site-packages", "requests", "2.32.3", files, "uv")
                  + dist("/opt/venv2/lib/python3.11/site-packages", "requests", "2.32.3", other),
                  "RUN uv pip install requests"),
    ])
    dups = report_for(spec).python.duplicates
    assert len(dups) == 1
    d = dups[0]
    assert (d.name, d.version) == ("requests", "2.32.3")
    assert d.site_dirs == ["/opt/venv/lib/python3.11/site-packages",
                           "/usr/local/lib/python3.11/site-packages"]
    assert d.bytes_per_copy == [50_000, 50_000] and d.reclaimable == 50_000
    assert d.layers == {1, 2}


def test_dead_site_packages_bytes() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([File("/usr/local/lib/python3.9/site-packages/six.py", blob(30_000, "six")),
                   File("/usr/local/lib/python3.11/site-packages/ok.py", blob(1000, "ok"))],
                  "COPY --from=build /usr/local /usr/local"),
    ])
    dead = report_for(spec).python.dead_site_packages
    assert [(g.root, g.detail, g.bytes, g.files) for g in dead] == [
        ("/usr/local/lib/python3.9/site-packages", "3.9", 30_000, 1)]


def test_toolchain_from_paths_without_package_db() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([File("/usr/bin/gcc-12", blob(900_000, "gcc"), 0o755),
                   File("/usr/bin/x86_64-linux-gnu-gcc-12", blob(1000, "g2"), 0o755),
                   File("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", blob(2_000_000, "cc1")),
                   File("/usr/include/python3.11/Python.h", blob(5000, "h"))],
                  "RUN apt-get install -y gcc python3-dev"),
    ])
    py = report_for(spec).python
    assert py.toolchain_source == "paths"
    owners = {t.owner: t.bytes for t in py.toolchain}
    assert owners == {"path:/usr/lib/gcc": 2_000_000, "path:/usr/bin/gcc-12": 900_000,
                      "path:/usr/include/python3.11": 5000,
                      "path:/usr/bin/x86_64-linux-gnu-gcc-12": 1000}


def test_toolchain_from_dpkg_packages() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([File("/usr/bin/gcc-12", blob(900_000, "gcc"), 0o755),
                   File("/usr/include/python3.11/Python.h", blob(5000, "h")),
                   File("/usr/lib/x86_64-linux-gnu/libpq.so.5", blob(300_000, "pq")),
                   File("/usr/include/libpq-fe.h", blob(20_000, "pqh")),
                   File("/usr/share/doc/gcc-12-base/copyright", blob(100, "cp")),
                   *dpkg_db({"gcc-12": ["/usr", "/usr/bin", "/usr/bin/gcc-12"],
                           "libpython3.11-dev": ["/usr/include/python3.11/Python.h"],
                           "libpq-dev": ["/usr/include/libpq-fe.h"],
                           "libpq5": ["/usr/lib/x86_64-linux-gnu/libpq.so.5"],
                           "gcc-12-base": ["/usr/share/doc/gcc-12-base/copyright"]})],
                  "RUN apt-get install -y gcc libpq-dev python3-dev"),
    ])
    py = report_for(spec).python
    assert py.toolchain_source == "packages"
    assert [(t.owner, t.bytes, t.files) for t in py.toolchain] == [
        ("dpkg:gcc-12", 900_000, 1), ("dpkg:libpq-dev", 20_000, 1),
        ("dpkg:libpython3.11-dev", 5000, 1)]  # runtime libpq5 and gcc-12-base are not toolchain


def test_package_db_without_toolchain_reports_none() -> None:
    spec = ImageSpec([base_layer([*PY311, *dpkg_db({"libc6": ["/usr/bin/tool"]}),
                                  File("/usr/bin/gcc", b"not from a package")])])
    py = report_for(spec).python
    assert py.toolchain_source == "packages" and py.toolchain == []


def test_other_package_manager_caches() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([File("/var/cache/apk/APKINDEX.abc.tar.gz", blob(90_000, "apk")),
                   File("/var/cache/dnf/fedora-filenames.solvx", blob(80_000, "dnf")),
                   File("/var/cache/yum/x86_64/primary.sqlite", blob(70_000, "yum")),
                   File("/opt/conda/pkgs/numpy-1.26.4-py311.conda", blob(60_000, "np")),
                   File("/opt/conda/pkgs/numpy-1.26.4-py311/info/index.json", blob(100, "ix")),
                   File("/root/.cache/pipenv/http/x", blob(5000, "pe"))],
                  "RUN apk add && dnf install && conda install"),
    ])
    got = {(g.kind, g.root): g.bytes for g in report_for(spec).python.caches}
    assert got == {("apk-cache", "/var/cache/apk"): 90_000, ("dnf-cache", "/var/cache/dnf"): 80_000,
                   ("yum-cache", "/var/cache/yum"): 70_000,
                   # the archive and the extracted package dir beside it
                   ("conda-pkgs", "/opt/conda/pkgs"): 60_100,
                   ("pipenv-cache", "/root/.cache/pipenv"): 5000}


def test_env_manager_caches_and_a_dir_merely_named_pkgs() -> None:
    spec = ImageSpec([
        base_layer(PY311),
        LayerSpec([
            # virtualenv < 20.3x kept its app-data in the data dir
            File("/home/app/.local/share/virtualenv/wheel/house/pip-23.0-py3-none-any.whl", blob(70_000, "vw")),
            File("/root/.conda/pkgs/urls.txt", b"https://conda.anaconda.org/conda-forge/noarch/x.conda\n"),
            File("/root/.conda/pkgs/x-1.0-py_0/site-packages/x.py", blob(20_000, "cx")),
            # near-miss: an app's own "pkgs" dir, no conda marker in it
            File("/srv/app/pkgs/data.bin", blob(90_000, "app")),
            File("/srv/app/pkgs/__pycache__/m.cpython-39.pyc", blob(1000, "p39")),
        ], "RUN virtualenv /opt/venv && conda install x"),
    ])
    got = {(g.kind, g.root): g.bytes for g in report_for(spec).python.caches}
    assert got == {
        ("virtualenv-app-data", "/home/app/.local/share/virtualenv"): 70_000,
        ("conda-pkgs", "/root/.conda/pkgs"): 20_000 + len(b"https://conda.anaconda.org/conda-forge/noarch/x.conda\n"),
        ("pycache-foreign", "/srv/app/pkgs"): 1000,  # still foreign bytecode, not a conda cache
    }
