"""The inventory's records: what is installed where, by whom, and what each identity imports.

Pure data. Parsers (dpkg, rpm, apk, python) produce these from filesystem bytes; checks read
them. Digests are raw bytes with their algorithm named, so dpkg md5, rpm sha256 and RECORD
sha256 can be compared with the filesystem's digests directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet

    from .import_truth import ImportTruth


@dataclass(slots=True)  # one per file a package names: 10^5 of them in a big image
class OwnedFile:
    path: str  # absolute, normalised, as the package database records it
    algo: str | None = None  # "md5", "sha1", "sha256", ... (None: no digest recorded)
    digest: bytes | None = None
    size: int | None = None
    mode: int | None = None  # full st_mode when the db records it (rpm), else None
    user: str | None = None
    group: str | None = None
    is_dir: bool = False
    is_config: bool = False
    is_ghost: bool = False  # rpm %ghost: owned but not shipped


@dataclass
class OsPackage:
    manager: str  # dpkg | rpm | apk
    name: str
    version: str
    arch: str | None = None
    source: str | None = None
    files: list[OwnedFile] = field(default_factory=list)
    # the database's own key where a name is not unique in an image: conda has one database per
    # prefix, so its packages are keyed by their PrefixRecord path (None: the name is the key)
    ref: str | None = None
    build: str | None = None  # conda build string
    channel: str | None = None  # conda channel the package came from
    requested: str | None = None  # conda: the spec the user asked for (None: pulled in as a dependency)

    @property
    def owner_id(self) -> str:
        """The evidence form DESIGN §6 uses: ``dpkg:python3-jinja2``; for conda, like pip's
        ``pip:<metadata path>``, the record: ``conda:/opt/conda/conda-meta/jinja2-3.1.2-py_0.json``."""
        return f"{self.manager}:{self.ref or self.name}"


@dataclass
class OsPackageDb:
    manager: str
    path: str  # the database file or directory inside the image
    layer: int | None = None  # layer that last wrote the database
    packages: list[OsPackage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def owners_by_path(self) -> dict[str, list[OsPackage]]:
        out: dict[str, list[OsPackage]] = {}
        for pkg in self.packages:
            for f in pkg.files:
                out.setdefault(f.path, []).append(pkg)
        return out


@dataclass(slots=True)  # one per file a package names: 10^5 of them in a big image
class RecordEntry:
    path: str  # absolute, normalised (resolved against the dist-info's parent)
    algo: str | None = None
    digest: bytes | None = None
    size: int | None = None


@dataclass
class Distribution:
    name: str  # PEP 503 normalised
    raw_name: str
    version: str | None
    metadata_path: str  # *.dist-info / *.egg-info (dir or file) / *.egg / *.egg-link
    kind: str  # dist-info | egg-info | egg-info-file | egg | egg-link | editable
    site_dir: str  # the directory on sys.path holding the metadata
    # INSTALLER's first line as written ("pip", "Poetry 1.8.3"), or the OS manager that owns the
    # metadata (dpkg | rpm | apk | conda), or "unknown"; compare through ``installer_name``
    installer: str = "unknown"
    owner_package: str | None = None  # "dpkg:python3-jinja2" when an OS package owns the metadata
    record: list[RecordEntry] | None = None
    requires: list[str] = field(default_factory=list)  # Requires-Dist strings, verbatim
    top_level: list[str] = field(default_factory=list)
    layer: int | None = None  # layer that last wrote the metadata
    requested: bool = False
    editable_target: str | None = None
    wheel_tags: list[str] = field(default_factory=list)  # WHEEL's Tag: lines (dist-info)
    # direct_url.json ``archive_info``: the hashes of the wheel/sdist file it was installed from
    # (pip writes them for a file or URL install; an index install leaves no archive hash behind)
    archive_hashes: dict[str, str] = field(default_factory=dict)  # algo -> lowercase hex
    archive_url: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def installer_name(self) -> str:
        """The installer as a tool name, for comparisons: ``Poetry 1.8.3`` -> ``poetry``."""
        return self.installer.split(None, 1)[0].lower() if self.installer.strip() else "unknown"


@dataclass
class Identity:
    name: str  # image-user | arbitrary-uid | root | user:UID[:GID]
    uid: int
    gid: int
    groups: list[int] = field(default_factory=list)  # supplementary, from /etc/group
    username: str | None = None
    home: str | None = None  # HOME as the runtime would set it (None: unset)
    has_passwd_entry: bool = False
    shell: str | None = None


@dataclass
class PathEntry:
    path: str
    origin: str  # script-dir | pythonpath | stdlib | lib-dynload | venv-site | user-site | site | pth | _pth
    exists: bool = True
    site_dir: bool = False  # processed by site.addsitedir (distributions and .pth files live here)
    added_by: str | None = None  # the .pth file that added it
    listable: bool = True  # the identity may list it (r+x); else imports and metadata there fail


@dataclass
class Interpreter:
    path: str  # the executable file as found (may be a symlink)
    real_path: str  # inside the image, symlinks resolved
    version: str  # "3.11"
    flavor: str  # debian | fedora | upstream | alpine | conda | scl | unknown
    prefix: str
    exec_prefix: str
    platlibdir: str = "lib"
    stdlib: str | None = None
    externally_managed: bool = False
    abiflags: str = ""
    # getpath's fallback when no landmark is found (from _sysconfigdata; None: unknown)
    compile_prefix: str | None = None
    compile_exec_prefix: str | None = None


@dataclass
class Venv:
    prefix: str
    cfg_path: str
    home: str | None
    include_system_site_packages: bool
    version: str | None
    base_executable: str | None  # the interpreter the venv runs, resolved in the image
    problems: list[str] = field(default_factory=list)


@dataclass
class ImportStep:
    """One sys.path entry as the import system tried it, for ``sitelens why``."""

    entry: str  # the sys.path entry
    outcome: str  # missing | unlistable | absent | namespace | loaded | error
    detail: str = ""  # why, in words (e.g. which directory denies search to whom)
    path: str | None = None  # the candidate file or dir in this entry, when there is one


@dataclass
class LoadedFrom:
    """Who the bytes of one loaded file (or package dir) belong to, decided by digest."""

    owner: str  # "dpkg:python3-jinja2" | "pip:/…/Jinja2-3.1.4.dist-info" | "unknown"
    distribution: str | None  # normalised name of the distribution those bytes belong to
    version: str | None
    layer: int | None  # layer that wrote the bytes now visible (a later chmod/chown re-ship does not count)


@dataclass
class ModuleImport:
    """What ``import MODULE`` does for one identity in one environment (DESIGN §1, import truth).

    ``file`` is what ``module.__file__`` would be (None for a namespace package or an error);
    ``error`` the exception class name when the import fails. ``version`` is the version of the
    code that loads (by digest against the owners' records), ``metadata_version`` what
    ``importlib.metadata.version(distribution)`` answers for the same identity (None when no
    readable metadata is found; ``metadata_ambiguous`` lists the versions when two metadata dirs
    in one directory make the answer depend on listing order).
    """

    module: str
    file: str | None
    error: str | None = None
    version: str | None = None
    metadata_version: str | None = None
    distribution: str | None = None
    owner: str | None = None
    layer: int | None = None
    mixed: bool = False
    namespace: list[str] = field(default_factory=list)  # portions, for a namespace package
    package_dir: str | None = None
    # files of the package dir by owner "owner version" -> count (mixed trees list several)
    owners: dict[str, int] = field(default_factory=dict)
    metadata_path: str | None = None
    metadata_ambiguous: list[str] = field(default_factory=list)
    steps: list[ImportStep] = field(default_factory=list)


@dataclass
class PthEffect:
    """What one ``import`` line of a ``.pth`` file does at start-up, as far as sitelens knows."""

    pth: str
    line: str
    effect: str  # none | path | editable-finder | distutils-shim | namespace-shim | unknown
    detail: str = ""  # the path added, the module mapped, or why the effect is unknown


@dataclass
class Environment:
    executable: str  # what launches it (venv bin/python or the system interpreter)
    kind: str  # system | venv | conda
    interpreter: Interpreter
    prefix: str
    venv: Venv | None = None
    sys_path: dict[str, list[PathEntry]] = field(default_factory=dict)  # identity name -> path
    distributions: list[Distribution] = field(default_factory=list)
    # `import` lines of .pth files site runs at start-up, per identity: (pth file, line)
    pth_imports: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # what each of those lines does, per identity (inventory.pth_lines); "unknown" ones are warned
    pth_effects: dict[str, list[PthEffect]] = field(default_factory=dict)
    # identity name -> why this interpreter cannot start for it (e.g. unreadable pyvenv.cfg)
    startup_errors: dict[str, str] = field(default_factory=dict)
    # identity name -> None when that identity cannot start this interpreter, else
    # top-level module -> what importing it does (see ModuleImport)
    imports: dict[str, dict[str, ModuleImport] | None] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.interpreter.version


@dataclass
class LockedFile:
    """One artefact a lock or a ``--hash`` option vouches for: its file name and digest."""

    filename: str  # "six-1.16.0-py2.py3-none-any.whl"; "" when the source names only the hash
    algo: str  # sha256 | sha384 | sha512 | md5
    digest: str  # lowercase hex


@dataclass
class Entrypoint:
    argv: list[str]  # Entrypoint + Cmd as the runtime would exec them
    interpreter: str | None = None  # the Python executable it runs, resolved in the image
    flags: list[str] = field(default_factory=list)  # -s, -I, -E, -S, -P seen on the command line
    script: str | None = None
    # how a version-manager shim (pyenv) chose the interpreter: "pyenv 3.11.7 (PYENV_VERSION)"
    selected_by: str | None = None
    # variables the entrypoint's shell sets before it runs Python (assignments, a sourced SCL
    # enable script, ``scl enable``): the values that differ from the image's Env
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class VenvConfig:
    """One ``pyvenv.cfg`` found anywhere in the image (a venv whose interpreter is gone too)."""

    prefix: str
    cfg_path: str
    home: str | None  # the first ``home`` key: what getpath uses
    version: str | None
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Script:
    """A file in a ``bin`` directory that starts with ``#!``."""

    path: str
    layer: int
    interpreter: str  # as written after #!
    argument: str = ""  # the rest of the line: the kernel passes it as one argument


@dataclass
class Wanted:
    """One requirement a requirement, constraint, lock or project file declares."""

    source: str  # file path in the image, or the --requirements name
    line: int | None
    name: str  # canonical
    text: str  # as written (a Poetry constraint as written; its PEP 440 form is ``spec``)
    spec: SpecifierSet
    marker: Marker | None
    must_exist: bool  # a requirement (True) or a lock/constraint/optional entry (only checked if installed)
    kind: str = "requirements"  # requirements | constraints | lock | pyproject
    files: list[LockedFile] = field(default_factory=list)  # artefacts the lock (or --hash) vouches for


@dataclass
class Inventory:
    os_release: dict[str, str] = field(default_factory=dict)
    package_dbs: list[OsPackageDb] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    interpreters: list[Interpreter] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)
    entrypoint: Entrypoint | None = None
    # every directory that looks like a site dir, on a path or not (dead-site-packages, waste)
    site_dirs: list[str] = field(default_factory=list)
    # distributions in site dirs that no environment's import path reaches
    unattached: list[Distribution] = field(default_factory=list)
    # every pyvenv.cfg, by venv prefix (SL110 examines venvs no environment models)
    venv_configs: dict[str, VenvConfig] = field(default_factory=dict)
    # requirement and lock files in the WorkingDir, /app and beside the entrypoint script: (path, text)
    requirement_files: list[tuple[str, str]] = field(default_factory=list)
    declared: list[Wanted] = field(default_factory=list)  # those files parsed (SL116, the inventory JSON)
    scripts: list[Script] = field(default_factory=list)  # #! files in bin dirs (SL111)
    warnings: list[str] = field(default_factory=list)
    # the import resolver that filled ``env.imports`` (inventory/import_truth.ImportTruth), kept
    # so a check that asks it about more paths does not rebuild its attribution; never rendered
    import_truth: ImportTruth | None = field(default=None, repr=False, compare=False)

    def all_distributions(self) -> list[Distribution]:
        """Every distribution found in the image, once each (by metadata path), sorted."""
        seen: dict[str, Distribution] = {}
        for env in self.environments:
            for d in env.distributions:
                seen.setdefault(d.metadata_path, d)
        for d in self.unattached:
            seen.setdefault(d.metadata_path, d)
        return [seen[k] for k in sorted(seen)]

    def os_owners(self) -> dict[str, list[OsPackage]]:
        # every database's owners_by_path merged, in one pass: one list per path, not two
        out: dict[str, list[OsPackage]] = {}
        setdefault = out.setdefault
        for db in self.package_dbs:
            for pkg in db.packages:
                for f in pkg.files:
                    setdefault(f.path, []).append(pkg)
        return out
