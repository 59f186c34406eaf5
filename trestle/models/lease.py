"""The run lease: one run per pair and integration, held in the database with a renewable lease."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.exc import IntegrityError, OperationalError

from trestle.models.store_base import StoreBase
from trestle.models.tables import RunLock
from trestle.timeutil import to_utc, utcnow


class LockHeld(Exception):
    """Another run holds the lock (same pair and integration); the message names the holder."""


class LeaseLost(Exception):
    """This run's lease ran out and another run took the lock over: stop before writing anything more."""


class LeaseMixin(StoreBase):
    """Take, renew and release the named locks of one ``pair``."""

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
