"""The portal's web application: server-rendered pages behind a Procore sign-in.

Pages: ``/review`` (review issues), ``/records/{pair}/{entity}/{id}`` (one record), ``/runs``
(recent runs, and run forms for people allowed to run), ``/runs/{pair}/flow-runs/{id}`` (one run's
progress), ``/specs`` (integration specifications). ``POST /webhooks/procore/{pair}`` is Procore's
webhook receiver (:mod:`trestle.webhooks.receiver`): no session, its own header check.
Sign-in: ``/login`` → ``/login/start`` → Procore → ``/auth/callback``; ``POST /logout``.

Every page and action checks the session first (none: redirect to ``/login``); every POST also
needs the session's CSRF token in its form and, when the browser sends ``Origin``, this portal's
origin. Nobody sees a pair their session does not name: a record or run of another pair is a 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from trestle.db import make_engine
from trestle.portal import data, runs
from trestle.portal.login import LoginFailed, NotAllowed, PairAccess, finish_login, start_login
from trestle.portal.sessions import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    BadCookie,
    CookieSigner,
    Session,
    session_key,
)
from trestle.portal.specs import specification, specifications
from trestle.settings import ConfigError, PortalSettings, ProcoreSettings, TrestleSettings, load_settings, pair_names
from trestle.webhooks.receiver import receiver_router

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
CALLBACK_PATH = "/auth/callback"


class SignInNeeded(Exception):
    """No valid session: the answer is a redirect to the sign-in page."""


class Refused(Exception):
    """A POST without the right CSRF token or from another origin."""


@dataclass
class PortalConfig:
    """Everything the portal reads once at start."""

    portal: PortalSettings
    login: ProcoreSettings
    pairs: dict[str, TrestleSettings]
    engine: Engine
    signer: CookieSigner

    @classmethod
    def load(cls) -> PortalConfig:
        """From the install's settings: every pair (secrets unread), and the sign-in app's secret."""
        names = pair_names() or ["default"]
        pairs = {name: load_settings(name if name != "default" else None, secrets=False) for name in names}
        first = pairs[names[0]]
        login = load_settings(names[0] if names[0] != "default" else None).procore
        if not login.client_id or not (login.client_secret or login.client_secret_block):
            raise ConfigError("the portal signs people in with the Procore app: set TRESTLE_PROCORE_CLIENT_ID/SECRET")
        key = session_key(
            first.portal.session_secret.get_secret_value() if first.portal.session_secret else None, first.home
        )
        return cls(first.portal, login, pairs, make_engine(first.database_url or ""), CookieSigner(key))

    @property
    def redirect_uri(self) -> str:
        return self.portal.base_url + CALLBACK_PATH

    @property
    def secure_cookies(self) -> bool:
        return self.portal.base_url.startswith("https://")


def create_app(config: PortalConfig | None = None) -> FastAPI:
    """The portal for ``config`` (default: :meth:`PortalConfig.load`)."""
    config = config or PortalConfig.load()
    app = FastAPI(title="Trestle portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    links = {name: data.PairLinks(settings, config.engine) for name, settings in config.pairs.items()}
    app.include_router(receiver_router(config.engine, config.pairs))  # Procore's webhook deliveries

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(_: Request, __: SignInNeeded) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return _page(request, "message.html", {"title": "Refused", "message": str(exc)}, status=403)

    def session_of(request: Request) -> Session:
        try:
            return config.signer.session(request.cookies.get(SESSION_COOKIE))
        except BadCookie:
            raise SignInNeeded() from None

    async def checked_form(request: Request, session: Session) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and origin != _origin(config.portal.base_url):
            raise Refused("This form was sent from another site.")
        form = {key: values[-1] for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if not secrets.compare_digest(form.get("csrf", ""), session.csrf):
            raise Refused("This form is out of date or was not sent from the portal (missing CSRF token).")
        return form

    def page(request: Request, session: Session, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return _page(request, template, {"session": session, **context}, status=status)

    # ------------------------------------------------------------------ sign-in
    @app.get("/login")
    async def login_page(request: Request) -> Response:
        return _page(request, "login.html", {"title": "Sign in"})

    @app.get("/login/start")
    async def login_start() -> Response:
        started = start_login(config.login, config.redirect_uri)
        response = RedirectResponse(started.url, status_code=303)
        cookie = config.signer.dumps({"state": started.state, "verifier": started.verifier}, LOGIN_SECONDS)
        _set_cookie(response, LOGIN_COOKIE, cookie, LOGIN_SECONDS, config.secure_cookies)
        return response

    @app.get(CALLBACK_PATH)
    async def callback(request: Request) -> Response:
        params = request.query_params
        try:
            pending = config.signer.loads(request.cookies.get(LOGIN_COOKIE))
        except BadCookie:
            pending = {}
        if not pending or not secrets.compare_digest(str(pending.get("state", "")), params.get("state", "")):
            return _page(request, "message.html", {"title": "Sign-in failed", "message": _RETRY}, status=400)
        if "code" not in params:
            message = f"Procore did not sign you in ({params.get('error', 'no code')})."
            return _page(request, "message.html", {"title": "Sign-in failed", "message": message}, status=400)
        access = [
            PairAccess(name, settings.procore.company_id, settings.portal) for name, settings in config.pairs.items()
        ]
        try:
            session = await finish_login(
                config.login,
                access,
                code=params["code"],
                redirect_uri=config.redirect_uri,
                verifier=pending["verifier"],
            )
        except NotAllowed as exc:
            response = _page(request, "message.html", {"title": "Not allowed", "message": f"{exc}."}, status=403)
            response.delete_cookie(LOGIN_COOKIE)
            return response
        except LoginFailed as exc:
            return _page(request, "message.html", {"title": "Sign-in failed", "message": str(exc)}, status=502)
        signed_in = RedirectResponse("/review", status_code=303)
        lifetime = config.portal.session_minutes * 60
        _set_cookie(
            signed_in, SESSION_COOKIE, config.signer.session_cookie(session, lifetime), lifetime, config.secure_cookies
        )
        signed_in.delete_cookie(LOGIN_COOKIE)
        return signed_in

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await checked_form(request, session_of(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # -------------------------------------------------------------------- pages
    @app.get("/")
    async def home(request: Request) -> Response:
        session_of(request)
        return RedirectResponse("/review", status_code=303)

    @app.get("/review")
    async def review(request: Request, q: str = "", resolved: bool = False) -> Response:
        session = session_of(request)
        visible = {pair: links[pair] for pair in session.pairs if pair in links}
        groups = data.review(config.engine, visible, q, resolved=resolved)
        return page(
            request, session, "review.html", {"title": "Review", "q": q, "resolved": resolved, "groups": groups}
        )

    @app.get("/records/{pair}/{entity}/{record_id:path}")
    async def record(request: Request, pair: str, entity: str, record_id: str) -> Response:
        session = session_of(request)
        visible = session.can_see(pair) and pair in links
        view = data.record(config.engine, links[pair], pair, entity, record_id) if visible else None
        if view is None:
            context: dict[str, Any] = {"title": "Not found", "message": "No such record in the pairs you may see."}
            return page(request, session, "message.html", context, status=404)
        context = {"title": view.label, "record": view, "flow_run_url": runs.flow_run_url}
        return page(request, session, "record.html", context)

    @app.get("/runs")
    async def runs_page(request: Request) -> Response:
        session = session_of(request)
        recent = data.recent_runs(config.engine, session.pairs)
        forms = {pair: runs.startable(pair) for pair in session.pairs if session.can_run(pair)}
        context = {
            "title": "Runs",
            "runs": recent,
            "forms": forms,
            "nonce": secrets.token_urlsafe(16),
            "totals": data.run_totals,
            "seconds": data.run_seconds,
            "flow_run_url": runs.flow_run_url,
            "prefect_ui": runs.ui_url(),
        }
        return page(request, session, "runs.html", context)

    @app.post("/runs/{pair}/start")
    async def start_run(request: Request, pair: str) -> Response:
        session = session_of(request)
        form = await checked_form(request, session)
        if not session.can_run(pair):
            raise Refused("You may not start runs for this pair.")
        item = next((item for item in runs.startable(pair) if item.key == form.get("integration")), None)
        if item is None:
            raise Refused("No such integration to run.")
        nonce = form.get("nonce") or secrets.token_urlsafe(16)
        try:
            flow_run_id = await runs.start(
                item,
                debug=form.get("mode") == "debug",
                idempotency_key=f"portal:{session.user_id}:{nonce}:{item.key}",
                project_number=(form.get("project_number") or "").strip() or None,
            )
        except runs.RunNotStarted as exc:
            return page(request, session, "message.html", {"title": "Not started", "message": str(exc)}, status=400)
        return RedirectResponse(f"/runs/{quote(pair)}/flow-runs/{flow_run_id}", status_code=303)

    @app.get("/runs/{pair}/flow-runs/{flow_run_id}")
    async def run_progress(request: Request, pair: str, flow_run_id: str) -> Response:
        session = session_of(request)
        try:
            progress = await runs.progress(flow_run_id) if session.can_see(pair) else None
        except runs.RunNotStarted:
            progress = None
        if progress is None or (progress.parameters.get("pair") or "default") != pair:
            context: dict[str, Any] = {"title": "Not found", "message": "No such run in the pairs you may see."}
            return page(request, session, "message.html", context, status=404)
        context = {
            "title": f"Run {progress.name}",
            "pair": pair,
            "progress": progress,
            "url": runs.flow_run_url(flow_run_id),
        }
        return page(request, session, "progress.html", context)

    @app.get("/specs")
    async def specs(request: Request) -> Response:
        session = session_of(request)
        return page(request, session, "specs.html", {"title": "Integrations", "specs": specifications()})

    @app.get("/specs/{name}")
    async def spec(request: Request, name: str) -> Response:
        session = session_of(request)
        try:
            found = specification(name)
        except KeyError:
            return page(
                request, session, "message.html", {"title": "Not found", "message": "No such integration."}, 404
            )
        return page(request, session, "spec.html", {"title": found.title, "spec": found})

    return app


_RETRY = "The sign-in expired or did not start here. Please sign in again."


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'"
    )
    return response


def _set_cookie(response: Response, name: str, value: str, lifetime: int, secure: bool) -> None:
    response.set_cookie(name, value, max_age=lifetime, httponly=True, samesite="lax", secure=secure, path="/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
