"""The link store: the engine's only door to the database.

Every method is one short transaction, so a crash leaves the store consistent: links and the
intents they complete are committed together, and cursors move only after the writes they
cover are committed. All reads and writes are scoped to one company/tenant ``pair``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from trestle.models.tables import Cursor, Link, LinkEvent, OAuthToken, ReviewIssue, Run, RunLock, WriteIntent
from trestle.timeutil import to_utc, utcnow


class LockHeld(Exception):
    """Another run holds the lock (same pair and integration); the message names the holder."""


class LeaseLost(Exception):
    """This run's lease ran out and another run took the lock over: stop before writing anything more."""


@dataclass(frozen=True)
class LinkRow:
    """A snapshot of one link, detached from the database session."""

    entity: str
    procore_id: str
    xero_id: str
    fingerprint: str | None
    last_payload: dict[str, Any] | None
    label: str = ""
    origin: str = "auto"  # auto (the matcher) | manual (``trestle link``)
    linked_by: str | None = None
    linked_at: datetime | None = None


class LinkConflict(Exception):
    """A manual link would tie a record that is already linked to another one; ``existing`` is that link."""

    def __init__(self, message: str, existing: LinkRow) -> None:
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True)
class LinkEventRow:
    """One manual link or unlink, detached from the database session."""

    id: int
    entity: str
    action: str
    procore_id: str
    xero_id: str
    label: str
    by: str
    at: datetime

    def describe(self) -> str:
        """One line: what was linked or unlinked, by whom and when (UTC)."""
        verb = "linked" if self.action == "link" else "unlinked"
        name = self.entity.replace("_", " ")
        return (
            f"{self.label or 'no name'}: Procore {name} {self.procore_id} and Xero {self.xero_id} {verb} by hand "
            f"by {self.by} on {to_utc(self.at):%Y-%m-%d %H:%M} UTC"
        )


@dataclass
class IssueIn:
    """A review issue raised for a record in this run."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class IntentIn:
    """A write about to be sent."""

    entity: str
    source_id: str
    target_system: str
    operation: str
    idempotency_key: str
    batch_key: str
    batch_position: int
    fingerprint: str
    payload: dict[str, Any]
    label: str = ""
    target_id: str | None = None


@dataclass(frozen=True)
class PendingIntent:
    id: int
    integration: str
    entity: str
    source_id: str
    target_system: str
    target_id: str | None
    operation: str
    idempotency_key: str
    batch_key: str
    batch_position: int
    fingerprint: str
    payload: dict[str, Any]
    label: str
    attempts: int
    created_at: datetime


class LinkStore:
    """Links, intents, review issues, cursors, tokens and run locks for one ``pair``."""

    def __init__(self, engine: Engine, pair: str) -> None:
        self.engine = engine
        self.pair = pair
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # ----------------------------------------------------------------- links
    def links(self, entity: str) -> list[LinkRow]:
        """Every link of ``entity`` for this pair (loaded once per run and indexed by the engine)."""
        with self.session() as session:
            rows = session.scalars(select(Link).where(Link.pair == self.pair, Link.entity == entity))
            return [_link_row(row) for row in rows]

    def save_links(self, rows: Sequence[LinkRow], *, session: Session | None = None) -> None:
        """Insert or update links by (entity, procore_id)."""
        if session is None:
            with self.session() as own:
                self.save_links(rows, session=own)
            return
        for row in rows:
            existing = session.scalars(
                select(Link).where(
                    Link.pair == self.pair,
                    Link.entity == row.entity,
                    or_(Link.procore_id == row.procore_id, Link.xero_id == row.xero_id),
                )
            ).all()
            target = next((item for item in existing if item.procore_id == row.procore_id), None)
            for stale in existing:
                if stale is not target:  # the other side was relinked: one record, one link
                    session.delete(stale)
            session.flush()
            if target is None:
                target = Link(
                    pair=self.pair,
                    entity=row.entity,
                    procore_id=row.procore_id,
                    xero_id=row.xero_id,
                    origin=row.origin,
                    linked_by=row.linked_by,
                    linked_at=row.linked_at,
                )
                session.add(target)
            target.xero_id = row.xero_id
            target.fingerprint = row.fingerprint
            target.last_payload = row.last_payload
            target.label = row.label[:300]
            target.updated_at = utcnow()

    def delete_link(self, entity: str, *, procore_id: str) -> None:
        with self.session() as session:
            session.execute(
                delete(Link).where(Link.pair == self.pair, Link.entity == entity, Link.procore_id == procore_id)
            )

    def find_link(self, entity: str, *, procore_id: str | None = None, xero_id: str | None = None) -> LinkRow | None:
        """The link of ``entity`` holding that Procore id (or that Xero id), if any."""
        with self.session() as session:
            row = session.scalars(self._link_query(entity, procore_id=procore_id, xero_id=xero_id)).first()
            return _link_row(row) if row is not None else None

    def _link_query(self, entity: str, *, procore_id: str | None, xero_id: str | None) -> Any:
        if (procore_id is None) == (xero_id is None):
            raise ValueError("give exactly one of procore_id and xero_id")
        side = Link.procore_id == procore_id if procore_id is not None else Link.xero_id == xero_id
        return select(Link).where(Link.pair == self.pair, Link.entity == entity, side)

    def link_manually(self, entity: str, *, procore_id: str, xero_id: str, label: str, by: str) -> LinkRow:
        """Link two records by hand (``origin = manual``) and record who did it.

        Raises :class:`LinkConflict` when either record is already linked to another one. The
        same pair linked already (by the matcher or by hand) becomes a manual link. The new link
        has no payload yet, so the next run updates the target from the source, as for any link.
        """
        now = utcnow()
        with self.session() as session:
            rows = session.scalars(
                select(Link).where(
                    Link.pair == self.pair,
                    Link.entity == entity,
                    or_(Link.procore_id == procore_id, Link.xero_id == xero_id),
                )
            ).all()
            for row in rows:
                if (row.procore_id, row.xero_id) != (procore_id, xero_id):
                    raise LinkConflict(f"{entity} link already exists", _link_row(row))
            link = rows[0] if rows else Link(pair=self.pair, entity=entity, procore_id=procore_id, xero_id=xero_id)
            if not rows:
                link.fingerprint, link.last_payload = None, None
                session.add(link)
            link.label = label[:300]
            link.origin, link.linked_by, link.linked_at = "manual", by[:120], now
            link.updated_at = now
            session.add(self._event(entity, "link", procore_id, xero_id, label, by, now))
            session.flush()
            return _link_row(link)

    def unlink(self, entity: str, *, procore_id: str | None = None, xero_id: str | None = None, by: str) -> LinkRow:
        """Remove the link holding that id and record who did it; ``KeyError`` when there is none."""
        now = utcnow()
        with self.session() as session:
            row = session.scalars(self._link_query(entity, procore_id=procore_id, xero_id=xero_id)).first()
            if row is None:
                raise KeyError(procore_id or xero_id)
            removed = _link_row(row)
            session.delete(row)
            session.add(self._event(entity, "unlink", row.procore_id, row.xero_id, row.label, by, now))
            return removed

    def _event(
        self, entity: str, action: str, procore_id: str, xero_id: str, label: str, by: str, at: datetime
    ) -> LinkEvent:
        return LinkEvent(
            pair=self.pair,
            entity=entity,
            action=action,
            procore_id=procore_id,
            xero_id=xero_id,
            label=label[:300],
            by=by[:120],
            at=at,
        )

    def link_events(
        self, *, entity: str | None = None, since: datetime | None = None, unreported: bool = False
    ) -> list[LinkEventRow]:
        """Manual links and unlinks, oldest first: of one entity, since a time, or not yet in a summary."""
        with self.session() as session:
            query = select(LinkEvent).where(LinkEvent.pair == self.pair)
            if entity:
                query = query.where(LinkEvent.entity == entity)
            if since is not None:
                query = query.where(LinkEvent.at >= since)
            if unreported:
                query = query.where(LinkEvent.reported_at.is_(None))
            return [
                LinkEventRow(e.id, e.entity, e.action, e.procore_id, e.xero_id, e.label, e.by, e.at)
                for e in session.scalars(query.order_by(LinkEvent.at, LinkEvent.id))
            ]

    def mark_events_reported(self, ids: Sequence[int]) -> None:
        """Note that these link events were shown in a run's summary (each is shown once)."""
        if not ids:
            return
        with self.session() as session:
            session.execute(
                update(LinkEvent)
                .where(LinkEvent.pair == self.pair, LinkEvent.id.in_(list(ids)))
                .values(reported_at=utcnow())
            )

    # --------------------------------------------------------------- intents
    def add_intents(self, intents: Sequence[IntentIn], integration: str) -> None:
        """Record writes before they are sent (committed, so a crash cannot lose them).

        An intent whose key is already known is the same write again (same record, same payload,
        same attempt number, see :meth:`finished_attempts`): a pending one stays pending for this
        attempt; a done one stays done, because a write that reached the target must never be
        sent again as though it had not.
        """
        with self.session() as session:
            keys = [intent.idempotency_key for intent in intents]
            known = {
                key: status
                for key, status in session.execute(
                    select(WriteIntent.idempotency_key, WriteIntent.status).where(
                        WriteIntent.pair == self.pair, WriteIntent.idempotency_key.in_(keys)
                    )
                )
            }
            for intent in intents:
                if intent.idempotency_key in known:
                    session.execute(
                        update(WriteIntent)
                        .where(
                            WriteIntent.pair == self.pair,
                            WriteIntent.idempotency_key == intent.idempotency_key,
                            WriteIntent.status != "done",
                        )
                        .values(status="pending", batch_key=intent.batch_key, batch_position=intent.batch_position)
                    )
                    continue
                session.add(
                    WriteIntent(
                        pair=self.pair,
                        integration=integration,
                        entity=intent.entity,
                        source_id=intent.source_id,
                        target_system=intent.target_system,
                        target_id=intent.target_id,
                        operation=intent.operation,
                        idempotency_key=intent.idempotency_key,
                        batch_key=intent.batch_key,
                        batch_position=intent.batch_position,
                        fingerprint=intent.fingerprint,
                        payload=intent.payload,
                        label=intent.label[:300],
                    )
                )

    def finished_attempts(self, integration: str, source_ids: Sequence[str]) -> dict[tuple[str, str], int]:
        """How many writes of each (record, payload fingerprint) already ended, done or failed.

        The write stage numbers a new attempt with it, so a payload written before (A → B → A) or
        refused before gets an idempotency key of its own instead of the old attempt's answer.
        """
        if not source_ids:
            return {}
        with self.session() as session:
            rows = session.execute(
                select(WriteIntent.source_id, WriteIntent.fingerprint, func.count())
                .where(
                    WriteIntent.pair == self.pair,
                    WriteIntent.integration == integration,
                    WriteIntent.source_id.in_(list(source_ids)),
                    WriteIntent.status.in_(("done", "failed")),
                )
                .group_by(WriteIntent.source_id, WriteIntent.fingerprint)
            ).all()
        return {(source_id, fingerprint): count for source_id, fingerprint, count in rows}

    def pending_intents(self, integration: str) -> list[PendingIntent]:
        with self.session() as session:
            rows = session.scalars(
                select(WriteIntent)
                .where(
                    WriteIntent.pair == self.pair,
                    WriteIntent.integration == integration,
                    WriteIntent.status == "pending",
                )
                .order_by(WriteIntent.batch_key, WriteIntent.batch_position)
            )
            return [_pending(row) for row in rows]

    def finish_writes(
        self,
        *,
        links: Sequence[LinkRow],
        done_keys: Sequence[str],
        failed: dict[str, str],
        attempted_keys: Sequence[str] = (),
    ) -> None:
        """Commit a batch's outcome in one transaction: links, intents done or failed."""
        now = utcnow()
        with self.session() as session:
            self.save_links(links, session=session)
            if done_keys:
                session.execute(
                    update(WriteIntent)
                    .where(WriteIntent.pair == self.pair, WriteIntent.idempotency_key.in_(list(done_keys)))
                    .values(status="done", completed_at=now, error=None)
                )
            for key, error in failed.items():
                session.execute(
                    update(WriteIntent)
                    .where(
                        WriteIntent.pair == self.pair,
                        WriteIntent.idempotency_key == key,
                        WriteIntent.status != "done",  # a write that reached the target stays done
                    )
                    .values(status="failed", completed_at=now, error=error[:2000])
                )
            if attempted_keys:
                session.execute(
                    update(WriteIntent)
                    .where(WriteIntent.pair == self.pair, WriteIntent.idempotency_key.in_(list(attempted_keys)))
                    .values(attempts=WriteIntent.attempts + 1)
                )

    # ---------------------------------------------------------------- issues
    def reconcile_issues(
        self,
        integration: str,
        entity: str,
        found: dict[str, list[IssueIn]],
        *,
        labels: dict[str, str],
        urls: dict[str, str | None] | None = None,
        resolve_others: bool = True,
    ) -> None:
        """Open (or refresh) the issues found for each record, and resolve the ones that went away.

        ``found`` maps every record processed in this batch to its issues (an empty list for
        a record that synced cleanly).
        """
        if not found:
            return
        now = utcnow()
        urls = urls or {}
        with self.session() as session:
            existing = session.scalars(
                select(ReviewIssue).where(
                    ReviewIssue.pair == self.pair,
                    ReviewIssue.entity == entity,
                    ReviewIssue.record_id.in_(list(found)),
                )
            ).all()
            by_key = {(row.record_id, row.code): row for row in existing}
            for record_id, issues in found.items():
                codes = set()
                for issue in issues:
                    codes.add(issue.code)
                    row = by_key.get((record_id, issue.code))
                    if row is None:
                        row = ReviewIssue(
                            pair=self.pair,
                            integration=integration,
                            entity=entity,
                            record_id=record_id,
                            code=issue.code,
                            first_seen=now,
                            occurrences=0,
                        )
                        session.add(row)
                        by_key[(record_id, issue.code)] = row
                    if row.status != "open":
                        row.first_seen, row.occurrences, row.resolved_at = now, 0, None
                    row.status = "open"
                    row.message = issue.message
                    row.details = issue.details or None
                    row.label = labels.get(record_id, row.label or "")[:300]
                    row.url = urls.get(record_id)
                    row.last_seen = now
                    row.occurrences = (row.occurrences or 0) + 1
                if not resolve_others:
                    continue
                for (other_id, code), row in by_key.items():
                    if other_id == record_id and code not in codes and row.status == "open":
                        row.status, row.resolved_at = "resolved", now

    def resolve_issues(self, entity: str, record_id: str, codes: Sequence[str]) -> int:
        """Resolve the open issues ``codes`` of one record (a manual link settled them); how many."""
        with self.session() as session:
            result = session.execute(
                update(ReviewIssue)
                .where(
                    ReviewIssue.pair == self.pair,
                    ReviewIssue.entity == entity,
                    ReviewIssue.record_id == record_id,
                    ReviewIssue.code.in_(list(codes)),
                    ReviewIssue.status == "open",
                )
                .values(status="resolved", resolved_at=utcnow())
            )
            return int(cast(CursorResult[Any], result).rowcount or 0)

    def open_issues(self, *, integration: str | None = None, entity: str | None = None) -> list[ReviewIssue]:
        with self.session() as session:
            query = select(ReviewIssue).where(ReviewIssue.pair == self.pair, ReviewIssue.status == "open")
            if integration:
                query = query.where(ReviewIssue.integration == integration)
            if entity:
                query = query.where(ReviewIssue.entity == entity)
            return list(session.scalars(query.order_by(ReviewIssue.entity, ReviewIssue.label)))

    def search_issues(self, text: str | None = None, *, include_resolved: bool = False) -> list[ReviewIssue]:
        """Review issues whose record name or id contains ``text`` (case-insensitive)."""
        with self.session() as session:
            query = select(ReviewIssue).where(ReviewIssue.pair == self.pair)
            if not include_resolved:
                query = query.where(ReviewIssue.status == "open")
            if text:
                pattern = f"%{text.lower()}%"
                query = query.where(
                    or_(
                        ReviewIssue.label.ilike(pattern),
                        ReviewIssue.record_id.ilike(pattern),
                        ReviewIssue.code.ilike(pattern),
                    )
                )
            return list(session.scalars(query.order_by(ReviewIssue.last_seen.desc(), ReviewIssue.id)))

    # --------------------------------------------------------------- cursors
    def cursor(self, integration: str, stream: str) -> datetime | None:
        with self.session() as session:
            row = session.get(Cursor, (self.pair, integration, stream))
            return row.position if row else None

    def save_cursor(self, integration: str, stream: str, position: datetime) -> None:
        """Move a cursor forward (never backward)."""
        with self.session() as session:
            row = session.get(Cursor, (self.pair, integration, stream))
            if row is None:
                session.add(Cursor(pair=self.pair, integration=integration, stream=stream, position=position))
            elif position > row.position:
                row.position = position

    def clear_cursors(self, integration: str) -> None:
        with self.session() as session:
            session.execute(delete(Cursor).where(Cursor.pair == self.pair, Cursor.integration == integration))

    # ----------------------------------------------------------------- locks
    def try_lock(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take (or renew) the named lock if it is free, already ours, or its holder's lease ran out.

        Atomic on every backend: a new lock is one INSERT on the primary key (the loser of a race
        gets an integrity error), a takeover is one conditional UPDATE on the old holder (the loser
        updates no row). A busy SQLite file counts as "not now", never as an error.
        """
        now = utcnow()
        full_name = f"{self.pair}:{name}"
        try:
            with self.session() as session:
                row = session.get(RunLock, full_name)
                if row is None:
                    session.add(RunLock(name=full_name, holder=holder, acquired_at=now, expires_at=now + ttl))
                    session.flush()
                    return True
                if row.holder == holder or row.expires_at <= now or _holder_is_dead(row.holder):
                    result = cast(
                        CursorResult[Any],
                        session.execute(
                            update(RunLock)
                            .where(RunLock.name == full_name, RunLock.holder == row.holder)
                            .values(holder=holder, acquired_at=now, expires_at=now + ttl)
                        ),
                    )  # an UPDATE's result is a CursorResult; Session.execute is typed for SELECTs
                    return result.rowcount == 1
                return False
        except (IntegrityError, OperationalError):
            return False

    def lock_holder(self, name: str) -> tuple[str, datetime] | None:
        """Who holds the named lock and until when (None when free)."""
        with self.session() as session:
            row = session.get(RunLock, f"{self.pair}:{name}")
            return (row.holder, row.expires_at) if row else None

    def renew_lock(self, name: str, holder: str, ttl: timedelta) -> None:
        """Extend our lease; raise :class:`LeaseLost` if another run has taken the lock over."""
        if not self.try_lock(name, holder, ttl):
            current = self.lock_holder(name)
            if current is not None and current[0] != holder:
                raise LeaseLost(f"{name}: the lease ran out and run {current[0]} took it over; stopping")
            # a busy database, not a takeover: the lease still stands until it expires

    def release_lock(self, name: str, holder: str) -> None:
        with self.session() as session:
            session.execute(delete(RunLock).where(RunLock.name == f"{self.pair}:{name}", RunLock.holder == holder))

    @contextmanager
    def lock(self, name: str, *, ttl: timedelta = timedelta(minutes=10), wait: float = 0.0) -> Iterator[str]:
        """Hold ``name`` for the block; wait up to ``wait`` seconds, else raise :class:`LockHeld`.

        The lease lasts ``ttl`` and is renewed with :meth:`try_lock` by the holder as it works; a
        holder that crashed on this machine is recognised at once, one elsewhere when its lease ends.
        """
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + wait
        while not self.try_lock(name, holder, ttl):
            if time.monotonic() >= deadline:
                current = self.lock_holder(name)
                who = "another run"
                if current is not None:
                    who = f"run {current[0]} (lease until {to_utc(current[1]):%Y-%m-%d %H:%M:%S} UTC)"
                raise LockHeld(f"{name} for pair {self.pair!r} is held by {who}")
            time.sleep(0.2)
        try:
            yield holder
        finally:
            self.release_lock(name, holder)

    # ---------------------------------------------------------------- tokens
    def load_token(self, system: str) -> OAuthToken | None:
        """The stored (encrypted) token row for ``system``; :class:`DatabaseTokenStore` decrypts it."""
        with self.session() as session:
            return session.get(OAuthToken, (self.pair, system))

    def save_token(
        self,
        system: str,
        *,
        access_token: str | None,
        refresh_token: str | None,
        expires_at: datetime | None,
        scope: str | None,
        configured_fingerprint: str | None = None,
    ) -> None:
        """Replace ``system``'s token row (values already encrypted); committed before returning.

        ``configured_fingerprint`` is kept as it is unless given.
        """
        with self.session() as session:
            row = session.get(OAuthToken, (self.pair, system))
            if row is None:
                row = OAuthToken(pair=self.pair, system=system)
                session.add(row)
            row.access_token, row.refresh_token = access_token, refresh_token
            row.expires_at, row.scope = expires_at, scope
            if configured_fingerprint is not None:
                row.configured_fingerprint = configured_fingerprint

    # ------------------------------------------------------------------ runs
    def start_run(self, run_id: str, flow: str, *, dry_run: bool, flow_run_id: str | None) -> None:
        with self.session() as session:
            session.add(Run(id=run_id, pair=self.pair, flow=flow, dry_run=dry_run, flow_run_id=flow_run_id))

    def finish_run(self, run_id: str, *, outcome: str, summary: dict[str, Any], api_calls: int) -> None:
        with self.session() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(finished_at=utcnow(), outcome=outcome, summary=summary, api_calls=api_calls)
            )

    def last_runs(self, flow: str | None = None, limit: int = 20) -> list[Run]:
        with self.session() as session:
            query = select(Run).where(Run.pair == self.pair)
            if flow:
                query = query.where(Run.flow == flow)
            return list(session.scalars(query.order_by(Run.started_at.desc()).limit(limit)))


def _holder_is_dead(holder: str) -> bool:
    """Whether a lock holder was a process on this machine that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _link_row(row: Link) -> LinkRow:
    return LinkRow(
        row.entity,
        row.procore_id,
        row.xero_id,
        row.fingerprint,
        row.last_payload,
        row.label,
        origin=row.origin or "auto",
        linked_by=row.linked_by,
        linked_at=row.linked_at,
    )


def _pending(row: WriteIntent) -> PendingIntent:
    return PendingIntent(
        id=row.id,
        integration=row.integration,
        entity=row.entity,
        source_id=row.source_id,
        target_system=row.target_system,
        target_id=row.target_id,
        operation=row.operation,
        idempotency_key=row.idempotency_key,
        batch_key=row.batch_key,
        batch_position=row.batch_position,
        fingerprint=row.fingerprint,
        payload=row.payload,
        label=row.label,
        attempts=row.attempts,
        created_at=row.created_at,
    )
