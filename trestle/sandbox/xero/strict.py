"""Strict mode for the Xero sandbox: every request and every answer checked against Xero's OpenAPI.

Real Xero silently ignores a query parameter or body field it does not know, so a client that
relies on one works against a generous simulator and breaks on the first real tenant. Strict
mode (``SandboxRuntime.strict``, on unless ``trestle sandbox --lenient``) closes that gap:

* **Requests** to ``/api.xro/2.0/*`` and ``/connections`` must name a documented operation
  (method + path template), use only its documented query parameters with values of the
  documented type, send ``If-Modified-Since`` and ``Idempotency-Key`` only where documented, and
  send a JSON body whose every field (at any depth) is declared by the operation's request schema
  and whose values have the declared types (an operation whose body is documented as
  ``application/octet-stream``, an attachment upload, takes any bytes). A request that breaks this
  is refused with **400** ``{"Type": "StrictModeViolation", "Operation", "Field", "Message"}``
  before anything runs. 400 and not 500: the request is at fault, and a client must not retry it.
* **Answers** must have a status documented for the operation (or one of
  :data:`UNDOCUMENTED_STATUSES`, which Xero sends on every operation although the document lists
  none of them) and a body valid against the schema of that status, ``/Date()/`` formats included;
  a successful answer may carry no field the schema does not declare (but the few in
  :data:`UNDECLARED_ANSWER_FIELDS`).
  The elements a ``ValidationException`` echoes are also checked against the element schema of
  the request (the ``Element`` schema itself declares only the IDs). A bad answer is replaced by
  **500** with the same body shape, so the test that caused it fails; the write behind it has
  already happened, exactly as when a real server fails after committing. That 500 carries
  ``X-Sandbox-Strict-Violation: response``, a header no real API sends, so the client raises at
  once instead of retrying the same broken answer (:data:`trestle.clients.http.STRICT_VIOLATION_HEADER`).

Every violation is logged at ERROR on ``trestle.sandbox.xero.strict`` and kept in
``app.state.strict_violations``. Not checked, because no official document describes them:
the token endpoint and the browser authorize step (the identity document covers only
``/Connections``), the ``/_sandbox`` control routes and the human web pages.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from trestle.clients.errors import STRICT_VIOLATION_HEADER
from trestle.sandbox.common import SandboxRuntime
from trestle.sandbox.xero.openapi import (
    Operation,
    SpecDocument,
    accounting_spec,
    identity_spec,
    query_value_problem,
)
from trestle.sandbox.xero.wire import JSON_MEDIA_TYPE
from trestle.sandbox.xero.writes import ACCOUNTING_PREFIX

logger = logging.getLogger("trestle.sandbox.xero.strict")

VIOLATION_TYPE = "StrictModeViolation"
IDENTITY_PREFIX = "/connections"
# Headers that change what Xero does where they are documented, and are silently ignored elsewhere
# (If-Modified-Since on TrackingCategories, say): sending one to an operation without it is refused.
CHECKED_HEADERS = ("if-modified-since", "idempotency-key")
# Statuses Xero answers on any operation that the document never lists (API_NOTES.md section 7):
# 401/403 problem documents, the plain-text 404, 413 for bodies over 3.5 MB, 429 rate limits and
# the server's own failures. Their bodies have no schema to check.
UNDOCUMENTED_STATUSES = frozenset({401, 403, 404, 413, 429, 500, 503, 504})
# Fields a successful answer may carry although no schema declares them, each seen on the real API:
# the envelope every answer has (all of the document's own examples show it), and the state flags
# tracking options carry (API_NOTES.md section 8). Anything else undeclared is a violation, so the
# client can never come to rely on it. Indices are written ``[]``.
UNDECLARED_ANSWER_FIELDS = (
    re.compile(r"^(Id|Status|ProviderName|DateTimeUTC)$"),
    re.compile(r"^(TrackingCategories\[\]\.)?Options\[\]\.(IsActive|IsArchived|IsDeleted)$"),
)


@dataclass(frozen=True)
class Violation:
    """One departure from the official document."""

    operation: str
    field: str
    message: str
    side: str  # "request" or "response"

    def response(self) -> Response:
        """The loud answer: 400 for a bad request, 500 for a bad answer."""
        body = {"Type": VIOLATION_TYPE, "Operation": self.operation, "Field": self.field, "Message": self.message}
        if self.side == "request":
            return Response(json.dumps(body), status_code=400, media_type=JSON_MEDIA_TYPE)
        headers = {STRICT_VIOLATION_HEADER: "response"}  # the client gives up at once (no retries)
        return Response(json.dumps(body), status_code=500, media_type=JSON_MEDIA_TYPE, headers=headers)


def _locate(method: str, path: str) -> tuple[SpecDocument, str] | None:
    """The document covering ``path`` and the path relative to its server, or None if unchecked."""
    if path == ACCOUNTING_PREFIX or path.startswith(ACCOUNTING_PREFIX + "/"):
        return accounting_spec(), path[len(ACCOUNTING_PREFIX) :] or "/"
    if path.lower() == IDENTITY_PREFIX or path.lower().startswith(IDENTITY_PREFIX + "/"):
        return identity_spec(), path
    return None


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def _first_schema_error(
    spec: SpecDocument, schema: dict[str, Any], instance: Any, *, response: bool, prefix: str = ""
) -> tuple[str, str] | None:
    errors = sorted(spec.validator(schema, response=response).iter_errors(instance), key=lambda e: list(e.path))
    if not errors:
        return None
    error = errors[0]
    where = _field_path(error.absolute_path)
    if prefix:
        where = prefix + ("" if where == "(body)" else ("" if where.startswith("[") else ".") + where)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return where, message


def check_request(
    spec: SpecDocument, op: Operation, query: list[tuple[str, str]], body: bytes, headers: Mapping[str, str]
) -> Violation | None:
    """The first way this request departs from ``op``, or None."""
    for name in CHECKED_HEADERS:
        if name in headers and name not in op.headers:
            return Violation(op.key, f"header {name!r}", "not documented for this operation", "request")
    for name, value in query:
        if name not in op.query:
            documented = ", ".join(sorted(op.query)) or "none"
            return Violation(
                op.key, f"query parameter {name!r}", f"not documented (documented: {documented})", "request"
            )
        problem = query_value_problem(spec.resolve(op.query[name]), value)
        if problem:
            return Violation(op.key, f"query parameter {name!r}", problem, "request")
    if not body.strip():
        return None
    if op.binary_body:
        return None  # a file's bytes: any content is a file
    if op.body is None:
        return Violation(op.key, "(body)", "this operation takes no request body", "request")
    try:
        payload = json.loads(body)
    except ValueError:
        return None  # the route answers Xero's own PostDataInvalidException
    for where in spec.unknown_fields(payload, op.body):
        return Violation(op.key, where, "field not declared by the request schema", "request")
    found = _first_schema_error(spec, op.body, payload, response=False)
    return Violation(op.key, found[0], found[1], "request") if found else None


def check_response(
    spec: SpecDocument, op: Operation, status: int, content_type: str, content: bytes, request_body: bytes
) -> Violation | None:
    """The first way this answer departs from ``op``, or None."""
    documented = str(status) in op.responses
    if not documented:
        if status in UNDOCUMENTED_STATUSES:
            return None
        if status != 400:
            listed = ", ".join(sorted(op.responses))
            return Violation(
                op.key, "(status)", f"status {status} is not documented (documented: {listed})", "response"
            )
    if str(status) in op.binary_responses:
        return None  # a file's bytes, in the file's own content type
    schema = op.responses.get(str(status)) if documented else {"$ref": spec.uri + "#/components/schemas/Error"}
    if schema is None:
        return Violation(op.key, "(body)", f"status {status} has no body", "response") if content else None
    if not content_type.startswith("application/json"):
        return Violation(op.key, "(content-type)", f"{content_type!r} is not JSON", "response")
    try:
        payload = json.loads(content)
    except ValueError:
        return Violation(op.key, "(body)", "body is not valid JSON", "response")
    found = _first_schema_error(spec, schema, payload, response=True)
    if found is None and status < 300:
        found = _undeclared_field(spec, schema, payload)
    if found is None and status == 400 and op.body is not None:
        found = _echo_error(spec, op, payload, request_body)
    return Violation(op.key, found[0], found[1], "response") if found else None


def _undeclared_field(spec: SpecDocument, schema: dict[str, Any], payload: Any) -> tuple[str, str] | None:
    for where in spec.unknown_fields(payload, schema):
        if not any(allowed.match(re.sub(r"\[\d+\]", "[]", where)) for allowed in UNDECLARED_ANSWER_FIELDS):
            return where, "field not declared by the response schema"
    return None


def _echo_error(spec: SpecDocument, op: Operation, payload: Any, request_body: bytes) -> tuple[str, str] | None:
    """A ``ValidationException``'s ``Elements`` echo request elements: check them as elements."""
    if not (isinstance(payload, dict) and payload.get("Type") == "ValidationException" and request_body):
        return None
    element = spec.element_schema(op.body or {})
    for index, echoed in enumerate(payload.get("Elements") or []):
        found = _first_schema_error(spec, element, echoed, response=True, prefix=f"Elements[{index}]")
        if found:
            return found
    return None


def _record(app: FastAPI, violation: Violation) -> Response:
    logger.error("strict mode: %s %s: %s: %s", violation.side, violation.operation, violation.field, violation.message)
    app.state.strict_violations.append(violation)
    return violation.response()


def install_strict_mode(app: FastAPI, runtime: SandboxRuntime) -> None:
    """Check requests and answers against the official documents while ``runtime.strict`` is on."""
    app.state.strict_violations = []

    @app.middleware("http")
    async def strict_mode(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        located = _locate(request.method, request.url.path) if runtime.strict else None
        if located is None:
            return await call_next(request)
        spec, path = located
        op = spec.match(request.method, path)
        if op is None:
            unknown = Violation(
                f"{request.method} {path}", "(path)", "no such operation in the official spec", "request"
            )
            return _record(app, unknown)
        body = await request.body() if request.method in {"PUT", "POST", "PATCH"} else b""
        violation = check_request(spec, op, request.query_params.multi_items(), body, request.headers)
        if violation is not None:
            return _record(app, violation)
        response = await call_next(request)
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        content = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
        content_type = response.headers.get("content-type", "")
        violation = check_response(spec, op, response.status_code, content_type, content, body)
        if violation is not None:
            return _record(app, violation)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in {"content-length", "content-type"}}
        return Response(content, status_code=response.status_code, media_type=content_type or None, headers=headers)
