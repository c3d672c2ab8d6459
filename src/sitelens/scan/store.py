"""The scan job's results store: SQLite by default, PostgreSQL for a shared deployment.

One row per (manifest digest, sitelens version, config hash) is what makes scans incremental:
an image whose digest was audited with the same tool and config is skipped, a moved tag points
at a new digest and is audited again. Each result is written in its own transaction by the
coordinating process (with the run's outcomes for that image), so an interrupted run leaves
only complete rows behind.

Two coordinators may share one store: before auditing a digest a run *claims* it (a row whose
primary key is the digest triple, so the database itself arbitrates); the other run waits for
that result instead of auditing the image again. A claim whose owner died (same host, process
gone) or stopped refreshing it for ``CLAIM_TTL`` seconds is taken over.

The schema is versioned (``schema_version`` table); opening a store migrates it forward in one
transaction, and a store written by a newer sitelens is refused rather than misread.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

try:
    from sqlalchemy import (
        Column,
        Float,
        Integer,
        MetaData,
        PrimaryKeyConstraint,
        String,
        Table,
        Text,
        UniqueConstraint,
        create_engine,
        event,
        inspect,
        select,
        text,
    )
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.exc import SQLAlchemyError
except ImportError:  # the [scan] extra: only `sitelens scan` needs a database
    raise UsageError("sitelens scan stores its results with SQLAlchemy, which is not installed: "
                     "pip install 'sitelens[scan]'") from None

SCHEMA_VERSION = 2
CLAIM_TTL = 15 * 60.0
SEVERITY_COLUMNS = ("critical", "high", "medium", "low", "info")

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

audits = Table(
    "audits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(128), nullable=False),
    Column("tool_version", String(32), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("reference", Text, nullable=False),  # the first reference it was audited under
    Column("platform", String(64)),
    Column("status", String(16), nullable=False),  # ok | failed
    Column("error", Text),
    *(Column(s, Integer, default=0) for s in SEVERITY_COLUMNS),
    Column("wasted_bytes", Integer),
    Column("total_bytes", Integer),
    Column("layers_total", Integer),
    Column("layers_reused", Integer),
    Column("seconds", Float),
    Column("finished_at", Float, nullable=False),
    Column("result", Text),  # the audit JSON (DESIGN §6)
    Column("reason", String(16)),  # v2: why it failed (scan.targets.REASONS)
    UniqueConstraint("digest", "tool_version", "config_hash", name="uq_audit"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("registry", String(255), nullable=False),
    Column("repository", String(255), nullable=False),
    Column("tag", String(255), nullable=False),
    Column("digest", String(128), nullable=False),
    Column("seen_at", Float, nullable=False),
    UniqueConstraint("registry", "repository", "tag", name="uq_tag"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(255), nullable=False),
    Column("tool_version", String(32), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
)

run_targets = Table(
    "run_targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False, index=True),
    Column("selector", Text, nullable=False),
    Column("digest", String(128)),
    Column("outcome", String(16), nullable=False),  # audited | unchanged | failed
    Column("reason", String(16)),
    Column("error", Text),
    Column("previous_digest", String(128)),  # set when this tag pointed elsewhere last time
)

claims = Table(
    "claims",
    metadata,
    Column("digest", String(128), nullable=False),
    Column("tool_version", String(32), nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("owner", String(255), nullable=False),
    Column("claimed_at", Float, nullable=False),
    PrimaryKeyConstraint("digest", "tool_version", "config_hash", name="pk_claim"),
)

V2_TABLES = (schema_version, runs, run_targets, claims)


@dataclass
class AuditRow:
    digest: str
    reference: str
    status: str
    error: str | None
    counts: dict[str, int]
    wasted_bytes: int | None
    total_bytes: int | None
    layers_total: int
    layers_reused: int
    seconds: float
    platform: str | None
    result: dict[str, Any] | None
    reason: str | None = None


def engine_url(db: str) -> str:
    """A path means SQLite; ``postgresql://`` means PostgreSQL through psycopg 3."""
    if "://" not in db:
        return f"sqlite:///{db}"
    if db.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UsageError("a PostgreSQL store needs psycopg: pip install 'sitelens[postgres]'") from None
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL with synchronous=NORMAL: a commit is not fsynced, but a killed process never corrupts
    # or half-writes a row (only a power cut can lose the last commits) — a no-op rescan of a
    # thousand tags would otherwise spend most of its time in fsync.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """SQLite has no advisory lock, and its driver runs DDL outside a transaction: two scans
    opening a fresh file at once could each see a half-made schema (``audits`` but no
    ``schema_version``) and migrate it twice. A file lock beside the store serialises them."""
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or not path or path == ":memory:":
        yield
        return
    with open(path + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _owner() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str) -> bool:
    host, _, rest = owner.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _migrate(conn: Connection) -> None:
    names = set(inspect(conn).get_table_names())
    if "schema_version" in names:
        found = conn.execute(select(schema_version.c.version)).scalar()
        version = int(found) if found is not None else 1
    else:
        version = 1 if "audits" in names else 0
    if version > SCHEMA_VERSION:
        raise UsageError(f"the results store has schema version {version}, written by a newer sitelens "
                         f"(this one reads up to {SCHEMA_VERSION}); upgrade sitelens")
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        metadata.create_all(conn)
    if version == 1:
        # v1 had audits and tags only; v2 adds the failure reason and the run/claim tables.
        conn.execute(text("ALTER TABLE audits ADD COLUMN reason VARCHAR(16)"))
        for table in V2_TABLES:
            table.create(conn, checkfirst=True)
    conn.execute(schema_version.delete())
    conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))


class ResultStore:
    def __init__(self, db: str) -> None:
        self.owner = _owner()
        self._refreshed = 0.0  # when this run's claims were last refreshed
        self._upsert: Any = None
        try:
            url = engine_url(db)
            args = {"timeout": 60} if url.startswith("sqlite") else {}
            self.engine: Engine = create_engine(url, future=True, connect_args=args)
            if url.startswith("sqlite"):
                event.listen(self.engine, "connect", _sqlite_pragmas)
            with _migration_lock(url), self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Two scans opening a fresh store at once: one migrates, the other waits.
                    conn.execute(text("SELECT pg_advisory_xact_lock(7156041)"))
                _migrate(conn)
        except (SQLAlchemyError, ValueError, OSError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"cannot open results database {db!r}: {detail}") from None

    # ---- runs ----------------------------------------------------------------------------------

    def start_run(self, tool_version: str, config_hash: str) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(runs.insert().values(owner=self.owner, tool_version=tool_version,
                                                    config_hash=config_hash, started_at=time.time()))
            key = res.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(finished_at=time.time()))
            conn.execute(claims.delete().where(claims.c.owner == self.owner))

    def record_targets(self, rows: list[dict[str, Any]]) -> None:
        """Many ``run_targets`` rows (keys as the table's columns) in one transaction."""
        if rows:
            with self.engine.begin() as conn:
                conn.execute(run_targets.insert(), rows)

    def run_target_rows(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(run_targets).where(run_targets.c.run_id == run_id).order_by(run_targets.c.id)
            return [dict(r._mapping) for r in conn.execute(q)]

    # ---- claims --------------------------------------------------------------------------------

    def claim(self, digest: str, tool_version: str, config_hash: str) -> bool:
        """True when this run now owns the digest (fresh, its own, or taken over from a dead owner)."""
        now = time.time()
        key = (claims.c.digest == digest, claims.c.tool_version == tool_version,
               claims.c.config_hash == config_hash)
        with self.engine.begin() as conn:
            ins = _insert(conn, claims).values(digest=digest, tool_version=tool_version,
                                               config_hash=config_hash, owner=self.owner, claimed_at=now)
            if conn.execute(ins.on_conflict_do_nothing()).rowcount == 1:
                return True
            row = conn.execute(select(claims.c.owner, claims.c.claimed_at).where(*key)).first()
            if row is None:  # released between our insert and select: try again next round
                return False
            if row.owner == self.owner:
                return True
            if not (_owner_dead(row.owner) or now - float(row.claimed_at) > CLAIM_TTL):
                return False
            # Compare-and-set: of two runs taking over the same stale claim, exactly one wins.
            res = conn.execute(claims.update().where(*key, claims.c.owner == row.owner,
                                                     claims.c.claimed_at == row.claimed_at)
                               .values(owner=self.owner, claimed_at=now))
            return bool(res.rowcount == 1)

    def claim_many(self, digests: Iterable[str], tool_version: str, config_hash: str) -> set[str]:
        """The digests this run now owns, claimed in one transaction (a first pass over a thousand
        new images was a thousand transactions before the first audit began). A digest another
        owner holds is then tried with :meth:`claim`, which takes over dead or stale claims."""
        wanted = sorted(set(digests))
        if not wanted:
            return set()
        now = time.time()
        mine: set[str] = set()
        with self.engine.begin() as conn:
            ins = _insert(conn, claims).on_conflict_do_nothing()
            conn.execute(ins, [{"digest": d, "tool_version": tool_version, "config_hash": config_hash,
                                "owner": self.owner, "claimed_at": now} for d in wanted])
            for i in range(0, len(wanted), 500):
                q = select(claims.c.digest).where(
                    claims.c.digest.in_(wanted[i:i + 500]), claims.c.tool_version == tool_version,
                    claims.c.config_hash == config_hash, claims.c.owner == self.owner)
                mine.update(str(d) for d in conn.execute(q).scalars())
        self._refreshed = now
        return mine | {d for d in wanted if d not in mine and self.claim(d, tool_version, config_hash)}

    def release(self, digest: str, tool_version: str, config_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(claims.delete().where(claims.c.digest == digest, claims.c.owner == self.owner,
                                               claims.c.tool_version == tool_version,
                                               claims.c.config_hash == config_hash))

    def refresh_claims(self) -> None:
        with self.engine.begin() as conn:
            self._refresh(conn, time.time())

    def _refresh(self, conn: Connection, now: float) -> None:
        conn.execute(claims.update().where(claims.c.owner == self.owner).values(claimed_at=now))
        self._refreshed = now

    # ---- audits --------------------------------------------------------------------------------

    def done(self, digest: str, tool_version: str, config_hash: str) -> bool:
        return self.outcome(digest, tool_version, config_hash) == "ok"

    def done_set(self, digests: Iterable[str], tool_version: str, config_hash: str) -> set[str]:
        """Which of ``digests`` were audited ok with this tool and config (one query per 500)."""
        wanted = sorted(set(digests))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                q = select(audits.c.digest).where(
                    audits.c.digest.in_(wanted[i:i + 500]), audits.c.tool_version == tool_version,
                    audits.c.config_hash == config_hash, audits.c.status == "ok")
                found.update(str(d) for d in conn.execute(q).scalars())
        return found

    def outcome(self, digest: str, tool_version: str, config_hash: str, since: float = 0.0) -> str | None:
        """The stored status of a digest (``ok``/``failed``) finished at or after ``since``, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audits.c.status, audits.c.finished_at).where(
                    audits.c.digest == digest, audits.c.tool_version == tool_version,
                    audits.c.config_hash == config_hash)
            ).first()
        if row is None or (row.status != "ok" and float(row.finished_at) < since):
            return None
        return str(row.status)

    def record_tags(self, seen: list[tuple[str, str, str, str]]) -> dict[tuple[str, str, str], str]:
        """Remember where each (registry, repository, tag) points now, in one transaction; returns
        the previous digest of every tag that moved."""
        if not seen:
            return {}
        now = time.time()
        moved: dict[tuple[str, str, str], str] = {}
        with self.engine.begin() as conn:
            known: dict[tuple[str, str, str], str] = {}
            for registry in sorted({r for r, _, _, _ in seen}):
                q = select(tags.c.registry, tags.c.repository, tags.c.tag, tags.c.digest).where(
                    tags.c.registry == registry)
                known.update({(r.registry, r.repository, r.tag): r.digest for r in conn.execute(q)})
            changed: dict[tuple[str, str, str], dict[str, Any]] = {}
            for registry, repository, tag, digest in seen:
                key = (registry, repository, tag)
                before = known.get(key)
                if before == digest:
                    continue
                if before is not None:
                    moved[key] = before
                changed[key] = dict(registry=registry, repository=repository, tag=tag, digest=digest, seen_at=now)
            if changed:
                # one statement for every new or moved tag (a first scan of a registry: all of them)
                ins = _insert(conn, tags)
                conn.execute(ins.on_conflict_do_update(
                    index_elements=["registry", "repository", "tag"],
                    set_={"digest": ins.excluded.digest, "seen_at": ins.excluded.seen_at},
                ), list(changed.values()))
        return moved

    def save(self, row: AuditRow, tool_version: str, config_hash: str,
             outcomes: list[dict[str, Any]] | None = None) -> None:
        """Store one audit and, in the same transaction, the run's ``outcomes`` it settles (the
        ``run_targets`` rows of its tags): one commit per finished image."""
        now = time.time()
        values = dict(
            digest=row.digest, tool_version=tool_version, config_hash=config_hash,
            reference=row.reference, platform=row.platform, status=row.status, error=row.error,
            reason=row.reason, wasted_bytes=row.wasted_bytes, total_bytes=row.total_bytes,
            layers_total=row.layers_total, layers_reused=row.layers_reused, seconds=row.seconds,
            finished_at=now, result=json.dumps(row.result) if row.result is not None else None,
            **{k: row.counts.get(k, 0) for k in SEVERITY_COLUMNS},
        )
        with self.engine.begin() as conn:
            # One row per digest triple, whoever writes it: a failed attempt is replaced in place.
            conn.execute(self._upsert_audit(conn), [values])
            if now - self._refreshed > CLAIM_TTL / 10:
                # Updating every claim of this run on every save made a first pass quadratic.
                self._refresh(conn, now)
            conn.execute(claims.delete().where(claims.c.digest == row.digest, claims.c.owner == self.owner,
                                               claims.c.tool_version == tool_version,
                                               claims.c.config_hash == config_hash))
            if outcomes:
                conn.execute(run_targets.insert(), outcomes)

    def _upsert_audit(self, conn: Connection) -> Any:
        """The audits upsert, built once with its values bound per call: building it anew with
        literal values cost SQLAlchemy more than the statement cost SQLite."""
        if self._upsert is None:
            ins = _insert(conn, audits)
            keys = ("id", "digest", "tool_version", "config_hash")
            self._upsert = ins.on_conflict_do_update(
                index_elements=["digest", "tool_version", "config_hash"],
                set_={c.name: ins.excluded[c.name] for c in audits.columns if c.name not in keys})
        return self._upsert

    def rows(self, tool_version: str | None = None, config_hash: str | None = None,
             digests: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Audit rows by digest; ``digests`` limits them (queried in chunks: a run may name thousands)."""
        q = select(audits)
        if tool_version is not None:
            q = q.where(audits.c.tool_version == tool_version)
        if config_hash is not None:
            q = q.where(audits.c.config_hash == config_hash)
        queries = [q]
        if digests is not None:
            wanted = sorted(set(digests))
            queries = [q.where(audits.c.digest.in_(wanted[i:i + 500])) for i in range(0, len(wanted), 500)]
        with self.engine.connect() as conn:
            for query in queries:
                for r in conn.execute(query.order_by(audits.c.digest)):
                    d = dict(r._mapping)
                    d["result"] = json.loads(d["result"]) if d["result"] else None
                    yield d

    def tag_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(tags).order_by(tags.c.registry, tags.c.repository, tags.c.tag)
            return [dict(r._mapping) for r in conn.execute(q)]

    def close(self) -> None:
        self.engine.dispose()
