"""Import truth (DESIGN §1): for every environment × identity × top-level module, what loads.

Fills ``Environment.imports``: ``None`` for an identity that cannot start the interpreter (its
launcher is not executable for it, or start-up aborts), else one :class:`ModuleImport` per
top-level module of every distribution on the environment's path (top_level.txt, RECORD, the OS
package's files, editable finders' mappings) and the module the entrypoint runs with ``-m``.
The resolver (:mod:`.imports`) says which file loads; attribution (:mod:`.attribution`) says
whose bytes those are and so which version of the code runs; ``metadata_version`` is what
``importlib.metadata.version()`` answers for the same identity.
"""

from __future__ import annotations

from ..fs import Filesystem
from ..permissions import Cred, engine
from .attribution import Attributor, content_layer
from .distributions import top_level_name
from .imports import ImportResolver, MetadataFinder, is_module_name
from .model import Distribution, Environment, Identity, Inventory, ModuleImport, OsPackage, PathEntry, PthEffect

ARCH = "x86_64-linux-gnu"


def cannot_start(fs: Filesystem, env: Environment, identity: Identity) -> str | None:
    """Why ``identity`` cannot run ``env``'s launcher (None: it can)."""
    err = env.startup_errors.get(identity.name)
    if err:
        return err
    acc = engine(fs).execute(identity, env.executable)
    if not acc.allowed:
        return f"cannot execute {env.executable}: {acc.reason()}"
    return None


def modules_of(d: Distribution, packages: dict[str, OsPackage]) -> list[str]:
    """Top-level module names a distribution provides."""
    names = [n.replace("/", ".").split(".")[0] for n in d.top_level]
    if not names and d.owner_package in packages:
        site = d.site_dir.rstrip("/") + "/"
        for f in packages[d.owner_package or ""].files:
            if not f.path.startswith(site):
                continue
            name = top_level_name(f.path[len(site):])
            if name is not None:
                names.append(name)
    return sorted({n for n in names if is_module_name(n) and not n.startswith("__editable__")})


class ImportTruth:
    """Resolves and attributes imports for one inventory (attribution shared by all identities)."""

    def __init__(self, fs: Filesystem, inv: Inventory) -> None:
        self.fs = fs
        self.inv = inv
        packages = [p for db in inv.package_dbs for p in db.packages]
        self.packages = {p.owner_id: p for p in packages}
        self.attributor = Attributor(fs, inv.all_distributions(), packages)
        self.metadata = MetadataFinder(fs, {d.metadata_path: d.version for d in inv.all_distributions()})

    def resolver(self, env: Environment, cred: Cred, entries: list[PathEntry],
                 pth_effects: list[PthEffect]) -> ImportResolver:
        """The resolver for one identity's path; ``pth_effects`` are the ``import`` lines of the
        ``.pth`` files site ran for it (:attr:`Environment.pth_effects`), each with its effect."""
        pth_imports = [(e.pth, e.line) for e in pth_effects]
        return ImportResolver(self.fs, cred, env.version, entries, pth_imports, ARCH, env.interpreter.stdlib,
                              pth_effects)

    def modules(self, env: Environment) -> dict[str, list[Distribution]]:
        """module -> the distributions on this environment's path that provide it."""
        out: dict[str, list[Distribution]] = {}
        for d in env.distributions:
            for m in modules_of(d, self.packages):
                out.setdefault(m, []).append(d)
        ep = self.inv.entrypoint
        if ep is not None and ep.script and ep.script.startswith("-m "):
            mod = ep.script[3:].strip().split(".")[0]
            if is_module_name(mod):
                out.setdefault(mod, [])
        return out

    def resolve(self, env: Environment, cred: Cred, entries: list[PathEntry],
                pth_effects: list[PthEffect], modules: dict[str, list[Distribution]]) -> dict[str, ModuleImport]:
        res = self.resolver(env, cred, entries, pth_effects)
        names = set(modules) | set(res.editable) | res.meta_path_modules()
        return {name: self.one(res, cred, entries, name, modules.get(name, [])) for name in sorted(names)}

    def one(self, res: ImportResolver, cred: Cred, entries: list[PathEntry], name: str,
            providers: list[Distribution]) -> ModuleImport:
        found = res.find(name)
        mi = ModuleImport(module=name, file=found.file, error=found.error, namespace=list(found.namespace),
                          package_dir=found.package_dir, steps=found.steps)
        if found.file is not None and found.kind not in ("frozen",):
            src = self.attributor.loaded_from(found.file, found.package_dir)
            if src is not None:
                mi.owner, mi.distribution, mi.version, mi.layer = src.owner, src.distribution, src.version, src.layer
            else:
                mi.layer = content_layer(self.fs, self.attributor.canonical(found.file))
            if found.package_dir is not None:
                summary = self.attributor.package_dir(found.package_dir)
                mi.mixed = summary.mixed
                mi.owners = {f"{d or '?'} {v or '?'}": n for (d, v), n in sorted(
                    summary.by_version.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))}
                if summary.unknown:
                    mi.owners["unclaimed"] = summary.unknown
        dist = mi.distribution or _provider(providers, found.file)
        if dist is not None:
            mi.distribution = dist
            ans = self.metadata.version(cred, entries, dist)
            mi.metadata_version = ans.version
            mi.metadata_path = ans.path
            mi.metadata_ambiguous = ans.ambiguous
        return mi


def _provider(providers: list[Distribution], file: str | None) -> str | None:
    """The distribution a module belongs to when its bytes are nobody's: the one whose site dir
    holds the file, else the first on the path."""
    if not providers:
        return None
    if file is not None:
        for d in providers:
            if file.startswith(d.site_dir.rstrip("/") + "/"):
                return d.name
    return providers[0].name


def fill_imports(fs: Filesystem, inv: Inventory) -> None:
    truth = inv.import_truth = ImportTruth(fs, inv)
    for env in inv.environments:
        modules = truth.modules(env)
        for ident in inv.identities:
            if ident.name not in env.sys_path:
                continue
            if cannot_start(fs, env, ident) is not None:
                env.imports[ident.name] = None
                continue
            env.imports[ident.name] = truth.resolve(
                env, Cred.of(ident), env.sys_path[ident.name], env.pth_effects.get(ident.name, []), modules,
            )
