"""The scan coordinator: select → skip what is done → claim → run tasks → store each result.

Only this process writes to the store (workers return results), which keeps SQLite safe and makes
the store's state after a kill exactly "every task that completed". Every selected target ends in
the run's record as ``audited``, ``unchanged`` (its digest was already audited with this tool and
config) or ``failed`` with a reason; nothing selected is left out of the report.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .executor import Executor
from .store import AuditRow, ResultStore
from .targets import Target

WAIT_POLL = 0.5  # seconds between looks at a digest another run is auditing


@dataclass
class ScanStats:
    selected: int = 0
    audited: int = 0
    unchanged: int = 0
    failed: int = 0
    layers_total: int = 0
    layers_reused: int = 0

    @property
    def finished(self) -> int:
        return self.audited + self.unchanged + self.failed


@dataclass
class RunResult:
    run_id: int
    stats: ScanStats
    started_at: float
    seconds: float = 0.0


@dataclass
class _Pending:
    """The targets that share one digest (several tags of one image) and wait for one result."""

    reference: str
    targets: list[tuple[Target, str | None]] = field(default_factory=list)  # (target, previous digest)


Progress = Callable[[ScanStats], None]


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _unkeyed(reference: str) -> str:
    """A store key for an image whose source has no manifest digest (dir:, some engine exports)."""
    return "ref:" + hashlib.sha256(reference.encode()).hexdigest()


def _row(digest: str, reference: str, result: dict[str, Any]) -> AuditRow:
    return AuditRow(
        digest=digest, reference=reference, status=result["status"], error=result.get("error"),
        reason=result.get("reason"), counts=result.get("counts") or {},
        wasted_bytes=result.get("wasted_bytes"), total_bytes=result.get("total_bytes"),
        layers_total=int(result.get("layers_total") or 0), layers_reused=int(result.get("layers_reused") or 0),
        seconds=float(result.get("seconds") or 0.0), platform=result.get("platform"), result=result.get("result"),
    )


class _Run:
    def __init__(self, store: ResultStore, cfg_hash: str, progress: Progress | None) -> None:
        self.store = store
        self.cfg_hash = cfg_hash
        self.progress = progress
        self.started = time.time()
        self.run_id = store.start_run(__version__, cfg_hash)
        self.stats = ScanStats()
        self._outcomes: list[dict[str, Any]] = []

    def finish(self, target: Target, digest: str | None, outcome: str, previous: str | None = None,
               reason: str | None = None, error: str | None = None) -> None:
        self._outcomes.append({"run_id": self.run_id, "selector": target.selector, "digest": digest,
                               "outcome": outcome, "reason": reason, "error": error, "previous_digest": previous})
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        if self.progress:
            self.progress(self.stats)

    def flush(self) -> None:
        """Write the outcomes noted so far, in one transaction (a no-op rescan of a thousand tags
        is then a handful of transactions, not three per tag)."""
        self.store.record_targets(self.take_outcomes())

    def take_outcomes(self) -> list[dict[str, Any]]:
        """The outcomes noted since the last write, for the caller to write."""
        taken, self._outcomes = self._outcomes, []
        return taken

    def finish_group(self, group: _Pending, digest: str, result: dict[str, Any]) -> None:
        ok = result["status"] == "ok"
        for target, previous in group.targets:
            self.finish(target, digest, "audited" if ok else "failed", previous,
                        None if ok else result.get("reason") or "error", None if ok else result.get("error"))


def run_scan(
    targets: list[Target],
    store: ResultStore,
    executor: Executor,
    task: Callable[..., dict[str, Any]],
    task_options: dict[str, Any],
    cfg_hash: str,
    progress: Progress | None = None,
) -> RunResult:
    run = _Run(store, cfg_hash, progress)
    run.stats.selected = len(targets)
    moved = store.record_tags([(*t.tag_key, t.digest) for t in targets
                               if t.tag_key is not None and t.digest is not None and not t.failed])
    done = store.done_set((t.digest for t in targets if t.digest), __version__, cfg_hash)
    mine: dict[str, _Pending] = {}  # digest (or reference, when unknown) → the one job for it
    theirs: dict[str, _Pending] = {}  # digests another run had claimed when we looked
    new: dict[str, _Pending] = {}  # digests to audit, once claimed
    for t in targets:
        if t.failed:
            run.finish(t, None, "failed", reason=t.reason, error=t.error)
            continue
        previous = moved.get(t.tag_key) if t.tag_key is not None else None
        if t.digest is None:
            mine.setdefault(t.reference, _Pending(t.reference)).targets.append((t, previous))
        elif t.digest in new:
            new[t.digest].targets.append((t, previous))
        elif t.digest in done:
            run.finish(t, t.digest, "unchanged", previous)
        else:
            new[t.digest] = _Pending(t.reference, [(t, previous)])
    claimed = store.claim_many(new, __version__, cfg_hash)
    # Another run may have stored some between our look and our claim.
    stored = store.done_set(claimed, __version__, cfg_hash) if claimed else set()
    for digest, group in new.items():
        if digest in stored:
            store.release(digest, __version__, cfg_hash)
            for t, previous in group.targets:
                run.finish(t, digest, "unchanged", previous)
        elif digest in claimed:
            mine[digest] = group
        else:
            theirs[digest] = group
    run.flush()

    _audit(run, mine, executor, task, task_options)
    while theirs:
        _wait_for_others(run, theirs, mine)
        run.flush()
        if mine:
            _audit(run, mine, executor, task, task_options)
    store.finish_run(run.run_id)
    return RunResult(run.run_id, run.stats, run.started, time.time() - run.started)


def _audit(run: _Run, mine: dict[str, _Pending], executor: Executor,
           task: Callable[..., dict[str, Any]], task_options: dict[str, Any]) -> None:
    by_ref = {group.reference: (key, group) for key, group in mine.items()}
    jobs = [(group.reference, task_options) for group in mine.values()]
    mine.clear()
    for (ref, _), result in executor.run(task, jobs):
        key, group = by_ref[ref]
        digest = key if key.startswith("sha256:") else (result.get("digest") or _unkeyed(ref))
        run.stats.layers_total += int(result.get("layers_total") or 0)
        run.stats.layers_reused += int(result.get("layers_reused") or 0)
        run.finish_group(group, digest, result)
        run.store.save(_row(digest, ref, result), __version__, run.cfg_hash, run.take_outcomes())


def _wait_for_others(run: _Run, theirs: dict[str, _Pending], mine: dict[str, _Pending]) -> None:
    """Take each digest another run claimed once that run stored it; claim it ourselves when the
    other run died or dropped it. Returns when something was taken over (``mine``) or all done."""
    while theirs and not mine:
        for digest in sorted(theirs):
            status = run.store.outcome(digest, __version__, run.cfg_hash, since=run.started)
            group = theirs[digest]
            if status == "ok":
                for target, previous in group.targets:
                    run.finish(target, digest, "unchanged", previous)
            elif status == "failed":
                row = next(run.store.rows(__version__, run.cfg_hash, [digest]), None) or {}
                for target, previous in group.targets:
                    run.finish(target, digest, "failed", previous, row.get("reason") or "error", row.get("error"))
            elif run.store.claim(digest, __version__, run.cfg_hash):
                if run.store.outcome(digest, __version__, run.cfg_hash, since=run.started) is not None:
                    run.store.release(digest, __version__, run.cfg_hash)  # stored meanwhile: read it next round
                    continue
                mine[digest] = group
            else:
                continue
            del theirs[digest]
        if theirs and not mine:
            run.store.refresh_claims()
            time.sleep(WAIT_POLL)
