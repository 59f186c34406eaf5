"""A Xero simulator served over real HTTP for the whole session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from trestle.sandbox.common import SandboxRuntime, sandbox_client
from trestle.sandbox.runner import RunningServer, serve_in_thread
from trestle.sandbox.xero import create_app
from trestle.sandbox.xero.state import XeroState

API = "/api.xro/2.0"


@dataclass
class XeroSandbox:
    """The running simulator plus an authenticated client."""

    server: RunningServer
    app: FastAPI
    runtime: SandboxRuntime

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> XeroState:
        return self.app.state.xero

    @property
    def tenant_id(self) -> str:
        return self.state.tenant_id

    def token(self) -> str:
        client = sandbox_client("xero", self.runtime.seed)
        response = httpx.post(
            f"{self.url}/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {
            "Authorization": f"Bearer {token or self.token()}",
            "xero-tenant-id": self.tenant_id,
            "Accept": "application/json",
        }
        return httpx.Client(base_url=f"{self.url}{API}", headers=headers, timeout=10)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[XeroSandbox]:
    runtime = SandboxRuntime(name="xero", dataset="small", seed=1, rate_limit_mode="off")
    app = create_app(runtime)
    server = serve_in_thread(app)
    try:
        yield XeroSandbox(server, app, runtime)
    finally:
        server.stop()


@pytest.fixture
def xero(sandbox: XeroSandbox) -> Iterator[XeroSandbox]:
    """The sandbox, freshly reset (state, faults, stats) with rate limits off."""
    sandbox.control("reset", {"dataset": "small", "seed": 1})
    sandbox.control("rate-limits", {"mode": "off"})
    yield sandbox
    sandbox.control("rate-limits", {"mode": "off"})
    sandbox.control("faults", {})


@pytest.fixture
def api(xero: XeroSandbox) -> Iterator[httpx.Client]:
    """An authenticated client for the accounting API."""
    with xero.client() as client:
        yield client


def first_bill_body(xero: XeroSandbox, **overrides: Any) -> dict[str, Any]:
    """A valid ACCPAY bill for the first active contact, with tracked lines."""
    contact = next(c for c in xero.state.contacts.values() if c["ContactStatus"] == "ACTIVE")
    project = next(c for c in xero.state.tracking_categories.values() if c["Name"] == "Project")
    bill = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact["ContactID"]},
        "Date": "2026-10-01",
        "DueDate": "2026-10-31",
        "InvoiceNumber": "SUP-1",
        "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Formwork",
                "Quantity": 2,
                "UnitAmount": 500.00,
                "AccountCode": "320",
                "TaxType": "INPUT",
                "Tracking": [{"Name": "Project", "Option": project["Options"][0]["Name"]}],
            }
        ],
    }
    bill.update(overrides)
    return bill
