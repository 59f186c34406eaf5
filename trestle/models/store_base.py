"""What every part of the link store shares: the engine, the ``pair`` it is scoped to, and sessions.

The store's parts (links, manual links, intents, issues, the run lease) are mixins of
:class:`StoreBase`, composed into :class:`~trestle.models.store.LinkStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


class StoreBase:
    """One ``pair``'s access to the database: every method of the store runs in :meth:`session`."""

    def __init__(self, engine: Engine, pair: str) -> None:
        self.engine = engine
        self.pair = pair
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session
