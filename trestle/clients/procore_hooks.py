"""Procore's Webhooks API (hooks, triggers, deliveries) on top of :class:`ProcoreClient`'s REST core.

Company-scoped calls only (``company_id`` in the query or body), under one namespace. The
operations are not in Procore's OpenAPI extract; their shapes follow the developer
documentation (docs/FIDELITY.md, "Webhooks"). A hook's ``destination_headers`` carry the secret
deliveries are authenticated with, so :class:`Hook` keeps only the header *names*: the values
never reach a model, a log line or an exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from trestle.clients.errors import MalformedResponseError
from trestle.clients.procore import ProcoreClient

HOOKS = "/rest/v1.0/webhooks/hooks"
API_VERSION = "v2"
DeliveryStatus = Literal["any", "successful", "discarded", "failing"]
DELIVERY_PAGE_SIZE = 100


class Hook(BaseModel):
    """A hook as Trestle keeps it: where deliveries go, and which headers (names only) they carry."""

    model_config = ConfigDict(extra="ignore")

    id: int
    namespace: str | None = None
    api_version: str | None = None
    destination_url: str | None = None
    header_names: list[str] = []
    owned_by_company_id: int | None = None
    owned_by_project_id: int | None = None


class Trigger(BaseModel):
    """One trigger: a resource and an event type that make events for a hook."""

    model_config = ConfigDict(extra="ignore")

    id: int
    resource_name: str
    event_type: str


class DeliveryEvent(BaseModel):
    """The event a delivery carried (the fields Trestle reads)."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    ulid: str | None = None
    timestamp: datetime | None = None
    resource_name: str | None = None
    resource_id: int | None = None
    event_type: str | None = None
    project_id: int | None = None


class Delivery(BaseModel):
    """One delivery attempt from a hook's history."""

    model_config = ConfigDict(extra="ignore")

    id: int
    event_id: int | None = None
    event: DeliveryEvent | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    response_status: str | None = None
    response_error: str | None = None
    outcome: str | None = None


def _hook(payload: Any) -> Hook:
    if not isinstance(payload, Mapping) or "id" not in payload:
        raise MalformedResponseError("procore webhooks: a hook must have an id", system="procore", route=HOOKS)
    headers = payload.get("destination_headers")
    names = sorted(str(name) for name in headers) if isinstance(headers, Mapping) else []
    fields = {key: value for key, value in payload.items() if key != "destination_headers"}
    return Hook.model_validate({**fields, "header_names": names})


class ProcoreHooks:
    """The hooks of one company under one namespace."""

    def __init__(self, client: ProcoreClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    @property
    def _company(self) -> dict[str, Any]:
        return {"company_id": self.client.company_id}

    def _send(self, method: str, path: str, route: str, body: Any = None, *, idempotent: bool) -> Any:
        params = self._company if body is None else None
        response = self.client.request(method, path, route=route, params=params, json=body, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        return self.client.decode_json(response, route=route)

    # ------------------------------------------------------------------ hooks
    def hooks(self) -> list[Hook]:
        """The company's hooks in this namespace."""
        payload = self.client.get_json(HOOKS, route=HOOKS, params={**self._company, "namespace": self.namespace})
        if not isinstance(payload, list):
            raise MalformedResponseError("procore GET webhooks/hooks: expected an array", system="procore", route=HOOKS)
        return [_hook(item) for item in payload]

    def create_hook(self, destination_url: str, headers: Mapping[str, str]) -> Hook:
        """A new company hook (not idempotent: after a lost answer, list the hooks before trying again)."""
        body = {
            **self._company,
            "hook": {
                "api_version": API_VERSION,
                "namespace": self.namespace,
                "destination_url": destination_url,
                "destination_headers": dict(headers),
            },
        }
        return _hook(self._send("POST", HOOKS, HOOKS, body, idempotent=False))

    def update_hook(self, hook_id: int, destination_url: str, headers: Mapping[str, str]) -> Hook:
        """Point a hook at ``destination_url`` with ``headers`` (a PATCH: sending it twice is harmless)."""
        body = {**self._company, "hook": {"destination_url": destination_url, "destination_headers": dict(headers)}}
        return _hook(self._send("PATCH", f"{HOOKS}/{hook_id}", HOOKS + "/{hook_id}", body, idempotent=True))

    def delete_hook(self, hook_id: int) -> None:
        """Remove a hook with its triggers."""
        self._send("DELETE", f"{HOOKS}/{hook_id}", HOOKS + "/{hook_id}", idempotent=True)

    # --------------------------------------------------------------- triggers
    def triggers(self, hook_id: int) -> list[Trigger]:
        """A hook's triggers (every page)."""
        route = HOOKS + "/{hook_id}/triggers"
        pages = self.client.paginate(
            f"{HOOKS}/{hook_id}/triggers",
            route=route,
            params={**self._company, "page": 1, "per_page": 100},
            records=lambda payload: self.client._list(payload, route),
        )
        return [Trigger.model_validate(item) for item in pages]

    def create_trigger(self, hook_id: int, resource_name: str, event_type: str) -> Trigger:
        """A trigger on the hook (a duplicate is refused by Procore, so a resend cannot double it)."""
        body = {
            **self._company,
            "api_version": API_VERSION,
            "trigger": {"resource_name": resource_name, "event_type": event_type},
        }
        route = HOOKS + "/{hook_id}/triggers"
        return Trigger.model_validate(self._send("POST", f"{HOOKS}/{hook_id}/triggers", route, body, idempotent=True))

    def delete_trigger(self, hook_id: int, trigger_id: int) -> None:
        """Remove one trigger."""
        route = HOOKS + "/{hook_id}/triggers/{trigger_id}"
        self._send("DELETE", f"{HOOKS}/{hook_id}/triggers/{trigger_id}", route, idempotent=True)

    # ------------------------------------------------------------- deliveries
    def deliveries(self, hook_id: int, status: DeliveryStatus = "any") -> Iterator[Delivery]:
        """A hook's delivery history, page by page (``page_start`` = the last id of the previous page)."""
        route = HOOKS + "/{hook_id}/deliveries"
        start: int | None = None
        while True:
            params: dict[str, Any] = {**self._company, "filters[status]": status, "page_size": DELIVERY_PAGE_SIZE}
            if start is not None:
                params["page_start"] = start
            payload = self.client.get_json(f"{HOOKS}/{hook_id}/deliveries", route=route, params=params)
            page = [Delivery.model_validate(item) for item in self.client._list(payload, route)]
            yield from page
            if len(page) < DELIVERY_PAGE_SIZE:
                return
            start = page[-1].id
