"""The link store: the engine's only door to the database.

Every method is one short transaction, so a crash leaves the store consistent: links and the
intents they complete are committed together, and cursors move only after the writes they
cover are committed. All reads and writes are scoped to one company/tenant ``pair``.

The store is composed of one mixin per concern: links (:mod:`trestle.models.links`), manual links
and their events (:mod:`trestle.models.manual_links`), write intents (:mod:`trestle.models.intents`),
review issues (:mod:`trestle.models.issues`) and the run lease (:mod:`trestle.models.lease`). What
spans several of them (a batch's outcome), and the small parts (cursors, tokens, runs), live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from trestle.models.intents import IntentsMixin
from trestle.models.issues import IssuesMixin
from trestle.models.lease import LeaseMixin
from trestle.models.links import LinkRow
from trestle.models.manual_links import ManualLinksMixin
from trestle.models.tables import Cursor, OAuthToken, Run, WriteIntent
from trestle.timeutil import utcnow


class LinkStore(ManualLinksMixin, IntentsMixin, IssuesMixin, LeaseMixin):
    """Links, intents, review issues, cursors, tokens and run locks for one ``pair``."""

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
