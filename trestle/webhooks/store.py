"""Queries on the change feed's tables for one pair: the registered hook, events stored once.

The hook's secret is never stored: :func:`secret_hash` is what is kept and compared, so a copy
of the database cannot be used to forge deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from trestle.timeutil import to_utc, utcnow
from trestle.webhooks.tables import WebhookEvent, WebhookHook

EVENT_TYPES = ("create", "update", "delete")


def secret_hash(header_value: str) -> str:
    """The SHA-256 (hex) of an Authorization header value: what the store keeps instead of it."""
    return hashlib.sha256(header_value.encode("utf-8")).hexdigest()


class BadEvent(ValueError):
    """A delivery whose body is not a Procore event (the reason says which field)."""


@dataclass(frozen=True)
class StoredHook:
    """The hook registered for a pair (no secret: only its hash)."""

    hook_id: str
    namespace: str
    destination_url: str
    secret_sha256: str
    installed_at: datetime

    def accepts(self, header_value: str | None) -> bool:
        """Whether a delivery's Authorization header is the one registered (constant-time)."""
        return header_value is not None and hmac.compare_digest(secret_hash(header_value), self.secret_sha256)


@dataclass(frozen=True)
class Event:
    """The fields of a delivered event the feed keeps."""

    key: str
    resource_name: str
    resource_id: str
    event_type: str
    project_id: str | None
    occurred_at: datetime | None
    source_application_id: str | None = None

    @classmethod
    def parse(cls, payload: Any) -> Event:
        """An event from a delivery body (Procore's legacy v2.0/v3.0 payload); :class:`BadEvent` if it is not one."""
        if not isinstance(payload, Mapping):
            raise BadEvent("an event must be a JSON object")
        ulid, event_id = payload.get("ulid"), payload.get("id")
        if isinstance(ulid, str) and 10 <= len(ulid) <= 40:
            key = ulid
        elif isinstance(event_id, int | str) and str(event_id):
            key = f"id:{event_id}"
        else:
            raise BadEvent("the event has neither ulid nor id")
        resource, resource_id, event_type = (payload.get(k) for k in ("resource_name", "resource_id", "event_type"))
        if not isinstance(resource, str) or not resource or len(resource) > 100:
            raise BadEvent("resource_name is missing")
        if not isinstance(resource_id, int | str) or not str(resource_id) or len(str(resource_id)) > 40:
            raise BadEvent("resource_id is missing")
        if event_type not in EVENT_TYPES:
            raise BadEvent(f"event_type must be one of {', '.join(EVENT_TYPES)}")
        project = payload.get("project_id")
        metadata = payload.get("metadata")
        application = metadata.get("source_application_id") if isinstance(metadata, Mapping) else None
        return cls(
            key=key,
            resource_name=resource,
            resource_id=str(resource_id),
            event_type=str(event_type),
            project_id=None if project in (None, "") else str(project)[:40],
            occurred_at=_timestamp(payload.get("timestamp")),
            source_application_id=None if application in (None, "") else str(application)[:100],
        )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


@dataclass(frozen=True)
class EventSummary:
    """How many events a pair holds and when the last one arrived (for ``trestle webhooks status``)."""

    count: int
    last_received_at: datetime | None


class FeedStore:
    """The change feed's rows of one pair."""

    def __init__(self, engine: Engine, pair: str) -> None:
        self.engine = engine
        self.pair = pair
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------ hook
    def hook(self) -> StoredHook | None:
        """The hook registered for this pair, if any."""
        with self.session() as session:
            row = session.get(WebhookHook, self.pair)
            if row is None:
                return None
            return StoredHook(row.hook_id, row.namespace, row.destination_url, row.secret_sha256, row.installed_at)

    def save_hook(self, hook_id: str, namespace: str, destination_url: str, header_value: str) -> None:
        """Remember the registered hook and the hash of the header its deliveries carry."""
        with self.session() as session:
            row = session.get(WebhookHook, self.pair)
            if row is None:
                row = WebhookHook(pair=self.pair)
                session.add(row)
            row.hook_id, row.namespace, row.destination_url = hook_id, namespace, destination_url
            row.secret_sha256 = secret_hash(header_value)
            row.installed_at = utcnow()

    def forget_hook(self) -> None:
        """Drop the registered hook (after ``trestle webhooks remove``); events stay for the record."""
        with self.session() as session:
            session.execute(delete(WebhookHook).where(WebhookHook.pair == self.pair))

    # ---------------------------------------------------------------- events
    def record(self, events: Iterable[Event]) -> int:
        """Store each event once (a repeated delivery is a no-op); how many were new."""
        new = 0
        for event in events:
            try:
                with self.session() as session:
                    session.add(
                        WebhookEvent(
                            pair=self.pair,
                            event_key=event.key,
                            resource_name=event.resource_name,
                            resource_id=event.resource_id,
                            event_type=event.event_type,
                            project_id=event.project_id,
                            occurred_at=event.occurred_at,
                            source_application_id=event.source_application_id,
                            received_at=utcnow(),
                        )
                    )
                new += 1
            except IntegrityError:
                continue  # stored before: Procore delivers at least once
        return new

    def changed_projects(self, resources: Iterable[str], since: datetime, *, own_application: str | None) -> set[int]:
        """Projects with an event on ``resources`` received at or after ``since``.

        A ``Projects`` event counts for the project it names (its resource id), so a project
        just linked — or edited — is read by every per-project stream. Events of changes
        ``own_application`` (Trestle's Procore app) made are left out: Trestle wrote them.
        """
        wanted = set(resources)
        query = select(WebhookEvent.resource_name, WebhookEvent.resource_id, WebhookEvent.project_id).where(
            WebhookEvent.pair == self.pair,
            WebhookEvent.received_at >= since,
            WebhookEvent.resource_name.in_(wanted | {"Projects"}),
        )
        if own_application:
            query = query.where(
                or_(WebhookEvent.source_application_id.is_(None), WebhookEvent.source_application_id != own_application)
            )
        with self.session() as session:
            rows = session.execute(query).all()
        found: set[int] = set()
        for resource, resource_id, project_id in rows:
            chosen = resource_id if resource == "Projects" else project_id
            if chosen is not None and str(chosen).isdigit():
                found.add(int(chosen))
        return found

    def summary(self) -> EventSummary:
        """Events held and the last arrival."""
        with self.session() as session:
            count, last = session.execute(
                select(func.count(WebhookEvent.id), func.max(WebhookEvent.received_at)).where(
                    WebhookEvent.pair == self.pair
                )
            ).one()
        return EventSummary(int(count or 0), None if last is None else to_utc(last))
