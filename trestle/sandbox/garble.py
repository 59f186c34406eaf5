"""Garbled answers: the control plane's way to make a simulator send a field of the wrong type.

Real APIs occasionally answer with a value their own schema does not allow (a money string sent
as an object, a name as a number, a date Procore cannot have meant) or leave a field out. Trestle
must name such a record and keep the rest of its page (:mod:`trestle.models.unreadable`), and the
tests need a server that does it on demand:

``POST /_sandbox/garble`` ``{"route": "/rest/v1.1/requisitions", "key": "id", "value": 123,
"set": {"total_claimed_amount": {"oops": 1}}, "drop": ["vendor_name"]}`` rewrites, in every
successful ``GET`` answer whose path starts with ``route``, each JSON object whose ``key`` equals
``value``: the ``set`` fields take those raw JSON values and the ``drop`` fields are left out.
``DELETE /_sandbox/garble`` (and ``/_sandbox/reset``) ends every garbling: the record answers
as stored again, with its ``updated_at`` untouched, as when a server-side bug is fixed.

The rewrite happens outside strict mode's answer check (the check sees what the routes answered):
a garbled answer is a deliberate fault, like an injected 500, not a simulator bug.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import FastAPI, Response
from pydantic import BaseModel, Field


class Garble(BaseModel):
    """One record's garbling: where, which record, what it answers instead."""

    route: str = Field(description="path prefix of the GET answers to rewrite")
    key: str = Field(description="the record's id attribute on the wire (id, ContactID…)")
    value: str | int
    set: dict[str, Any] = Field(default_factory=dict, description="attribute → raw JSON value sent instead")
    drop: list[str] = Field(default_factory=list, description="attributes left out")


class Garbler:
    """The garblings in force on one simulator."""

    def __init__(self) -> None:
        self.garbles: list[Garble] = []

    def clear(self) -> None:
        """Every record answers as stored again."""
        self.garbles.clear()

    def applies(self, method: str, path: str, status: int) -> list[Garble]:
        """The garblings for an answer (none for writes, errors or other paths)."""
        if method != "GET" or status >= 300:
            return []
        return [garble for garble in self.garbles if path.startswith(garble.route)]


def rewrite(body: bytes, garbles: list[Garble]) -> bytes:
    """``body`` with the garbled records rewritten (unchanged when it is not JSON); numbers keep
    their exact text (``100.00`` stays ``100.00``)."""
    try:
        content = json.loads(body, parse_float=lambda text: orjson.Fragment(text.encode()))
    except ValueError:
        return body
    return orjson.dumps(_walk(content, garbles))


def _walk(value: Any, garbles: list[Garble]) -> Any:
    if isinstance(value, list):
        return [_walk(item, garbles) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: _walk(item, garbles) for key, item in value.items()}
    for garble in garbles:
        if garble.key in value and str(value[garble.key]) == str(garble.value):
            value = {key: item for key, item in value.items() if key not in garble.drop} | garble.set
    return value


def install(app: FastAPI, garbler: Garbler) -> None:
    """The ``/_sandbox/garble`` control routes."""

    @app.post("/_sandbox/garble", include_in_schema=False)
    async def add_garble(body: Garble) -> dict[str, int]:
        garbler.garbles.append(body)
        return {"garbles": len(garbler.garbles)}

    @app.delete("/_sandbox/garble", include_in_schema=False)
    async def clear_garbles() -> dict[str, int]:
        garbler.clear()
        return {"garbles": 0}


async def garbled(response: Response, garbles: list[Garble]) -> Response:
    """The answer with its garbled records rewritten (headers kept, length recomputed)."""
    chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
    body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
    headers = {key: item for key, item in response.headers.items() if key.lower() != "content-length"}
    return Response(rewrite(body, garbles), status_code=response.status_code, headers=headers)
