"""The Xero simulator app: wiring of state, identity, rate limits, writes and routes.

Middleware order, outermost first: the *gate* (Bearer/tenant checks, rate limits, rate-limit
headers, ``Xero-Correlation-Id``) → the common sandbox layer (stats, latency, injected faults,
lost responses) → strict mode (requests and answers checked against the OpenAPI, ``strict.py``)
→ the write guard (body size, Idempotency-Key replay) → routes. The gate sits
outside the latency so the 5-in-flight limit sees requests that are really concurrent; it
records its own refusals in the request stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response

from trestle.sandbox.common import SandboxRuntime, install_common
from trestle.sandbox.scenario import build_scenario
from trestle.sandbox.xero import attachments, control, routes_setup, routes_transactions, web
from trestle.sandbox.xero.auth import XeroIdentity
from trestle.sandbox.xero.limits import RateLimiter
from trestle.sandbox.xero.query import QueryError
from trestle.sandbox.xero.seed import build_state
from trestle.sandbox.xero.state import XeroState
from trestle.sandbox.xero.strict import install_strict_mode
from trestle.sandbox.xero.wire import api_exception
from trestle.sandbox.xero.writes import ACCOUNTING_PREFIX, BadRequest, install_write_guard

SAVE_INTERVAL_SECONDS = 2.0


def is_api_path(path: str) -> bool:
    """Whether ``path`` is part of the simulated Accounting API (faults and limits apply)."""
    return path.startswith(ACCOUNTING_PREFIX)


def object_counts(state: XeroState) -> dict[str, int]:
    """Entity counts for ``/_sandbox/stats``."""
    counts = {
        "contacts": len(state.contacts),
        "contact_groups": sum(1 for g in state.contact_groups.values() if g["Status"] == "ACTIVE"),
        "tracking_categories": sum(1 for c in state.tracking_categories.values() if c["Status"] != "DELETED"),
        "tracking_options": sum(
            1
            for c in state.tracking_categories.values()
            if c["Status"] != "DELETED"
            for o in c["Options"]
            if o["Status"] != "DELETED"
        ),
        "invoices": len(state.invoices),
        "credit_notes": len(state.credit_notes),
        "purchase_orders": len(state.purchase_orders),
        "invoice_attachments": sum(
            len(invoice.get(attachments.ATTACHMENTS_KEY) or []) for invoice in state.invoices.values()
        ),
        "payments": len(state.payments),
        "accounts": len(state.accounts),
        "tax_rates": len(state.tax_rates),
    }
    for category in state.tracking_categories.values():
        if category["Status"] != "DELETED":
            counts[f"tracking_options:{category['Name']}"] = sum(
                1 for o in category["Options"] if o["Status"] != "DELETED"
            )
    return counts


def create_app(runtime: SandboxRuntime) -> FastAPI:
    """Build the Xero simulator for ``runtime`` (state from ``--state-dir`` or from the scenario)."""
    saved_revision = {"value": -1}

    def save_if_changed() -> None:
        state: XeroState = app.state.xero
        if runtime.state_file is not None and state.revision != saved_revision["value"]:
            runtime.save_state(state)
            saved_revision["value"] = state.revision

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def saver() -> None:
            while True:
                await asyncio.sleep(SAVE_INTERVAL_SECONDS)
                save_if_changed()

        task = asyncio.create_task(saver())
        try:
            yield
        finally:
            task.cancel()
            save_if_changed()

    app = FastAPI(
        title="Xero Accounting API (Trestle sandbox)",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    loaded = runtime.load_state()
    app.state.xero = (
        loaded if isinstance(loaded, XeroState) else build_state(build_scenario(runtime.dataset, runtime.seed))
    )
    identity = XeroIdentity(runtime, lambda: app.state.xero)
    limiter = RateLimiter(runtime)
    app.state.xero_limiter = limiter

    def reset(dataset: str, seed: int) -> None:
        app.state.xero = build_state(build_scenario(dataset, seed))
        limiter.reset()

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> Response:
        return exc.response

    @app.exception_handler(QueryError)
    async def bad_query(_request: Request, exc: QueryError) -> Response:
        return api_exception("QueryParseException", str(exc), error_number=16)

    install_write_guard(app, lambda: app.state.xero)
    install_strict_mode(app, runtime)
    install_common(
        app, runtime, object_counts=lambda: object_counts(app.state.xero), reset=reset, is_api_path=is_api_path
    )
    _install_gate(app, runtime, identity, limiter)
    app.include_router(identity.router())
    app.include_router(routes_setup.router)
    app.include_router(attachments.router)
    app.include_router(routes_transactions.router)
    app.include_router(control.router)
    app.include_router(web.router)
    return app


def _install_gate(app: FastAPI, runtime: SandboxRuntime, identity: XeroIdentity, limiter: RateLimiter) -> None:
    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not is_api_path(request.url.path):
            return await call_next(request)
        correlation = {"Xero-Correlation-Id": str(uuid.uuid4())}
        failure, tenant_id = identity.check_accounting(request)
        if failure is not None:
            runtime.stats.record(request.method, request.url.path, failure.status_code)
            failure.headers.update(correlation)
            return failure
        admission = limiter.admit(tenant_id)
        if not admission.allowed:
            runtime.stats.record(request.method, request.url.path, 429)
            return Response(
                "Rate limit exceeded", status_code=429, media_type="text/plain", headers=admission.headers | correlation
            )
        try:
            response = await call_next(request)
        finally:
            limiter.release(tenant_id, admission)
        response.headers.update(admission.headers | correlation)
        return response
