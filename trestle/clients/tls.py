"""The one TLS context every API client of the process verifies servers with."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once.

    httpx builds a new context per client by default, loading the CA bundle each time: about
    130 ms per client on a busy 2-core machine, and a flow run makes four (two APIs, two token
    endpoints). A context is safe to share between clients and threads.
    """
    return httpx.create_ssl_context()
