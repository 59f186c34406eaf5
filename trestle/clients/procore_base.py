"""The Procore client's core: construction, the RestClient hooks and the request plumbing.

:class:`ProcoreBase` is what every group of Procore calls builds on (``procore_commitments.py``,
``procore_direct_costs.py``); :class:`~trestle.clients.procore.ProcoreClient` combines them. How the
calls page, filter, sync and choose views is described in :mod:`trestle.clients.procore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from trestle.clients.auth import Authenticator
from trestle.clients.errors import MalformedResponseError, excerpt
from trestle.clients.http import ErrorDetail, RestClient, RetryPolicy
from trestle.clients.pacing import ApiUsage, ProcorePacer, RateLimitPacer
from trestle.clients.paging import LinkHeaderPaginator, Paginator
from trestle.models.procore import SyncError
from trestle.timeutil import to_utc

PER_PAGE = 1000
SYNC_BATCH_SIZE = 1000
#: The view each read asks for: the narrowest documented one that carries the fields Trestle reads.
VIEWS = {
    # v1.1 projects: 'compact' is only id and name; project_number, stage, active, origin_id need 'normal'
    "projects": "normal",
    # standard cost codes: 'default' is only id and list id; code, full_code, name, origin_id need 'extended'
    "standard_cost_codes": "extended",
    # requisitions v1.1: items[] are "included only when the views query param includes 'extended' or 'items'"
    "requisitions": "items",
}
EntityT = TypeVar("EntityT", bound=BaseModel)


def updated_at_filter(since: datetime, until: datetime | None = None) -> str:
    """``filters[updated_at]`` value: ``<since>...<until>`` in ISO-8601 UTC (until defaults to now)."""
    end = to_utc(until) if until is not None else datetime.now(UTC)
    return f"{to_utc(since):%Y-%m-%dT%H:%M:%SZ}...{end:%Y-%m-%dT%H:%M:%SZ}"


@dataclass
class SyncResult(Generic[EntityT]):
    """Merged answer of one or more sync calls: saved ``entities`` and rejected ``errors``."""

    entities: list[EntityT] = field(default_factory=list)
    errors: list[SyncError] = field(default_factory=list)


def to_wire(item: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A model or mapping as the JSON body Procore takes (fields that are None left out)."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True)
    return dict(item)


class ProcoreBase(RestClient):
    """One company's Procore connection: headers, paging, error details and the request helpers."""

    system = "procore"

    def __init__(
        self,
        *,
        api_url: str = "https://api.procore.com",
        company_id: int,
        authenticator: Authenticator,
        usage: ApiUsage | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: RateLimitPacer | None = None,
        retry: RetryPolicy | None = None,
        per_page: int = PER_PAGE,
        timeout: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        usage = usage or ApiUsage()
        pacer_timing: dict[str, Any] = {
            name: value for name, value in (("sleep", sleep), ("clock", clock)) if value is not None
        }
        timing: dict[str, Any] = {
            name: value
            for name, value in (("sleep", sleep), ("monotonic", monotonic), ("rand", rand))
            if value is not None
        }
        super().__init__(
            base_url=api_url,
            authenticator=authenticator,
            pacer=pacer or ProcorePacer(usage=usage, **pacer_timing),
            retry=retry,
            usage=usage,
            transport=transport,
            timeout=timeout,
            **timing,
        )
        self.company_id = company_id
        self.per_page = per_page

    # -- RestClient hooks -----------------------------------------------------------------------

    def default_headers(self) -> dict[str, str]:
        """JSON plus the company header Procore requires on every call."""
        return {"Accept": "application/json", "Procore-Company-Id": str(self.company_id)}

    def get_new_paginator(self) -> Paginator:
        """Follow ``Link: rel="next"``."""
        return LinkHeaderPaginator()

    def parse_error_detail(self, response: httpx.Response) -> ErrorDetail:
        """``{"errors": …}``, ``{"message": …}``, v2 ``{"error": {…}}`` or plain text (429)."""
        try:
            body = response.json()
        except ValueError:
            return ErrorDetail(detail=excerpt(response.text))
        messages: list[str] = []
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, dict):
                for name, value in errors.items():
                    values = value if isinstance(value, list) else [value]
                    messages.extend(f"{name} {message}" if name != "base" else str(message) for message in values)
            elif isinstance(errors, list):
                messages.extend(str(message) for message in errors)
            elif isinstance(errors, str):
                messages.append(errors)
            nested = body.get("error")
            if isinstance(nested, dict):
                messages.append(str(nested.get("message") or nested.get("code") or ""))
                messages.extend(
                    str(item.get("message")) for item in nested.get("details") or [] if isinstance(item, dict)
                )
            elif isinstance(nested, str):
                messages.append(nested)
            if body.get("message"):
                messages.append(str(body["message"]))
        messages = [message for message in messages if message]
        return ErrorDetail(detail="; ".join(messages) or excerpt(response.text), messages=messages)

    # -- plumbing -------------------------------------------------------------------------------

    def _iter(
        self, path: str, *, route: str | None = None, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        route = route or path
        clean = {name: value for name, value in (params or {}).items() if value is not None}
        return self.paginate(
            path,
            route=route,
            params={**clean, "page": 1, "per_page": self.per_page},
            records=lambda payload: self._list(payload, route),
        )

    def _list(self, payload: Any, route: str) -> list[dict[str, Any]]:
        if not isinstance(payload, list):
            found = sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
            raise MalformedResponseError(
                f"procore {route}: expected a JSON array (found {found})", system=self.system, route=route
            )
        return payload

    def _object(self, payload: Any, route: str) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise MalformedResponseError(
                f"procore {route}: expected a JSON object, got {type(payload).__name__}",
                system=self.system,
                route=route,
            )
        return payload

    def _get(self, path: str, route: str, **params: Any) -> dict[str, Any]:
        return self._object(self.get_json(path, route=route, params=params), route)

    def _write(self, method: str, path: str, route: str, body: Any, *, idempotent: bool, **params: Any) -> Any:
        response = self.request(method, path, route=route, params=params or None, json=body, idempotent=idempotent)
        return None if response.status_code == 204 or not response.content else self.decode_json(response, route=route)

    def _sync(
        self,
        path: str,
        updates: Sequence[BaseModel | Mapping[str, Any]],
        model: type[EntityT],
        *,
        route: str | None = None,
        idempotent: bool = True,
        **extra: Any,
    ) -> SyncResult[EntityT]:
        """Send ``updates`` in batches of :data:`SYNC_BATCH_SIZE`; the merged entities and errors.

        A sync matched by ``id``/``origin_id`` may be resent after a lost answer (the second send
        finds what the first wrote); one that creates records matched by neither is not
        (``idempotent=False``: a lost answer raises OutcomeUnknownError).
        """
        route = route or path
        result: SyncResult[EntityT] = SyncResult()
        wire = [to_wire(update) for update in updates]
        for start in range(0, len(wire), SYNC_BATCH_SIZE):
            body = {**extra, "updates": wire[start : start + SYNC_BATCH_SIZE]}
            payload = self._object(self._write("PATCH", path, route, body, idempotent=idempotent), route)
            entities, errors = payload.get("entities"), payload.get("errors")
            if not isinstance(entities, list) or not isinstance(errors, list):
                raise MalformedResponseError(
                    f"procore PATCH {route}: sync answer lacks 'entities'/'errors' lists",
                    system=self.system,
                    route=route,
                )
            result.entities.extend(model.model_validate(entity) for entity in entities)
            result.errors.extend(SyncError.model_validate(error) for error in errors)
        return result

    @staticmethod
    def _updated(since: datetime | None) -> str | None:
        return updated_at_filter(since) if since is not None else None
