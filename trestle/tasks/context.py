"""One run's context: settings, the link store, both API clients, call counting, links.

Built once per flow run and handed to every task, so a run opens one database engine and one
HTTP connection pool per system, and counts every API call in one :class:`ApiUsage`.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import Engine

from trestle.clients.auth import (
    Authenticator,
    ClientCredentialsAuthenticator,
    RefreshTokenAuthenticator,
)
from trestle.clients.pacing import ApiUsage, ProcorePacer, RateLimitPacer, SharedBudgetPacer, XeroPacer
from trestle.clients.procore import ProcoreClient
from trestle.clients.xero import XeroClient
from trestle.db import check_schema, make_engine
from trestle.links import WebLinks
from trestle.models.links import LinkRow
from trestle.models.store import LinkStore
from trestle.models.tokens import reset_command, token_store_for
from trestle.settings import TrestleSettings, load_settings
from trestle.tasks.limits import SharedLimit, ensure_shared_limits, shared_limits_enabled, shared_limits_for, slot_taker

logger = logging.getLogger("trestle")

_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per database URL per process (pools are shared across runs and tasks)."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


@dataclass
class RunOptions:
    """What a caller can vary per run (flow parameters)."""

    dry_run: bool = False
    full_refresh: bool = False
    project_ids: set[int] | None = None  # single-project runs: only these projects
    ignore_stage_gate: bool = False  # single-project runs: link the project whatever its stage
    record_ids: tuple[str, ...] | None = None  # one-record runs: only these source records, no cursor moved
    lock_wait_seconds: float = 600.0


class PlannedLinks:
    """The links a dry run would have made, so later integrations see what a real run would have
    linked by then (a vendor matched, a project's option, an order). Never stored.

    A created record has no target yet: it gets a placeholder id, negative for Procore (whose ids
    are numbers) and ``planned-N`` for Xero, that no real record can have.
    """

    def __init__(self) -> None:
        self._links: dict[str, dict[tuple[str, str], LinkRow]] = {}
        self._numbers = itertools.count(1)

    def placeholder(self, system: str) -> str:
        """A target id for a record the dry run would create in ``system``."""
        number = next(self._numbers)
        return str(-number) if system == "procore" else f"planned-{number}"

    def add(self, links: Sequence[LinkRow]) -> None:
        """Remember ``links`` (a planned update replaces the stored link's payload)."""
        for link in links:
            self._links.setdefault(link.entity, {})[(link.procore_id, link.xero_id)] = link

    def over(self, entity: str, stored: Sequence[LinkRow]) -> list[LinkRow]:
        """``stored`` links of ``entity`` with the planned ones laid over them."""
        planned = self._links.get(entity)
        if not planned:
            return list(stored)
        merged = {(link.procore_id, link.xero_id): link for link in stored}
        merged.update(planned)
        return list(merged.values())


_SHARED_PLAN: ContextVar[PlannedLinks | None] = ContextVar("trestle_shared_plan", default=None)


@contextmanager
def shared_planned_links() -> Iterator[PlannedLinks]:
    """Within this block every dry-run context shares one :class:`PlannedLinks`: how a dry
    nightly's integrations (run in this process, one context each) see each other's planned links."""
    token = _SHARED_PLAN.set(PlannedLinks())
    try:
        plan = _SHARED_PLAN.get()
        assert plan is not None
        yield plan
    finally:
        _SHARED_PLAN.reset(token)


class NightScope:
    """What the runs of one nightly flow share, one context per integration notwithstanding.

    One API client per pair and system (so one token, one pacer that sees every call of the
    night, one usage counter whose snapshots still give each integration its own calls), and
    :attr:`shared`: read-only data that cannot change during the night and that several
    integrations read (a project's cost codes, Xero contacts). Closed when the night ends.

    Also the night's settings per pair (:attr:`settings`: read once, so one night runs on one
    configuration and its secret blocks are read once) and the databases whose schema was
    checked (:attr:`checked_databases`: once a night, not once per integration).
    """

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], XeroClient | ProcoreClient] = {}
        self.usage: dict[str, ApiUsage] = {}
        self.shared: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, TrestleSettings] = {}
        self.checked_databases: set[str] = set()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


_NIGHT: ContextVar[NightScope | None] = ContextVar("trestle_night_scope", default=None)


def night_settings(pair: str | None) -> TrestleSettings:
    """``pair``'s settings: those the current night has read already, else read now (and kept
    for the rest of the night, when there is one)."""
    night = _NIGHT.get()
    if night is None or not pair:
        return load_settings(pair)
    if pair not in night.settings:
        night.settings[pair] = load_settings(pair)
    return night.settings[pair]


@contextmanager
def night_scope() -> Iterator[NightScope]:
    """Within this block every run context of a pair shares one :class:`NightScope` (the nightly
    flow's integrations run in this process, in this block)."""
    scope = NightScope()
    token = _NIGHT.set(scope)
    try:
        yield scope
    finally:
        _NIGHT.reset(token)
        scope.close()


class RunContext:
    """Everything a task needs; a plain class so Prefect passes it by reference untouched."""

    def __init__(
        self,
        settings: TrestleSettings,
        options: RunOptions | None = None,
        *,
        run_id: str | None = None,
        store: LinkStore | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or RunOptions()
        self.run_id = run_id or uuid.uuid4().hex
        self._night = _NIGHT.get()
        self.usage = self._night.usage.setdefault(settings.pair, ApiUsage()) if self._night else ApiUsage()
        if store is None:
            url = settings.database_url or ""
            engine = engine_for(url)
            if self._night is None or url not in self._night.checked_databases:
                check_schema(engine)
                if self._night is not None:
                    self._night.checked_databases.add(url)
            store = LinkStore(engine, settings.pair)
        self.store = store
        self.links = WebLinks(
            procore_web_url=settings.procore.web_url,
            procore_company_id=settings.procore.company_id,
            xero_web_url=settings.xero.web_url,
        )
        self.cache: dict[str, Any] = {}  # lookups integrations share within a run (e.g. tracking categories)
        # what cannot change during a night and several integrations read (see NightScope.shared)
        self.shared: dict[str, Any] = self._night.shared.setdefault(settings.pair, {}) if self._night else {}
        self.planned = (_SHARED_PLAN.get() or PlannedLinks()) if self.options.dry_run else None
        self.shared_limits: dict[str, SharedLimit] = {}
        if shared_limits_enabled(settings):
            self.shared_limits = shared_limits_for(settings)
            ensure_shared_limits(self.shared_limits)

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def pair(self) -> str:
        return self.settings.pair

    @cached_property
    def xero(self) -> XeroClient:
        shared = self._night.clients.get((self.pair, "xero")) if self._night else None
        if isinstance(shared, XeroClient):
            return shared
        settings = self.settings.xero
        client = XeroClient(
            api_url=settings.api_url,
            identity_url=settings.identity_url,
            tenant_id=settings.tenant_id or "",
            authenticator=self._authenticator("xero"),
            usage=self.usage,
            pacer=self._shared("xero", XeroPacer(usage=self.usage)),
        )
        if self._night is not None:
            self._night.clients[(self.pair, "xero")] = client
        return client

    @cached_property
    def procore(self) -> ProcoreClient:
        shared = self._night.clients.get((self.pair, "procore")) if self._night else None
        if isinstance(shared, ProcoreClient):
            return shared
        settings = self.settings.procore
        client = ProcoreClient(
            api_url=settings.api_url,
            company_id=settings.company_id or 0,
            authenticator=self._authenticator("procore"),
            usage=self.usage,
            pacer=self._shared("procore", ProcorePacer(usage=self.usage)),
        )
        if self._night is not None:
            self._night.clients[(self.pair, "procore")] = client
        return client

    def _shared(self, system: str, own: RateLimitPacer) -> RateLimitPacer:
        """``own`` pacing, behind the install-wide budget when shared limits are on."""
        limit = self.shared_limits.get(system)
        if limit is None:
            return own
        return SharedBudgetPacer(own, slot_taker(limit), system=system, usage=self.usage)

    def _authenticator(self, system: str) -> Authenticator:
        settings = self.settings.xero if system == "xero" else self.settings.procore
        credentials_in: Literal["basic", "body"]
        if system == "xero":
            token_url = f"{self.settings.xero.identity_url}/connect/token"
            credentials_in = "basic"
        else:
            token_url = f"{self.settings.procore.login_url}/oauth/token"
            credentials_in = "body"
        secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
        if settings.auth_mode == "refresh_token":
            tokens = token_store_for(self.settings, self.store)
            tokens.seed(system, settings.refresh_token.get_secret_value() if settings.refresh_token else None)
            return RefreshTokenAuthenticator(
                token_url,
                settings.client_id or "",
                secret,
                store=tokens,
                key=system,
                credentials_in=credentials_in,
                system=system,
                reauthorise=reset_command(self.pair),
            )
        scope = self.settings.xero.scopes if system == "xero" else None
        return ClientCredentialsAuthenticator(
            token_url,
            settings.client_id or "",
            secret,
            scope=scope,
            credentials_in=credentials_in,
            system=system,
        )

    def close(self) -> None:
        """Close this run's clients (those of a night scope stay open until the night ends)."""
        if self._night is not None:
            return
        for name in ("xero", "procore"):
            client = self.__dict__.get(name)
            if client is not None:
                client.close()
