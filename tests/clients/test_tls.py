"""Every API client of a process verifies servers with one TLS context, built once."""

from __future__ import annotations

import ssl

from trestle.clients import ClientCredentialsAuthenticator, StaticTokenAuthenticator, XeroClient
from trestle.clients.tls import tls_context


def _context_of(http: object) -> ssl.SSLContext:
    return http._transport._pool._ssl_context  # type: ignore[attr-defined, no-any-return]


def test_clients_share_one_verifying_context() -> None:
    clients = [
        XeroClient(api_url="https://api.xero.test", tenant_id="t", authenticator=StaticTokenAuthenticator("a"))
        for _ in range(2)
    ]
    token = ClientCredentialsAuthenticator("https://identity.xero.test/connect/token", "client-id", "not-a-secret")
    try:
        contexts = {id(_context_of(client._http)) for client in clients} | {id(_context_of(token._oauth._http))}
        assert contexts == {id(tls_context())}
        assert tls_context().verify_mode is ssl.CERT_REQUIRED and tls_context().check_hostname
    finally:
        for client in clients:
            client.close()
