"""Requests whose bodies or answers are files: streamed, never held whole in memory.

:meth:`RestClient.request <trestle.clients.http.RestClient.request>` reads every answer into
memory, which is right for JSON and wrong for a 10 MB file. :func:`download` copies an answer
into a file chunk by chunk (stopping as soon as it passes a size limit) and :func:`send_file`
uploads a file from disk as the request body. Both keep the client's pacing, call counting, error
mapping and its one token refresh on 401. A download is a read and is retried like one; an
upload that may have reached the server (no answer, 502/504) raises
:class:`~trestle.clients.errors.OutcomeUnknownError`, never a blind resend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import IO, Any

import httpx

from trestle.clients.errors import AuthenticationError, RetriableApiError, TransportError
from trestle.clients.http import LOST_RESPONSE_STATUSES, RestClient
from trestle.models.attachments import CHUNK_BYTES, TooLarge, read_chunks


def download(
    client: RestClient,
    url: str,
    into: IO[bytes],
    *,
    route: str,
    limit: int | None = None,
    headers: Mapping[str, str] | None = None,
    authenticated: bool = True,
) -> int:
    """Copy the body at ``url`` into ``into``; the number of bytes.

    ``authenticated=False`` sends no token: for pre-signed storage links, which may point at
    another host. Raises :class:`TooLarge` once more than ``limit`` bytes arrived.
    """
    attempt = 0
    while True:
        attempt += 1
        into.seek(0)
        into.truncate()
        try:
            return _download_once(client, url, into, route=route, limit=limit, headers=headers, auth=authenticated)
        except (RetriableApiError, TransportError) as exc:
            if attempt >= client.retry.max_attempts:
                raise
            retry_after = exc.retry_after if isinstance(exc, RetriableApiError) else None
            client.sleep(client.retry.delay(attempt, retry_after, client.rand))


def _download_once(
    client: RestClient,
    url: str,
    into: IO[bytes],
    *,
    route: str,
    limit: int | None,
    headers: Mapping[str, str] | None,
    auth: bool,
) -> int:
    sent = {**(client.authenticator.auth_headers() if auth else {}), **(headers or {})}
    client.pacer.before_request("GET", route)
    try:
        with client._http.stream("GET", url, headers=sent) as response:
            client.usage.record_call(client.system, "GET", route)
            client.pacer.after_response(response)
            if response.status_code >= 400:
                response.read()
                client.validate_response(response, method="GET", route=route)
            size = 0
            for chunk in response.iter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise TooLarge(size, limit)
                into.write(chunk)
            return size
    except httpx.TransportError as exc:
        message = f"{client.system} GET {route}: no response ({type(exc).__name__})"
        raise TransportError(message, system=client.system) from None
    except AuthenticationError:
        if not auth:
            raise
        client.authenticator.invalidate()
        raise TransportError(f"{client.system} GET {route}: token refreshed", system=client.system) from None


def send_file(
    client: RestClient,
    method: str,
    path: str,
    file: IO[bytes],
    size: int,
    *,
    route: str,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send ``file`` (``size`` bytes) as the raw body of a write and return the answer (read)."""
    sized = {**(headers or {}), "Content-Type": content_type, "Content-Length": str(size)}
    return _write(client, method, path, route, sized, lambda: {"content": read_chunks(file)})


def send_form(
    client: RestClient,
    method: str,
    path: str,
    field: str,
    file_name: str,
    file: IO[bytes],
    *,
    route: str,
    content_type: str,
) -> httpx.Response:
    """Send ``file`` as the one part ``field`` of a ``multipart/form-data`` write (httpx streams the part)."""

    def form() -> dict[str, Any]:
        file.seek(0)
        return {"files": [(field, (file_name, file, content_type))]}

    return _write(client, method, path, route, {}, form)


def _write(
    client: RestClient,
    method: str,
    path: str,
    route: str,
    headers: Mapping[str, str],
    body: Callable[[], dict[str, Any]],
) -> httpx.Response:
    """One write with a streamed body: counted, paced, a 401 refreshed once, a lost answer reported."""
    refreshed = False
    while True:
        sent = {**client.default_headers(), **client.authenticator.auth_headers(), **headers}
        client.pacer.before_request(method, route)
        try:
            response = client._http.request(method, path, headers=sent, **body())
        except httpx.ConnectError as exc:
            raise TransportError(f"{client.system} {method} {route}: cannot connect", system=client.system) from exc
        except httpx.TransportError as exc:
            raise client._outcome_unknown(method, route, type(exc).__name__) from None
        client.usage.record_call(client.system, method, route)
        client.pacer.after_response(response)
        if response.status_code in LOST_RESPONSE_STATUSES:
            raise client._outcome_unknown(method, route, f"status {response.status_code}")
        try:
            client.validate_response(response, method=method, route=route)
        except AuthenticationError:
            if refreshed:
                raise
            refreshed = True
            client.authenticator.invalidate()
            continue
        return response
