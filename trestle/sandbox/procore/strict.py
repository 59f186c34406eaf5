"""Strict mode for the Procore sandbox: every ``/rest/`` request and response checked against the spec.

The operation is found by method + path template in the packaged extract (:mod:`.spec`). Checks:

- **Request** — every query parameter must be one the operation documents, with a value its
  schema allows (enum, integer); every request-body field must exist in the operation's body
  schema (as deep as the extract describes it); an operation without a documented body takes none.
  A violation answers **400** ``{"errors": "strict mode: <METHOD> <path> (<operationId>): …"}``
  before the handler runs, so nothing is written. The real API would ignore such a parameter;
  the sandbox refuses it so that Trestle cannot depend on it.
- **Response** — the status must be one the operation documents (an error status is covered by a
  documented ``default``); a 2xx body must validate against the documented schema, with every
  object closed to attributes the schema does not declare, the top-level record cut to the
  requested view's attribute set (:mod:`.view_tables`), ``null`` allowed for any attribute (the
  extract marks nothing nullable, yet Procore sends null for unset values, so a client must cope),
  and no body at all where none is documented. A violation answers **500** with the operation and
  the field named, and is logged at ERROR on ``trestle.sandbox.procore.strict``. That 500 (and
  the one for a route outside the spec) carries ``X-Sandbox-Strict-Violation``, a header no real
  API sends, so the client raises at once instead of retrying the same broken answer.

``/_sandbox/*``, ``/oauth/*`` and the web pages are not checked. ``SandboxRuntime.strict`` (``trestle
sandbox --lenient``) switches all of this off.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fastjsonschema
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from jsonschema import Draft202012Validator

from trestle.clients.errors import STRICT_VIOLATION_HEADER

from ..common import SandboxRuntime
from .spec import NESTED_MARKER, Operation, ProcoreSpec, load_spec
from .view_tables import View, view_for

logger = logging.getLogger("trestle.sandbox.procore.strict")
PREFIX = "strict mode"
#: Open gaps strict mode lets through, each listed in docs/FIDELITY.md ("Open gaps") with its reason.
#: None today: direct cost lines go through ``POST …/direct_costs/{id}/line_items``, which documents them.
TOLERATED_BODY_FIELDS: dict[str, frozenset[str]] = {}
#: The webhooks operations are not in the extract: :mod:`.routes_webhooks` checks them against the docs.
WEBHOOKS_PREFIX = "/rest/v1.0/webhooks/"


def _known_shape(schema: dict[str, Any] | None) -> bool:
    if schema is None:
        return False
    return bool(schema) and not (schema.get("description") == NESTED_MARKER and not schema.get("properties"))


def to_json_schema(schema: dict[str, Any] | None, view: View | None = None) -> dict[str, Any]:
    """An extract schema as a closed JSON Schema (null allowed everywhere; ``view`` cuts the top object)."""
    if not schema or not _known_shape(schema):
        return {}
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if kind:
        out["type"] = [kind, "null"]
    if "enum" in schema:
        out["enum"] = [*schema["enum"], None]
    if kind == "array":
        out["items"] = to_json_schema(schema.get("items"))
    properties = schema.get("properties")
    if properties:
        out["properties"] = {
            name: to_json_schema(child) for name, child in properties.items() if view is None or view.allows(name)
        }
        out["additionalProperties"] = False
    return out


def record_schema(operation: Operation, status: int, view: View | None) -> dict[str, Any] | None:
    """The JSON Schema a ``status`` answer of ``operation`` must meet (None: no body documented)."""
    documented = operation.responses.get(str(status))
    if documented is None:
        return None
    if view is not None and view.ids:
        integer = {"type": "integer"}
        return {"type": "array", "items": integer} if documented.get("type") == "array" else integer
    if documented.get("type") == "array":
        return {"type": ["array"], "items": to_json_schema(documented.get("items"), view)}
    return to_json_schema(documented, view)


def _label(operation: Operation) -> str:
    return f"{operation.key} ({operation.operation_id})"


def _value_problem(name: str, value: str, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "array":
        return _value_problem(name, value, schema.get("items") or {})
    if "enum" in schema and value not in [str(item) for item in schema["enum"]]:
        return f"query parameter {name}={value!r} is not one of {schema['enum']}"
    if kind == "integer":
        try:
            int(value)
        except ValueError:
            return f"query parameter {name}={value!r} is not an integer"
    return None


def check_query(operation: Operation, items: Iterable[tuple[str, str]]) -> list[str]:
    """Problems with the query string: undocumented parameters and values their schema refuses."""
    problems: list[str] = []
    for name, value in items:
        parameter = operation.query.get(name)
        if parameter is None:
            problems.append(f"undocumented query parameter {name!r} (documented: {sorted(operation.query)})")
            continue
        problem = _value_problem(name, value, parameter.get("schema") or {})
        if problem:
            problems.append(problem)
    return problems


def _generic(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def _body_fields(value: Any, schema: dict[str, Any] | None, where: str, problems: list[str]) -> None:
    if not schema or not _known_shape(schema):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _body_fields(item, schema.get("items"), f"{where}[{index}]", problems)
        return
    properties = schema.get("properties")
    if not isinstance(value, dict) or not properties:
        return
    for name, child in value.items():
        path = f"{where}.{name}" if where else name
        if name not in properties:
            problems.append(f"undocumented body field {path!r}")
        else:
            _body_fields(child, properties[name], path, problems)


def check_body(operation: Operation, raw: bytes) -> list[str]:
    """Problems with the request body: fields the operation's body schema does not declare."""
    if not raw.strip():
        return []
    if operation.body is None:
        return ["the operation documents no request body"]
    try:
        body = json.loads(raw)
    except ValueError:
        return []  # the handler answers malformed JSON as Procore does
    problems: list[str] = []
    _body_fields(body, operation.body, "", problems)
    tolerated = TOLERATED_BODY_FIELDS.get(operation.key, frozenset())
    return [problem for problem in problems if _generic(problem.split("'")[1]) not in tolerated]


@dataclass(frozen=True)
class _Validator:
    """A compiled yes/no check (fastjsonschema: ~50x quicker) and, on failure, every error (jsonschema)."""

    passes: Callable[[Any], Any]
    explain: Draft202012Validator

    def problems(self, payload: Any) -> list[str]:
        try:
            self.passes(payload)
        except fastjsonschema.JsonSchemaValueException:
            return [f"{error.json_path}: {error.message}" for error in self.explain.iter_errors(payload)]
        return []


@lru_cache(maxsize=512)
def _validator(spec: ProcoreSpec, key: str, status: int, view: View | None) -> _Validator | None:
    """The validator of one (operation, status, view): compiled once, not per response."""
    schema = record_schema(spec.operations[key], status, view)
    if schema is None:
        return None
    return _Validator(fastjsonschema.compile(schema), Draft202012Validator(schema))


def check_response(operation: Operation, status: int, raw: bytes, view: View | None) -> list[str]:
    """Problems with an answer: undocumented status, a body outside the schema or the view."""
    if str(status) not in operation.responses and not (status >= 400 and "default" in operation.responses):
        return [f"status {status} is not documented (documented: {sorted(operation.responses)})"]
    if status >= 300:
        return []  # the extract documents no error bodies; the sandbox's are described in guard.py/api.py
    validator = _validator(load_spec(), operation.key, status, view)
    if validator is None:
        return [] if not raw.strip() else [f"status {status} documents no body, yet one was sent"]
    try:
        payload = json.loads(raw)
    except ValueError:
        return [f"status {status} body is not JSON"]
    return validator.problems(payload)


def _refusal(status: int, operation: Operation, problems: list[str]) -> JSONResponse:
    message = f"{PREFIX}: {_label(operation)}: " + "; ".join(problems)
    log = logger.error if status >= 500 else logger.warning
    log(message)
    headers = {STRICT_VIOLATION_HEADER: "response"} if status >= 500 else None  # the client gives up at once
    return JSONResponse({"errors": message}, status_code=status, headers=headers)


def install_strict(app: FastAPI, runtime: SandboxRuntime, spec: ProcoreSpec | None = None) -> None:
    """Add the strict-mode middleware (install it before the others so it sits next to the routes)."""
    spec = spec or load_spec()

    @app.middleware("http")
    async def procore_strict(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if not runtime.strict or not path.startswith("/rest/") or path.startswith(WEBHOOKS_PREFIX):
            return await call_next(request)
        operation = spec.find(request.method, path)
        if operation is None:
            response = await call_next(request)
            if response.status_code < 400:
                message = f"{PREFIX}: {request.method} {path} is not an operation of Procore's spec"
                logger.error(message)
                return JSONResponse({"errors": message}, status_code=500, headers={STRICT_VIOLATION_HEADER: "route"})
            return response
        problems = check_query(operation, request.query_params.multi_items())
        problems += check_body(operation, await request.body())
        if problems:
            return _refusal(400, operation, problems)
        response = await call_next(request)
        if request.scope.get("route") is None:  # an operation of the spec the sandbox does not serve
            return response
        raw = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        view = view_for(request.method, path, request.query_params.get("view")).view
        problems = check_response(operation, response.status_code, raw, view)
        if problems:
            return _refusal(500, operation, [f"response {problem}" for problem in problems])
        return Response(raw, status_code=response.status_code, headers=dict(response.headers))
