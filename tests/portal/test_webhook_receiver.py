"""The portal serves Procore's webhook receiver: no session needed, its own header check instead."""

from __future__ import annotations

import httpx

from tests.portal.conftest import Portal
from trestle.db import make_engine
from trestle.webhooks.store import FeedStore

EVENT = {"ulid": "01JPORTALTEST000000000000A", "resource_name": "Costs", "resource_id": 3, "event_type": "update"}


def test_the_portal_takes_deliveries_with_the_registered_header_only(portal: Portal) -> None:
    store = FeedStore(make_engine(portal.env["TRESTLE_DATABASE_URL"]), "default")
    url = f"{portal.url}/webhooks/procore/default"
    assert httpx.post(url, json=EVENT, headers={"Authorization": "Bearer a"}).status_code == 401  # no hook yet
    store.save_hook("42", "trestle", url, "Bearer the-registered-one")
    assert httpx.post(url, json=EVENT, headers={"Authorization": "Bearer a"}).status_code == 401
    assert httpx.post(f"{portal.url}/webhooks/procore/other", json=EVENT).status_code == 401
    assert store.summary().count == 0
    accepted = httpx.post(url, json=[EVENT, EVENT], headers={"Authorization": "Bearer the-registered-one"})
    assert accepted.status_code == 204 and store.summary().count == 1
