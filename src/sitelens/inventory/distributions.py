"""Installed Python distributions in one directory of ``sys.path``, read like importlib.metadata.

Kinds: ``*.dist-info`` dirs, ``*.egg-info`` dirs and files (distutils), ``*.egg`` dirs/zips
(``EGG-INFO/``), ``*.egg-link`` (first line: the project dir), and PEP 660 editable installs
(a dist-info plus ``__editable__.*.pth`` / ``__editable___*_finder.py`` with a literal MAPPING).
Bad metadata never raises: what can be read is kept, the rest becomes a warning.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from email.parser import HeaderParser

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..fs import Filesystem
from .model import Distribution, OsPackage
from .record import parse_record

_VALID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_FINDER = re.compile(r"^__editable___(.+)_finder\.py$")


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text.replace("\0", "")


def parse_metadata(data: bytes) -> tuple[str | None, str | None, list[str], bool]:
    """(Name, Version, Requires-Dist, looked like metadata) from METADATA/PKG-INFO bytes."""
    text = _decode(data)
    try:
        msg = HeaderParser().parsestr(text)
    except Exception:  # noqa: BLE001 - email's parser is lenient; be certain junk cannot escape
        return None, None, [], False
    name = msg.get("Name")
    version = msg.get("Version")
    requires = [str(r) for r in (msg.get_all("Requires-Dist") or [])]
    ok = name is not None or version is not None or "Metadata-Version" in msg
    return (
        (str(name).strip() if name else None),
        (str(version).strip() if version else None),
        requires,
        ok,
    )


def parse_requires_txt(text: str) -> list[str]:
    """setuptools' requires.txt: ``[extra:marker]`` sections become PEP 508 markers."""
    out: list[str] = []
    extra, marker = "", ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            continue
        conds = []
        if extra:
            conds.append(f'extra == "{extra}"')
        if marker:
            conds.append(f"({marker})" if extra else marker)
        out.append(line + ("; " + " and ".join(conds) if conds else ""))
    return out


def archive_hashes(info: dict[str, object]) -> dict[str, str]:
    """direct_url.json ``archive_info``: ``hashes`` (PEP 610 since 2022) and the older ``hash``."""
    out: dict[str, str] = {}
    hashes = info.get("hashes")
    if isinstance(hashes, dict):
        out.update({str(k).lower(): str(v).lower() for k, v in hashes.items()})
    legacy = info.get("hash")
    if isinstance(legacy, str) and "=" in legacy:
        algo, _, digest = legacy.partition("=")
        out.setdefault(algo.lower(), digest.lower())
    return out


def _split_stem(stem: str) -> tuple[str, str | None]:
    name, _, rest = stem.partition("-")
    version = rest.split("-", 1)[0] if rest else None
    return name, version or None


def _owner(owners: dict[str, list[OsPackage]], paths: list[str]) -> OsPackage | None:
    for p in paths:
        pkgs = owners.get(p)
        if pkgs:
            return pkgs[0]
    return None


class DirScanner:
    """Reads every distribution in a directory; results are cached per directory."""

    def __init__(self, fs: Filesystem, owners: dict[str, list[OsPackage]] | None = None) -> None:
        self.fs = fs
        self.owners = owners or {}
        self.cache: dict[str, list[Distribution]] = {}
        self.warnings: list[str] = []

    def scan(self, directory: str) -> list[Distribution]:
        real = self.fs.resolve(directory)
        key = directory
        if key in self.cache:
            return self.cache[key]
        out: list[Distribution] = []
        node = self.fs.get(real) if real else None
        if node is None or node.kind != "dir":
            self.cache[key] = out
            return out
        names = self.fs.listdir(real or directory)
        finders = self._finders(directory, names)
        for name in names:
            low = name.lower()
            path = f"{directory.rstrip('/')}/{name}"
            try:
                if low.endswith(".dist-info"):
                    d = self._dist_info(directory, path, name[: -len(".dist-info")])
                elif low.endswith(".egg-info"):
                    d = self._egg_info(directory, path, name[: -len(".egg-info")])
                elif low.endswith(".egg"):
                    d = self._egg(directory, path, name[: -len(".egg")])
                elif low.endswith(".egg-link"):
                    d = self._egg_link(directory, path, name[: -len(".egg-link")])
                else:
                    continue
            except Exception as exc:  # noqa: BLE001 - one broken dist must not stop the scan
                self.warnings.append(f"{path}: could not be read ({type(exc).__name__}: {exc})")
                continue
            if d is None:
                continue
            if d.kind == "dist-info" and not d.editable_target:
                for cand in (d.raw_name, d.name):
                    target = finders.get(_ident(f"{cand}_{d.version}").lower())
                    if target:
                        d.editable_target = target
                        break
            if not name.endswith((".dist-info", ".egg-info", ".egg", ".egg-link")):
                d.warnings.append(
                    f"{path}: metadata suffix in unusual case (importlib.metadata matches it "
                    "case-insensitively; other tools may not)"
                )
            self.warnings.extend(d.warnings)
            out.append(d)
        self.cache[key] = out
        return out

    # ---- kinds ------------------------------------------------------------------------------

    def _files_in(self, path: str) -> list[str]:
        return [f"{path}/{n}" for n in self.fs.listdir(path)]

    def _common(
        self,
        site_dir: str,
        path: str,
        stem: str,
        kind: str,
        meta_file: str | None,
        owned: list[str],
    ) -> Distribution:
        raw_name, file_version = _split_stem(stem)
        norm: str = canonicalize_name(raw_name)
        if not _VALID.match(norm):
            norm = re.sub(r"[^a-z0-9]+", "-", norm).strip("-") or "unknown"
        d = Distribution(
            name=norm,
            raw_name=raw_name,
            version=file_version,
            metadata_path=path,
            kind=kind,
            site_dir=site_dir,
        )
        if meta_file is not None:
            data = self.fs.read_bytes(meta_file)
            if data is None:
                if self.fs.lookup(meta_file) is not None:
                    d.warnings.append(f"{meta_file}: content not captured")
            else:
                name, version, requires, ok = parse_metadata(data)
                if not ok or name is None:
                    d.warnings.append(f"{meta_file}: no Name header (junk or binary metadata?)")
                if name and _VALID.match(canonicalize_name(name)):
                    d.raw_name, d.name = name, canonicalize_name(name)
                elif name:
                    d.warnings.append(f"{meta_file}: unusable Name {name[:40]!r}; using the dir name")
                d.version = version  # what importlib.metadata.version() returns
                if version is None:
                    d.warnings.append(f"{meta_file}: no Version header")
                if len(requires) > MAX_REQUIRES:
                    # every requirement is evaluated per interpreter and identity downstream
                    d.warnings.append(f"{meta_file}: {len(requires)} Requires-Dist lines; "
                                      f"only the first {MAX_REQUIRES} are read")
                    requires = requires[:MAX_REQUIRES]
                invalid = 0
                for r in requires:
                    try:
                        Requirement(r)
                    except InvalidRequirement:
                        invalid += 1
                        if invalid <= 5:
                            d.warnings.append(f"{meta_file}: invalid Requires-Dist {r[:80]!r}")
                        continue
                    d.requires.append(r)
                if invalid > 5:
                    d.warnings.append(f"{meta_file}: {invalid - 5} more invalid Requires-Dist lines")
        node = self.fs.lookup(meta_file) if meta_file else None
        node = node or self.fs.lookup(path)
        d.layer = node.layer if node is not None and node.layer >= 0 else None
        owner = _owner(self.owners, [path, *owned])
        if owner is not None:
            d.installer = owner.manager
            d.owner_package = owner.owner_id
        return d

    def _meta_file(self, path: str, names: tuple[str, ...]) -> str | None:
        for n in names:
            p = f"{path}/{n}"
            if self.fs.lookup(p) is not None:
                return p
        return None

    def _dist_info(self, site_dir: str, path: str, stem: str) -> Distribution | None:
        node = self.fs.lookup(path)
        if node is None or node.kind != "dir":
            return None
        meta = self._meta_file(path, ("METADATA", "PKG-INFO"))
        d = self._common(site_dir, path, stem, "dist-info", meta, self._files_in(path))
        if meta is None:
            d.warnings.append(f"{path}: no METADATA file")
        rec_data = self.fs.read_bytes(f"{path}/RECORD")
        if rec_data is not None:
            d.record, warns = parse_record(rec_data, site_dir, f"{path}/RECORD", self.fs)
            d.warnings.extend(warns)
        if d.owner_package is None:
            inst = self.fs.read_text(f"{path}/INSTALLER")
            if inst and inst.strip():
                d.installer = inst.strip().splitlines()[0].strip()
        d.requested = self.fs.lookup(f"{path}/REQUESTED") is not None
        wheel = self.fs.read_text(f"{path}/WHEEL")
        if wheel:
            d.wheel_tags = [ln.split(":", 1)[1].strip() for ln in wheel.splitlines() if ln.lower().startswith("tag:")]
        d.top_level = self._top_level(path, d)
        direct = self.fs.read_bytes(f"{path}/direct_url.json")
        if direct is not None:
            try:
                doc = json.loads(direct)
                if isinstance(doc, dict) and isinstance(doc.get("dir_info"), dict) and doc["dir_info"].get("editable"):
                    url = str(doc.get("url", ""))
                    d.editable_target = url[7:] if url.startswith("file://") else url
                if isinstance(doc, dict) and isinstance(doc.get("archive_info"), dict):
                    d.archive_url = str(doc.get("url", "")) or None
                    d.archive_hashes = archive_hashes(doc["archive_info"])
            except (ValueError, RecursionError):  # hostile nesting recurses in the decoder
                d.warnings.append(f"{path}/direct_url.json: not valid JSON")
        return d

    def _egg_info(self, site_dir: str, path: str, stem: str) -> Distribution | None:
        node = self.fs.lookup(path)
        if node is None:
            return None
        if node.kind == "dir":
            meta = self._meta_file(path, ("PKG-INFO",))
            d = self._common(site_dir, path, stem, "egg-info", meta, self._files_in(path))
            req = self.fs.read_text(f"{path}/requires.txt")
            if req and not d.requires:
                d.requires = parse_requires_txt(req)
            d.top_level = self._top_level(path, d)
            inst = self.fs.read_text(f"{path}/installed-files.txt")
            if inst:
                from .model import RecordEntry

                d.record = [
                    RecordEntry(posixpath.normpath(posixpath.join(path, line.strip())))
                    for line in inst.splitlines()
                    if line.strip()
                ]
            if d.owner_package is None:
                i = self.fs.read_text(f"{path}/INSTALLER")
                if i and i.strip():
                    d.installer = i.strip().splitlines()[0].strip()
            return d
        if node.kind in ("file", "hardlink"):
            return self._common(site_dir, path, stem, "egg-info-file", path, [])
        return None

    def _egg(self, site_dir: str, path: str, stem: str) -> Distribution | None:
        node = self.fs.lookup(path)
        if node is None:
            return None
        if node.kind == "dir":
            meta = self._meta_file(f"{path}/EGG-INFO", ("PKG-INFO",))
            d = self._common(site_dir, path, stem, "egg", meta, [])
            d.top_level = self._top_level(f"{path}/EGG-INFO", d)
            return d
        d = self._common(site_dir, path, stem, "egg", None, [path])
        d.warnings.append(f"{path}: zipped egg; metadata taken from its file name")
        return d

    def _egg_link(self, site_dir: str, path: str, stem: str) -> Distribution | None:
        text = self.fs.read_text(path)
        d = self._common(site_dir, path, stem, "egg-link", None, [path])
        if not text:
            d.warnings.append(f"{path}: empty or not captured")
            return d
        target = text.splitlines()[0].strip()
        d.editable_target = posixpath.normpath(posixpath.join(site_dir, target))
        tgt_node = self.fs.lookup(d.editable_target)
        if tgt_node is not None and tgt_node.kind == "dir":
            for n in self.fs.listdir(d.editable_target):
                if n.lower().endswith(".egg-info") and canonicalize_name(_split_stem(n[:-9])[0]) == d.name:
                    meta = self._meta_file(f"{d.editable_target}/{n}", ("PKG-INFO",))
                    if meta:
                        name, version, requires, _ok = parse_metadata(self.fs.read_bytes(meta) or b"")
                        d.version = version or d.version
                        d.requires = requires
        return d

    def _top_level(self, meta_dir: str, d: Distribution) -> list[str]:
        text = self.fs.read_text(f"{meta_dir}/top_level.txt")
        if text is not None:
            return [t.strip() for t in text.splitlines() if t.strip()]
        prefix = d.site_dir.rstrip("/") + "/"
        n = len(prefix)
        # top_level_name looks at the first component and whether a "/" follows: a big RECORD
        # (thousands of rows, a few dozen first components) is reduced to those first
        heads: set[str] = set()
        for e in d.record or []:
            path = e.path
            if path.startswith(prefix):  # RECORD paths are normalised: outside the site dir
                end = path.find("/", n)
                heads.add(path[n:] if end < 0 else path[n:end + 1])
        return sorted({name for head in heads if (name := top_level_name(head)) is not None})

    # ---- PEP 660 ----------------------------------------------------------------------------

    def _finders(self, directory: str, names: list[str]) -> dict[str, str]:
        """finder stem (lowercased) -> editable target, from setuptools' finder MAPPING literals."""
        out: dict[str, str] = {}
        for n in names:
            m = _FINDER.match(n)
            if not m:
                continue
            text = self.fs.read_text(f"{directory}/{n}")
            if not text:
                continue
            mapping = parse_finder_mapping(text)
            if mapping:
                out[m.group(1).lower()] = sorted(mapping.values())[0]
        return out


def top_level_name(rel: str) -> str | None:
    """The top-level module a file installed at ``rel`` (relative to its site dir) belongs to:
    ``pkg/x.py`` → pkg, ``mod.py`` → mod, ``ext.cpython-311-….so`` → ext; None for metadata,
    ``.pth`` files and bytecode caches."""
    first = rel.split("/", 1)[0]
    if first.endswith((".dist-info", ".egg-info", ".pth")) or first == "__pycache__":
        return None
    if "/" in rel:
        return first
    if first.endswith(".py"):
        return first[:-3]
    if first.endswith(".so"):
        return first.split(".", 1)[0]
    return None


def _ident(text: str) -> str:
    """setuptools' safe identifier: every non-identifier character becomes ``_``."""
    return re.sub(r"\W|^(?=\d)", "_", text)


MAX_FINDER_TEXT = 1 << 20  # setuptools writes a few KiB
# The biggest real distributions declare a few hundred (with extras); tens of thousands is an
# attack on the requirement check, which evaluates each one per interpreter and identity.
MAX_REQUIRES = 2000


def parse_finder_mapping(text: str) -> dict[str, str]:
    """The literal ``MAPPING = {...}`` of a setuptools editable finder (never executed)."""
    if len(text) > MAX_FINDER_TEXT:
        return {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        # CPython's parser gives up on deep nesting (100k unary minus) with MemoryError: that
        # is this file's problem, not the audit's
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MAPPING" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                return {}
            if isinstance(value, dict):
                return {str(k): str(v) for k, v in value.items()}
    return {}
