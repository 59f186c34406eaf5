"""The Procore simulator app: state, persistence, error answers and every router put together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..common import WRITE_METHODS, SandboxRuntime, install_common
from ..scenario import build_scenario
from . import (
    authorize,
    control,
    routes_attachments,
    routes_change_orders,
    routes_commitments,
    routes_company,
    routes_cost_codes,
    routes_invoicing,
    routes_webhooks,
    web,
)
from .auth import DEFAULT_TOKEN_TTL, OAuthServer, oauth_router
from .guard import RateLimiter, RateLimits, install_guard
from .seed import build_state
from .spec import load_spec
from .state import ApiError, ProcoreState, ValidationFailed
from .strict import install_strict

SAVE_DELAY_SECONDS = 1.0


def is_api_path(path: str) -> bool:
    """Whether ``path`` is part of the simulated REST API (faults and latency apply there only)."""
    return path.startswith("/rest/")


class StateSaver:
    """Debounced persistence: saves at most once per second after writes, and at shutdown."""

    def __init__(self, app: FastAPI, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self._pending: asyncio.TimerHandle | None = None

    def schedule(self) -> None:
        """Save soon (coalescing bursts of writes into one save)."""
        if self.runtime.state_file is None or self._pending is not None:
            return
        self._pending = asyncio.get_running_loop().call_later(SAVE_DELAY_SECONDS, self.flush)

    def flush(self) -> None:
        """Save now."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.runtime.save_state(self.app.state.procore)


def _install_error_answers(app: FastAPI) -> None:
    def status(request: Request, wanted: int) -> int:
        return load_spec().error_status(request.method, request.url.path, wanted)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse({"errors": exc.message}, status_code=status(request, exc.status))

    @app.exception_handler(ValidationFailed)
    async def validation_failed(request: Request, exc: ValidationFailed) -> Response:
        return JSONResponse({"errors": exc.errors}, status_code=status(request, exc.status))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        if not is_api_path(request.url.path):
            return HTMLResponse("<h1>Not found</h1>", status_code=404)
        names = sorted({str(error["loc"][-1]) for error in exc.errors()})
        return JSONResponse({"errors": f"Invalid parameter: {', '.join(names)}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_api_path(request.url.path) and exc.status_code == 404:
            return HTMLResponse("<h1>Not found</h1><p>No such page in the Procore sandbox.</p>", 404)
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"errors": message}, status_code=exc.status_code)


def create_app(
    runtime: SandboxRuntime,
    *,
    rate_limits: RateLimits | None = None,
    token_ttl: int = DEFAULT_TOKEN_TTL,
) -> FastAPI:
    """The Procore simulator for ``runtime`` (state from ``--state-dir`` if saved, else the scenario).

    ``rate_limits`` and ``token_ttl`` exist so tests can use small budgets and short-lived tokens.
    """
    saver: StateSaver | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await routes_webhooks.hub_of_app(app).stop()
        if saver is not None:
            saver.flush()

    app = FastAPI(title="Procore sandbox", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    loaded = runtime.load_state()
    app.state.procore = (
        loaded if isinstance(loaded, ProcoreState) else build_state(build_scenario(runtime.dataset, runtime.seed))
    )
    saver = StateSaver(app, runtime)
    oauth = OAuthServer(runtime, token_ttl=token_ttl)
    app.state.procore_oauth = oauth

    def reset(dataset: str, seed: int) -> None:
        app.state.procore = build_state(build_scenario(dataset, seed))
        runtime.dataset, runtime.seed = dataset, seed
        routes_webhooks.hub_of_app(app).forget()
        saver.flush()

    install_strict(app, runtime)  # first installed = innermost: it sees what the routes answer
    app.state.procore_runtime = runtime

    @app.middleware("http")
    async def webhook_events(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.method in WRITE_METHODS and not request.url.path.startswith("/oauth"):
            # API writes and control-plane edits (a person in the web app: no application) alike
            application = routes_webhooks.application_of(request, runtime)
            routes_webhooks.hub_of_app(app).detect(app.state.procore, application)
        return response

    @app.middleware("http")
    async def persist_writes(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if is_api_path(request.url.path) and request.method in WRITE_METHODS and response.status_code < 400:
            saver.schedule()
        return response

    install_guard(
        app, runtime, oauth, RateLimiter(runtime, rate_limits or RateLimits()), lambda: app.state.procore.company_id
    )
    install_common(
        app,
        runtime,
        object_counts=lambda: app.state.procore.object_counts(),
        reset=reset,
        is_api_path=is_api_path,
    )
    _install_error_answers(app)
    authorize.install(app, oauth)  # people signing in (the portal); before the app-grant routes
    app.include_router(oauth_router(oauth))
    modules = (routes_company, routes_cost_codes, routes_commitments, routes_change_orders, routes_invoicing)
    for module in (*modules, routes_webhooks):
        app.include_router(module.router)
    app.include_router(control.router)
    routes_attachments.install(app)
    app.include_router(web.router)  # last: its paths are the most general
    return app
