"""The endpoint Procore delivers webhook events to: ``POST /webhooks/procore/{pair}``, in the portal.

Mounted in the portal app (``trestle portal``) rather than served by a process of its own: the
portal is already the one Trestle web server an install exposes, with a public address
(``TRESTLE_PORTAL_PUBLIC_URL``) and the database, and the receiver needs nothing else. It needs
no sign-in: a delivery is authenticated by its ``Authorization`` header, compared (as a SHA-256
hash, in constant time) with the one ``trestle webhooks install`` registered for the pair.

Answers: **204** once the event is stored (or was stored before: deliveries repeat); **401**
for a missing or wrong header, or a pair with no hook (nothing stored, nothing said about why);
**400** for a body that is not an event (or a list of events); **413** above 256 KiB. It answers
fast — one insert per event — as Procore waits 5 seconds at most. Header values are never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from trestle.webhooks.store import BadEvent, Event, FeedStore

logger = logging.getLogger(__name__)
PATH = "/webhooks/procore/{pair}"
MAX_BODY = 256 * 1024


def delivery_path(pair: str) -> str:
    """The receiver's path for ``pair`` (joined to the portal's public URL as the hook's destination)."""
    return PATH.format(pair=pair)


def receiver_router(engine: Engine, pairs: Iterable[str]) -> APIRouter:
    """The receiver's route, for the pairs this portal serves."""
    stores = {pair: FeedStore(engine, pair) for pair in pairs}
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def receive(pair: str, request: Request) -> Response:
        store = stores.get(pair)
        hook = store.hook() if store is not None else None
        if store is None or hook is None or not hook.accepts(request.headers.get("authorization")):
            logger.warning("webhook delivery for pair %r refused: no hook, or the wrong Authorization header", pair)
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            payload = json.loads(body)
            events = [Event.parse(item) for item in (payload if isinstance(payload, list) else [payload])]
        except (ValueError, BadEvent) as exc:
            reason = str(exc) if isinstance(exc, BadEvent) else "the body is not JSON"
            logger.warning("webhook delivery for pair %r refused: %s", pair, reason)
            return JSONResponse({"error": reason}, status_code=400)
        new = store.record(events)
        logger.info("webhook delivery for pair %r: %d event(s), %d new", pair, len(events), new)
        return Response(status_code=204)

    return router
