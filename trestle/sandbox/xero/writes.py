"""Write plumbing shared by every PUT/POST route: body reading, batches, summarizeErrors,
and ``Idempotency-Key`` replay.

``summarizeErrors`` (default true, whatever the spec's default says): any failing element turns
the answer into 400 ValidationException listing only the failing elements, while the valid ones
are still saved. With ``summarizeErrors=false`` the answer is 200 and every element carries
``StatusAttributeString`` (OK/ERROR), its error flag and ``ValidationErrors``.

Idempotency (simulator choice; Xero documents only the header): a key is at most 128
characters and scoped to the tenant. A repeat with the same method, path, query and body replays
the stored status and body byte for byte without running the request again; a repeat with
anything different gets 400 ``IdempotencyKeyConflictException``. Only answers below 500 are
stored. Replay sits inside the fault layer, so a request whose answer was "lost" (504) replays
the committed answer when retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, Response

from trestle.models.msdate import parse_any_xero_date
from trestle.sandbox.xero.openapi import date_fields
from trestle.sandbox.xero.query import param
from trestle.sandbox.xero.state import ElementInvalid, Record, StoredResponse, XeroState
from trestle.sandbox.xero.wire import api_exception, envelope, json_response

MAX_BODY_BYTES = 3_500_000
MAX_IDEMPOTENCY_KEY = 128
ACCOUNTING_PREFIX = "/api.xro/2.0"


class BadRequest(Exception):
    """A request that fails before any element is looked at (bad JSON, wrong shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__("bad request")
        self.response = response


async def read_json(request: Request) -> Any:
    """The request body as JSON with numbers read as ``Decimal``."""
    raw = await request.body()
    try:
        return json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(api_exception("PostDataInvalidException", "Invalid Json data", error_number=14)) from exc


async def read_elements(request: Request, plural: str, *, bare_ok: bool = False) -> list[Record]:
    """The elements of a write: ``{"<Plural>": [...]}``, or one bare object where Xero allows it."""
    body = await read_json(request)
    if isinstance(body, dict) and isinstance(body.get(plural), list):
        elements: list[Record] = body[plural]
    elif bare_ok and isinstance(body, dict) and plural not in body:
        elements = [body]
    else:
        raise BadRequest(
            api_exception(
                "PostDataInvalidException", f"The request body must contain a {plural} array.", error_number=14
            )
        )
    if not all(isinstance(element, dict) for element in elements):
        raise BadRequest(
            api_exception("PostDataInvalidException", f"Each of {plural} must be an object.", error_number=14)
        )
    return elements


def summarize_errors(request: Request) -> bool:
    """Whether failing elements make the whole answer a 400 (the default)."""
    value = param(request, "summarizeErrors")
    return value is None or value.strip().lower() not in {"false", "0", "no"}


def echoed(value: Any, key: str = "") -> Any:
    """A request element as Xero echoes it: its date fields read and sent back as ``/Date()/``.

    Xero deserialises an element before validating it, so the echo carries its own date format
    whatever the client sent (``2026-11-02`` comes back as ``/Date(1793577600000+0000)/``). A date
    it cannot read is left out of the echo (simulator choice; the element fails on it anyway).
    """
    date_names, stamp_names = date_fields()
    if isinstance(value, dict):
        pairs = ((name, echoed(item, name)) for name, item in value.items())
        return {name: item for name, item in pairs if item is not _UNREADABLE}
    if isinstance(value, list):
        return [echoed(item, key) for item in value]
    if isinstance(value, str) and (key in date_names or key in stamp_names):
        try:
            moment = parse_any_xero_date(value.strip())
        except ValueError:
            return _UNREADABLE
        return moment.date() if key in date_names else moment
    return value


_UNREADABLE = object()


def failed_element(element: Record, messages: list[str], flag: str | None) -> Record:
    """A failing element echoed back with its validation errors (and its error flag, if it has one)."""
    failed: Record = (
        echoed(element)
        | _flagged(flag, True)
        | {
            "StatusAttributeString": "ERROR",
            "ValidationErrors": [{"Message": message} for message in messages],
        }
    )
    return failed


def _flagged(flag: str | None, value: bool) -> Record:
    return {flag: value} if flag else {}


def validation_exception(elements: list[Record]) -> Response:
    """Xero's 400 ValidationException body."""
    return json_response(
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
        status_code=400,
    )


def run_batch(
    request: Request,
    plural: str,
    elements: list[Record],
    apply: Callable[[Record], Record],
    present: Callable[[Record], Record],
    *,
    flag: str | None,
) -> Response:
    """Apply every element, then answer per ``summarizeErrors``."""
    summarize = summarize_errors(request)
    answers: list[Record] = []
    failures: list[Record] = []
    for element in elements:
        try:
            view = present(apply(element))
        except ElementInvalid as exc:
            failure = failed_element(element, exc.messages, flag)
            failures.append(failure)
            answers.append(failure)
            continue
        if not summarize:
            view = view | _flagged(flag, False) | {"StatusAttributeString": "OK", "ValidationErrors": []}
        answers.append(view)
    if summarize and failures:
        return validation_exception(failures)
    return json_response(envelope(plural, answers))


def run_single(
    plural: str,
    element: Record,
    apply: Callable[[Record], Record],
    present: Callable[[Record], Record],
    *,
    flag: str | None,
) -> Response:
    """Apply one element (``POST /{Collection}/{id}`` and friends)."""
    try:
        return json_response(envelope(plural, [present(apply(element))]))
    except ElementInvalid as exc:
        return validation_exception([failed_element(element, exc.messages, flag)])


def install_write_guard(app: FastAPI, state_getter: Callable[[], XeroState]) -> None:
    """Body-size limit and Idempotency-Key replay for accounting writes (innermost middleware)."""

    @app.middleware("http")
    async def write_guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in {"PUT", "POST"} or not request.url.path.startswith(ACCOUNTING_PREFIX):
            return await call_next(request)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES and "/Attachments/" not in request.url.path:  # files: their own limit
            return api_exception("RequestEntityTooLarge", "The request body exceeds 3.5 MB.", status_code=413)
        key = request.headers.get("idempotency-key")
        if not key:
            return await call_next(request)
        if len(key) > MAX_IDEMPOTENCY_KEY:
            return api_exception("InvalidIdempotencyKeyException", "Idempotency-Key must be at most 128 characters.")
        state = state_getter()
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), request.url.path.encode(), request.url.query.encode(), body])
        ).hexdigest()
        scoped = f"{state.tenant_id}:{key}"
        stored = state.idempotency.get(scoped)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return api_exception(
                    "IdempotencyKeyConflictException",
                    "This Idempotency-Key was already used for a different request.",
                )
            return Response(stored.body, status_code=stored.status_code, media_type=stored.media_type)
        response = await call_next(request)
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        content = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
        media_type = response.headers.get("content-type", "application/json")
        if response.status_code < 500:
            state_getter().idempotency[scoped] = StoredResponse(fingerprint, response.status_code, content, media_type)
            state_getter().changed()
        headers = {k: v for k, v in response.headers.items() if k.lower() not in {"content-length", "content-type"}}
        return Response(content, status_code=response.status_code, media_type=media_type, headers=headers)
