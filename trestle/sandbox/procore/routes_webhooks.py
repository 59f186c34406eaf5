"""Webhooks API routes (``/rest/v1.0/webhooks/hooks``), per Procore's developer documentation.

Hooks: ``GET`` (list; ``company_id`` or ``project_id``, ``namespace``), ``POST`` (create: ``{"company_id"
| "project_id", "hook": {"api_version", "namespace", "destination_url", "destination_headers"}}``),
``PATCH``/``DELETE /{hook_id}``. Triggers: ``GET``/``POST /{hook_id}/triggers`` (``{"company_id",
"api_version", "trigger": {"resource_name", "event_type"}}``), ``DELETE /{hook_id}/triggers/{id}``.
Deliveries: ``GET /{hook_id}/deliveries`` (``filters[status]`` any|successful|discarded|failing,
``page_size`` (default 100) and ``page_start`` (the last id of the previous page)).

These operations are absent from the OpenAPI extract, so strict mode (:mod:`.strict`) leaves them
to this module, which refuses what the documentation does not describe: an unknown query
parameter or body field (400, strict mode only), a namespace outside ``[a-z-]``, a resource or
event type the resource list does not offer, a second identical trigger (422), another company
(403), a scope naming neither or both of company and project (400). Choices where the docs are
silent are in docs/FIDELITY.md ("Webhooks").
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..common import SandboxRuntime
from .auth import bearer_token
from .paging import link_header
from .routing import check_company, json_body, state_of
from .state import ApiError, ValidationFailed
from .webhooks import API_VERSIONS, COMPANY_RESOURCES, RESOURCES, WebhookHub
from .wire import to_wire

router = APIRouter()
BASE = "/rest/v1.0/webhooks/hooks"
NAMESPACE = re.compile(r"^[a-z-]+$")
DEFAULT_NAMESPACE = "procore"
TRIGGERS_MAX_PER_PAGE = 100
DELIVERIES_PAGE_SIZE = 100
HOOK_FIELDS = ("api_version", "namespace", "destination_url", "destination_headers")
STATUS_OUTCOMES = {
    "any": ("ok", "retried", "failed", "discarded"),
    "successful": ("ok",),
    "failing": ("retried", "failed"),
    "discarded": ("discarded",),
}


def hub_of_app(app: FastAPI) -> WebhookHub:
    """The app's webhooks (made on first use, forgotten when the sandbox is reset)."""
    hub: WebhookHub | None = getattr(app.state, "procore_webhooks", None)
    if hub is None:
        hub = app.state.procore_webhooks = WebhookHub()
    return hub


def application_of(request: Request, runtime: SandboxRuntime) -> str | None:
    """The OAuth client (application) a REST call was made by; None for the control plane."""
    token = bearer_token(request) if request.url.path.startswith("/rest/") else None
    if token is None:
        return None
    _, issued = runtime.tokens.check(token)
    return issued.client_id if issued is not None else None


def hub_of(request: Request) -> WebhookHub:
    """The webhooks of the app serving ``request``."""
    return hub_of_app(request.app)


def _strict(request: Request, allowed: set[str], body: dict[str, Any] | None = None, inner: str | None = None) -> None:
    runtime = getattr(request.app.state, "procore_runtime", None)
    if runtime is not None and not runtime.strict:
        return
    unknown = sorted({name for name in request.query_params if name not in allowed})
    if body is not None:
        unknown += sorted(f"body.{name}" for name in body if name not in allowed | ({inner} if inner else set()))
    if unknown:
        raise ApiError(400, f"strict mode: {request.method} {request.url.path}: undocumented {', '.join(unknown)}")


def _scope(request: Request, body: dict[str, Any] | None = None) -> tuple[int | None, int | None]:
    """(company_id, project_id) of a call: exactly one of them, from the query or the body."""
    state = state_of(request)
    source: dict[str, Any] = {**request.query_params, **(body or {})}
    company, project = source.get("company_id"), source.get("project_id")
    if (company in (None, "")) == (project in (None, "")):
        raise ApiError(400, "You must supply either a company_id or project_id")
    try:
        if company not in (None, ""):
            company_id = int(str(company))
            check_company(state, company_id)
            return company_id, None
        project_id = int(str(project))
    except ValueError as exc:
        raise ApiError(400, "company_id and project_id must be integers") from exc
    state.project(project_id)  # 404 for a project the company does not have
    return None, project_id


def _hook(request: Request, hook_id: int, scope: tuple[int | None, int | None]) -> dict[str, Any]:
    hook = hub_of(request).hooks.get(hook_id)
    if hook is None or (hook["owned_by_company_id"], hook["owned_by_project_id"]) != _owner(request, scope):
        raise ApiError(404, "Hook not found")
    return hook


def _owner(request: Request, scope: tuple[int | None, int | None]) -> tuple[int, int | None]:
    return state_of(request).company_id, scope[1]


def _page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    try:
        per_page = min(
            max(1, int(request.query_params.get("per_page") or TRIGGERS_MAX_PER_PAGE)), TRIGGERS_MAX_PER_PAGE
        )
        page = max(1, int(request.query_params.get("page") or 1))
    except ValueError as exc:
        raise ApiError(400, "page and per_page must be integers") from exc
    last = max(1, math.ceil(len(items) / per_page))
    headers = {"Total": str(len(items)), "Per-Page": str(per_page), "Link": link_header(request, page, last, per_page)}
    return JSONResponse(to_wire(items[(page - 1) * per_page : page * per_page]), headers=headers)


def _hook_values(hook: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(hook, dict):
        raise ApiError(400, "param is missing or the value is empty: hook")
    unknown = sorted(set(hook) - set(HOOK_FIELDS))
    if unknown:
        raise ApiError(400, f"Unknown hook attributes: {', '.join(unknown)}")
    errors: dict[str, list[str]] = {}
    values = {key: hook[key] for key in HOOK_FIELDS if key in hook}
    if creating:
        values.setdefault("namespace", DEFAULT_NAMESPACE)
        values.setdefault("destination_headers", {})
    url = values.get("destination_url")
    if (creating or "destination_url" in values) and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        errors["destination_url"] = ["must be an http(s) URL"]
    if creating and values.get("api_version") not in API_VERSIONS:
        errors["api_version"] = [f"must be one of {', '.join(API_VERSIONS)}"]
    namespace = values.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not NAMESPACE.match(namespace)):
        errors["namespace"] = ["may contain lowercase letters a-z and dashes only"]
    headers = values.get("destination_headers")
    if headers is not None and (
        not isinstance(headers, dict) or not all(isinstance(v, str) and isinstance(k, str) for k, v in headers.items())
    ):
        errors["destination_headers"] = ["must be an object of header names to string values"]
    if errors:
        raise ValidationFailed(errors)
    return values


@router.get(BASE)
async def list_hooks(request: Request) -> Response:
    """The hooks of a company (or project) in one namespace (``procore`` when none is given)."""
    _strict(request, {"company_id", "project_id", "namespace", "api_version"})
    scope = _scope(request)
    namespace = request.query_params.get("namespace") or DEFAULT_NAMESPACE
    owner = _owner(request, scope)
    hooks = [
        hook
        for hook in hub_of(request).hooks.values()
        if hook["namespace"] == namespace and (hook["owned_by_company_id"], hook["owned_by_project_id"]) == owner
    ]
    return JSONResponse(to_wire(hooks))


@router.post(BASE)
async def create_hook(request: Request) -> Response:
    """A new hook for a company or project; events start being made from now on."""
    body = await json_body(request)
    _strict(request, {"company_id", "project_id"}, body, "hook")
    scope = _scope(request, body)
    hub = hub_of(request)
    state = state_of(request)
    values = _hook_values(body.get("hook"), creating=True)
    company_id, project_id = _owner(request, scope)
    hook = {
        "id": hub.new_id(),
        **values,
        "owned_by_company_id": company_id,
        "owned_by_project_id": project_id,
        "owned_by_user_id": state.me.get("id"),
    }
    hub.hooks[hook["id"]] = hook
    hub.start_watching(state)
    return JSONResponse(to_wire(hook), status_code=201)


@router.patch(BASE + "/{hook_id}")
async def update_hook(request: Request, hook_id: int) -> Response:
    """Change a hook's destination, headers or payload version."""
    body = await json_body(request)
    _strict(request, {"company_id", "project_id"}, body, "hook")
    hook = _hook(request, hook_id, _scope(request, body))
    hook.update(_hook_values(body.get("hook"), creating=False))
    return JSONResponse(to_wire(hook))


@router.delete(BASE + "/{hook_id}")
async def delete_hook(request: Request, hook_id: int) -> Response:
    """Remove a hook, its triggers, its queue and its history."""
    _strict(request, {"company_id", "project_id"})
    hub = hub_of(request)
    _hook(request, hook_id, _scope(request))
    del hub.hooks[hook_id]
    for trigger_id in [t for t, trigger in hub.triggers.items() if trigger["webhook_hook_id"] == hook_id]:
        del hub.triggers[trigger_id]
    hub.queues.pop(hook_id, None)
    hub.deliveries[:] = [d for d in hub.deliveries if d["webhook_hook_id"] != hook_id]
    return Response(status_code=204)


@router.get(BASE + "/{hook_id}/triggers")
async def list_triggers(request: Request, hook_id: int) -> Response:
    """A hook's triggers (``page``/``per_page``, at most 100 a page)."""
    _strict(request, {"company_id", "project_id", "page", "per_page"})
    hook = _hook(request, hook_id, _scope(request))
    triggers = [t for t in hub_of(request).triggers.values() if t["webhook_hook_id"] == hook["id"]]
    return _page(request, sorted(triggers, key=lambda trigger: trigger["id"]))


@router.post(BASE + "/{hook_id}/triggers")
async def create_trigger(request: Request, hook_id: int) -> Response:
    """A trigger: which resource and event type make events for the hook."""
    body = await json_body(request)
    _strict(request, {"company_id", "project_id", "api_version"}, body, "trigger")
    scope = _scope(request, body)
    hook = _hook(request, hook_id, scope)
    trigger = body.get("trigger")
    if not isinstance(trigger, dict):
        raise ApiError(400, "param is missing or the value is empty: trigger")
    resource, event_type = trigger.get("resource_name"), trigger.get("event_type")
    if set(trigger) - {"resource_name", "event_type"}:
        raise ApiError(
            400, "Unknown trigger attributes: " + ", ".join(sorted(set(trigger) - {"resource_name", "event_type"}))
        )
    if resource not in RESOURCES or (scope[1] is not None and resource in COMPANY_RESOURCES):
        raise ValidationFailed({"resource_name": [f"is not a webhook resource at this scope: {resource}"]})
    if event_type not in RESOURCES[str(resource)]:
        raise ValidationFailed({"event_type": [f"{resource} offers {', '.join(RESOURCES[str(resource)])}"]})
    hub = hub_of(request)
    if any(
        t["webhook_hook_id"] == hook_id and t["resource_name"] == resource and t["event_type"] == event_type
        for t in hub.triggers.values()
    ):
        raise ValidationFailed({"resource_name": ["has already been taken"]})
    state = state_of(request)
    record = {
        "id": hub.new_id(),
        "webhook_hook_id": hook["id"],
        "resource_name": resource,
        "resource_id": None,
        "event_type": event_type,
        "company_id": state.company_id,
        "project_id": scope[1],
        "user_id": state.me.get("id"),
    }
    hub.triggers[record["id"]] = record
    return JSONResponse(to_wire(record), status_code=201)


@router.delete(BASE + "/{hook_id}/triggers/{trigger_id}")
async def delete_trigger(request: Request, hook_id: int, trigger_id: int) -> Response:
    """Remove one trigger of a hook."""
    _strict(request, {"company_id", "project_id"})
    _hook(request, hook_id, _scope(request))
    hub = hub_of(request)
    trigger = hub.triggers.get(trigger_id)
    if trigger is None or trigger["webhook_hook_id"] != hook_id:
        raise ApiError(404, "Trigger not found")
    del hub.triggers[trigger_id]
    return Response(status_code=204)


@router.get(BASE + "/{hook_id}/deliveries")
async def list_deliveries(request: Request, hook_id: int) -> Response:
    """A hook's delivery attempts, oldest first, ``page_size`` at a time after ``page_start``."""
    _strict(request, {"company_id", "project_id", "filters[status]", "page_size", "page_start"})
    _hook(request, hook_id, _scope(request))
    status = request.query_params.get("filters[status]") or "any"
    if status not in STATUS_OUTCOMES:
        raise ApiError(400, f"filters[status] must be one of {', '.join(STATUS_OUTCOMES)}")
    try:
        size = max(1, int(request.query_params.get("page_size") or DELIVERIES_PAGE_SIZE))
        start = int(request.query_params.get("page_start") or 0)
    except ValueError as exc:
        raise ApiError(400, "page_size and page_start must be integers") from exc
    wanted = STATUS_OUTCOMES[status]
    found = [
        {key: value for key, value in delivery.items() if key != "webhook_hook_id"}
        for delivery in hub_of(request).deliveries
        if delivery["webhook_hook_id"] == hook_id and delivery["outcome"] in wanted and delivery["id"] > start
    ]
    return JSONResponse(to_wire(found[: min(size, DELIVERIES_PAGE_SIZE)]))


@router.post("/_sandbox/webhooks", include_in_schema=False)
async def webhook_settings(request: Request) -> Response:
    """Control plane: shorten the retry window and first backoff (``{"retry_window_seconds",
    "backoff_start_seconds"}``) so a test sees a queue given up on without waiting 24 hours."""
    body = await json_body(request)
    hub = hub_of(request)
    if "retry_window_seconds" in body:
        hub.retry_window = float(body["retry_window_seconds"])
    if "backoff_start_seconds" in body:
        hub.backoff_start = float(body["backoff_start_seconds"])
    return JSONResponse({"retry_window_seconds": hub.retry_window, "backoff_start_seconds": hub.backoff_start})
