"""The scan job's results store: SQLite by default, any SQLAlchemy URL for a shared database.

One row per (manifest digest, sitelens version, config hash) is what makes scans incremental:
an image whose digest was audited with the same tool and config is skipped, a moved tag points
at a new digest and is audited again. Every audit result is written in its own transaction by
the single coordinating process, so an interrupted run leaves only complete rows behind and the
next run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import UsageError

metadata = MetaData()

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
    Column("critical", Integer, default=0),
    Column("high", Integer, default=0),
    Column("medium", Integer, default=0),
    Column("low", Integer, default=0),
    Column("info", Integer, default=0),
    Column("wasted_bytes", Integer),
    Column("total_bytes", Integer),
    Column("layers_total", Integer),
    Column("layers_reused", Integer),
    Column("seconds", Float),
    Column("finished_at", Float, nullable=False),
    Column("result", Text),  # the audit JSON (DESIGN §6)
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


def _url(db: str) -> str:
    if "://" in db:
        return db
    return f"sqlite:///{db}"


class ResultStore:
    def __init__(self, db: str) -> None:
        try:
            self.engine: Engine = create_engine(_url(db), future=True)
            metadata.create_all(self.engine)
        except (SQLAlchemyError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(f"cannot open results database {db!r}: {detail}") from None

    def done(self, digest: str, tool_version: str, config_hash: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audits.c.id).where(
                    audits.c.digest == digest,
                    audits.c.tool_version == tool_version,
                    audits.c.config_hash == config_hash,
                    audits.c.status == "ok",
                )
            ).first()
        return row is not None

    def record_tag(self, registry: str, repository: str, tag: str, digest: str) -> bool:
        """Remember where a tag points; True when it is new or moved since the last run."""
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(tags.c.id, tags.c.digest).where(
                    tags.c.registry == registry, tags.c.repository == repository, tags.c.tag == tag
                )
            ).first()
            if row is None:
                conn.execute(tags.insert().values(registry=registry, repository=repository, tag=tag,
                                                  digest=digest, seen_at=now))
                return True
            conn.execute(tags.update().where(tags.c.id == row.id).values(digest=digest, seen_at=now))
            return bool(row.digest != digest)

    def save(self, row: AuditRow, tool_version: str, config_hash: str) -> None:
        values = dict(
            digest=row.digest, tool_version=tool_version, config_hash=config_hash,
            reference=row.reference, platform=row.platform, status=row.status, error=row.error,
            wasted_bytes=row.wasted_bytes, total_bytes=row.total_bytes,
            layers_total=row.layers_total, layers_reused=row.layers_reused, seconds=row.seconds,
            finished_at=time.time(), result=json.dumps(row.result) if row.result is not None else None,
            **{k: row.counts.get(k, 0) for k in ("critical", "high", "medium", "low", "info")},
        )
        with self.engine.begin() as conn:
            # A failed earlier attempt is replaced by the new outcome; an ok one is never duplicated.
            conn.execute(audits.delete().where(
                audits.c.digest == row.digest, audits.c.tool_version == tool_version,
                audits.c.config_hash == config_hash,
            ))
            conn.execute(audits.insert().values(**values))

    def rows(self, tool_version: str | None = None, config_hash: str | None = None) -> Iterator[dict[str, Any]]:
        q = select(audits)
        if tool_version is not None:
            q = q.where(audits.c.tool_version == tool_version)
        if config_hash is not None:
            q = q.where(audits.c.config_hash == config_hash)
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(audits.c.id)):
                d = dict(r._mapping)
                d["result"] = json.loads(d["result"]) if d["result"] else None
                yield d

    def tag_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(tags).order_by(tags.c.id))]
