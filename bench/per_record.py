"""The baseline Trestle is compared with: a naive per-record script sending the same bills.

What a hand-written integration typically does, one claim at a time: fetch a token once, then for
every bill look its supplier up (``GET /Contacts/{ContactID}``, for the payment terms) and send
the bill on its own (``POST /Invoices`` with one element). It is plain ``httpx`` against the Xero
sandbox, not Xero's official ``xero-python`` SDK (which is not a dependency of this project); the
calls it makes are the calls such an SDK script makes, one per method call, and it waits out a
429 by its ``Retry-After`` as the SDK's users have to. It sends exactly the documents Trestle
wrote (the ``last_payload`` of each progress-claim link), so both sides write the same bills.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

_RETRY_LIMIT = 20


@dataclass
class BaselineResult:
    """What the per-record script cost."""

    documents: int
    calls: int
    wall_seconds: float
    failed: int


def bills_written(database_url: str) -> list[dict[str, Any]]:
    """The Xero documents Trestle's progress claims wrote, as it sent them (from the link store)."""
    from trestle.db import make_engine
    from trestle.models.store import LinkStore

    store = LinkStore(make_engine(database_url), "default")
    return [dict(link.last_payload) for link in store.links("progress_claim") if link.last_payload]


class _PerRecordXero:
    """The Xero calls of a per-record script: one request per method call, nothing batched."""

    def __init__(self, env: dict[str, str]) -> None:
        self.calls = 0
        self._http = httpx.Client(base_url=env["TRESTLE_XERO_API_URL"], timeout=60.0)
        token = self._http.post(
            f"{env['TRESTLE_XERO_IDENTITY_URL']}/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(env["TRESTLE_XERO_CLIENT_ID"], env["TRESTLE_XERO_CLIENT_SECRET"]),
        )
        self.calls += 1
        token.raise_for_status()
        self._headers = {
            "Authorization": f"Bearer {token.json()['access_token']}",
            "xero-tenant-id": env["TRESTLE_XERO_TENANT_ID"],
            "Accept": "application/json",
        }

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One call, repeated after a 429 once its ``Retry-After`` has passed."""
        for _ in range(_RETRY_LIMIT):
            self.calls += 1
            response = self._http.request(method, f"/api.xro/2.0{path}", json=body, headers=self._headers)
            if response.status_code != 429:
                return response
            time.sleep(float(response.headers.get("Retry-After", "1")))
        return response

    def close(self) -> None:
        self._http.close()


def send_per_record(env: dict[str, str], documents: list[dict[str, Any]]) -> BaselineResult:
    """Send ``documents`` the per-record way; count its calls and time it."""
    started = time.perf_counter()
    xero = _PerRecordXero(env)
    failed = 0
    try:
        for document in documents:
            contact_id = document.get("Contact", {}).get("ContactID", "")
            xero.request("GET", f"/Contacts/{contact_id}")
            resource = "/Invoices" if document.get("Type") == "ACCPAY" else "/CreditNotes"
            envelope = resource.strip("/")
            answer = xero.request("POST", resource, {envelope: [document]})
            failed += answer.status_code >= 300
    finally:
        xero.close()
    return BaselineResult(
        documents=len(documents), calls=xero.calls, wall_seconds=time.perf_counter() - started, failed=failed
    )
