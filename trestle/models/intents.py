"""Write intents: every write is recorded before it is sent, with its attempt number.

A crash or a lost answer leaves the intent pending, for the next run's recover stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from trestle.models.store_base import StoreBase
from trestle.models.tables import WriteIntent


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


class IntentsMixin(StoreBase):
    """Record, count and list the write intents of one ``pair``."""

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
