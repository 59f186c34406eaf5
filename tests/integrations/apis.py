"""Authenticated httpx clients for the sandboxes, as a test reads what reached each system."""

from __future__ import annotations

from collections import Counter

import httpx


def xero_api(env: dict[str, str]) -> httpx.Client:
    """A client for the Xero sandbox's accounting API (Bearer + tenant header)."""
    token = httpx.post(
        f"{env['TRESTLE_XERO_IDENTITY_URL']}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(env["TRESTLE_XERO_CLIENT_ID"], env["TRESTLE_XERO_CLIENT_SECRET"]),
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{env['TRESTLE_XERO_API_URL']}/api.xro/2.0",
        headers={
            "Authorization": f"Bearer {token}",
            "xero-tenant-id": env["TRESTLE_XERO_TENANT_ID"],
            "Accept": "application/json",
        },
    )


def procore_api(env: dict[str, str]) -> httpx.Client:
    """A client for the Procore sandbox (Bearer + Procore-Company-Id)."""
    token = httpx.post(
        f"{env['TRESTLE_PROCORE_LOGIN_URL']}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": env["TRESTLE_PROCORE_CLIENT_ID"],
            "client_secret": env["TRESTLE_PROCORE_CLIENT_SECRET"],
        },
    ).json()["access_token"]
    return httpx.Client(
        base_url=env["TRESTLE_PROCORE_API_URL"],
        headers={"Authorization": f"Bearer {token}", "Procore-Company-Id": env["TRESTLE_PROCORE_COMPANY_ID"]},
    )


def tracking_options(xero: httpx.Client, category: str) -> dict[str, dict]:
    """ACTIVE options of a tracking category by name."""
    categories = xero.get("/TrackingCategories").json()["TrackingCategories"]
    found = next(c for c in categories if c["Name"] == category)
    return {o["Name"]: o for o in found.get("Options", []) if o.get("Status", "ACTIVE") == "ACTIVE"}


WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")


def api_requests(url: str) -> Counter[str]:
    """Requests a sandbox has served, by ``"METHOD /route"`` (since its last reset)."""
    return Counter(httpx.get(f"{url}/_sandbox/stats").json()["requests"])


def api_writes(url: str) -> int:
    """How many writes a sandbox has served through its API (control plane and sign-in not counted)."""
    requests = httpx.get(f"{url}/_sandbox/stats").json()["requests"]
    return sum(
        count
        for key, count in requests.items()
        if key.startswith(WRITE_METHODS) and not any(part in key for part in ("/_sandbox", "/oauth", "/connect"))
    )
