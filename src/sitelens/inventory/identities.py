"""Runtime identities: who runs Python in a container started from the image.

An identity is what the kernel will check permissions against (uid, primary gid, supplementary
groups) plus the HOME the runtime sets, which decides the user site. They are derived from the
image config's ``User`` and the image's own ``/etc/passwd`` and ``/etc/group``, the way runc does
it (libcontainer/user ``GetExecUser``):

- ``name`` / ``uid`` / ``name:group`` / ``uid:gid``; a name must exist in /etc/passwd (runc
  refuses to start otherwise); a numeric uid need not (gid then defaults to 0, HOME to ``/``);
- supplementary groups come from /etc/group membership of the user *name*, and only when no
  group was given explicitly;
- HOME: the config's ``Env`` HOME if set, else the passwd entry's dir, else ``/``.

The OpenShift identity (``arbitrary-uid``) is a high uid in group 0 with no passwd entry, unless
CRI-O injects one (``default:x:UID:GID::HOME:/sbin/nologin``) because /etc/passwd exists and is
neither group/world-writable nor owned and writable by that uid (cri-o ``GeneratePasswd``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .model import Identity

if TYPE_CHECKING:
    from ..fs import Filesystem
    from ..image import ImageConfig

ARBITRARY_UID = 1000620000  # a typical uid from an OpenShift project's range
UNKNOWN_UID = -1  # a config User name the image cannot resolve


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...] = field(default_factory=tuple)


def _lines(data: bytes) -> Iterable[list[str]]:
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        # NIS compat lines (+/-) and comments name no local entry.
        if not line or line.startswith(("#", "+", "-")):
            continue
        yield line.split(":")


def parse_passwd(data: bytes) -> list[PasswdEntry]:
    """``name:x:uid:gid:gecos:home:shell`` lines; malformed lines are skipped (as glibc does)."""
    out: list[PasswdEntry] = []
    for f in _lines(data):
        if len(f) < 7:
            f = f + [""] * (7 - len(f))
            if len(f) < 4:
                continue
        uid, gid = parse_id(f[2]), parse_id(f[3])
        if uid is None or gid is None:
            continue
        out.append(PasswdEntry(f[0], uid, gid, f[4], f[5], f[6]))
    return out


def parse_group(data: bytes) -> list[GroupEntry]:
    """``name:x:gid:member,member`` lines; malformed lines are skipped."""
    out: list[GroupEntry] = []
    for f in _lines(data):
        if len(f) < 3:
            continue
        gid = parse_id(f[2])
        if gid is None:
            continue
        members = tuple(m.strip() for m in (f[3] if len(f) > 3 else "").split(",") if m.strip())
        out.append(GroupEntry(f[0], gid, members))
    return out


@dataclass
class UserDb:
    """The image's /etc/passwd and /etc/group, as read from the merged filesystem."""

    passwd: list[PasswdEntry]
    group: list[GroupEntry]
    has_passwd: bool
    has_group: bool

    @classmethod
    def from_fs(cls, fs: Filesystem) -> UserDb:
        pw = fs.read_bytes("/etc/passwd")
        gr = fs.read_bytes("/etc/group")
        return cls(
            parse_passwd(pw) if pw is not None else [],
            parse_group(gr) if gr is not None else [],
            pw is not None,
            gr is not None,
        )

    def user_by_name(self, name: str) -> PasswdEntry | None:
        return next((p for p in self.passwd if p.name == name), None)

    def user_by_uid(self, uid: int) -> PasswdEntry | None:
        return next((p for p in self.passwd if p.uid == uid), None)

    def group_by_name(self, name: str) -> GroupEntry | None:
        return next((g for g in self.group if g.name == name), None)

    def supplementary(self, username: str) -> list[int]:
        seen: list[int] = []
        for g in self.group:
            if username in g.members and g.gid not in seen:
                seen.append(g.gid)
        return seen


MAX_ID = 2**32 - 2  # (uid_t)-1 means "no id" to the kernel


def parse_id(text: str) -> int | None:
    """A uid/gid as the kernel takes it: ASCII decimal digits in range, else None.

    ``str.isdigit`` alone lets "²" and other Unicode digits through, which ``int`` then refuses
    (or, for Arabic-Indic digits, accepts): neither is an id an image can run as.
    """
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None


_int = parse_id


def resolve_user(
    spec: str | None,
    name: str,
    db: UserDb,
    env: dict[str, str],
    warnings: list[str] | None = None,
) -> Identity:
    """The identity runc would run ``spec`` (the config ``User`` or ``--user``) as."""
    warn = warnings if warnings is not None else []
    spec = (spec or "").strip()
    user_part, sep, group_part = spec.partition(":")
    user_part = user_part or "0"  # runc: an empty user is root
    ident = Identity(name=name, uid=0, gid=0, groups=[], home=None)
    matched: PasswdEntry | None = None
    uid = _int(user_part)
    if uid is None:
        matched = db.user_by_name(user_part)
        if matched is None:
            warn.append(
                f"{name}: the image config names user {user_part!r}, which is not in the "
                f"image's /etc/passwd: runc would refuse to start the container "
                f'("unable to find user {user_part}")'
            )
            ident.username = user_part
            # Nothing about this user can be known: an impossible uid never matches a file
            # owner, so the permission engine judges it by the "other" bits only.
            ident.uid = UNKNOWN_UID
    else:
        ident.uid = uid
        matched = db.user_by_uid(uid)
    if matched is not None:
        ident.uid = matched.uid
        ident.gid = matched.gid
        ident.username = matched.name
        ident.has_passwd_entry = True
        ident.shell = matched.shell or None
    if sep and group_part:
        gid = _int(group_part)
        if gid is None:
            grp = db.group_by_name(group_part)
            if grp is None:
                warn.append(
                    f"{name}: group {group_part!r} of user spec {spec!r} is not in the image's "
                    f"/etc/group: runc would refuse to start the container"
                )
            else:
                ident.gid = grp.gid
        else:
            ident.gid = gid
    elif matched is not None:
        # Supplementary groups only in the implicit form, and only for a user found by name/uid.
        ident.groups = [g for g in db.supplementary(matched.name) if g != ident.gid]
    ident.home = _home(env, matched)
    return ident


def _home(env: dict[str, str], entry: PasswdEntry | None) -> str:
    # runc setupUser: HOME from the process env if set, else the passwd dir, else "/".
    if "HOME" in env:
        return env["HOME"]
    if entry is not None and entry.home:
        return entry.home
    return "/"


def crio_would_inject(fs: Filesystem, uid: int) -> bool:
    """Whether CRI-O adds a passwd line for ``uid`` (cri-o GeneratePasswd's conditions)."""
    node = fs.lookup("/etc/passwd")
    if node is None or node.kind not in ("file", "hardlink"):
        return False
    if node.mode & 0o022:
        return False  # group/world-writable: the image manages /etc/passwd itself (nss tricks)
    # owned and writable by the uid: the image's entrypoint can add the line itself
    return not (node.uid == uid and node.mode & 0o200)


def arbitrary_identity(fs: Filesystem, config: ImageConfig, db: UserDb, uid: int = ARBITRARY_UID) -> Identity:
    """The OpenShift restricted-SCC identity: ``uid`` with gid 0, maybe a CRI-O passwd line."""
    ident = Identity(name="arbitrary-uid", uid=uid, gid=0, groups=[0])
    existing = db.user_by_uid(uid)
    if existing is not None:
        ident.username = existing.name
        ident.has_passwd_entry = True
        ident.shell = existing.shell or None
        ident.home = _home(config.env, existing)
        return ident
    if crio_would_inject(fs, uid):
        home = config.env.get("HOME") or config.workdir or "/tmp"
        ident.username = "default"
        ident.has_passwd_entry = True
        ident.shell = "/sbin/nologin"
        ident.home = _home(config.env, PasswdEntry("default", uid, 0, "", home, "/sbin/nologin"))
    else:
        ident.home = _home(config.env, None)
    return ident


def resolve_identities(
    fs: Filesystem,
    config: ImageConfig,
    extra_users: Sequence[str] = (),
    which: set[str] | None = None,
    warnings: list[str] | None = None,
) -> list[Identity]:
    """The identities to evaluate: image-user, arbitrary-uid, root, then one per ``--user``.

    ``which`` keeps only the named identities (``--identities``); ``user:...`` names are always
    kept for the ``--user`` values given. Problems (an unknown user name) go to ``warnings``.
    """
    db = UserDb.from_fs(fs)
    out: list[Identity] = []

    def wanted(name: str) -> bool:
        return which is None or name in which

    if wanted("image-user"):
        out.append(resolve_user(config.user, "image-user", db, config.env, warnings))
    if wanted("arbitrary-uid"):
        out.append(arbitrary_identity(fs, config, db))
    if wanted("root"):
        out.append(resolve_user("0", "root", db, config.env, warnings))
    for spec in extra_users:
        spec = spec.strip()
        if not spec:
            continue
        name = f"user:{spec}"
        if any(i.name == name for i in out):
            continue
        out.append(resolve_user(spec, name, db, config.env, warnings))
    return out


def parse_user_option(value: str) -> str:
    """Validate a ``--user UID[:GID]`` value; raises ValueError with a readable message."""
    uid, sep, gid = value.partition(":")
    if parse_id(uid) is None or (sep and parse_id(gid) is None):
        raise ValueError(f"--user expects UID[:GID] with numbers, got {value!r}")
    return value
