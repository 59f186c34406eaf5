"""The sandbox's Webhooks API: hooks, triggers, events POSTed to a destination, retries and history."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

HOOKS = "/rest/v1.0/webhooks/hooks"


class Destination:
    """A notification endpoint over real HTTP: records every POST and answers ``status``."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], Any]] = queue.Queue()
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = outer.status  # read first: a test changing it after seeing this POST affects the next
                outer.received.put(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self) -> tuple[dict[str, str], Any]:
        return self.received.get(timeout=15)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def destination() -> Iterator[Destination]:
    found = Destination()
    yield found
    found.close()


def _hook(api: httpx.Client, company_id: int, url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "company_id": company_id,
        "hook": {
            "api_version": "v2",
            "namespace": "trestle-test",
            "destination_url": url,
            "destination_headers": {"Authorization": "Bearer s3cret"},
            **extra,
        },
    }
    created = api.post(HOOKS, json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _trigger(api: httpx.Client, company_id: int, hook_id: int, resource: str, event: str = "update") -> httpx.Response:
    body = {"company_id": company_id, "api_version": "v2", "trigger": {"resource_name": resource, "event_type": event}}
    return api.post(f"{HOOKS}/{hook_id}/triggers", json=body)


def _edit_commitment(api: httpx.Client, state: Any, description: str = "changed by a test") -> dict[str, Any]:
    commitment = next(c for c in state.commitments.values() if c["type"] == "WorkOrderContract")
    answer = api.patch(
        f"/rest/v1.0/work_order_contracts/{commitment['id']}",
        json={"project_id": commitment["project_id"], "work_order_contract": {"description": description}},
    )
    assert answer.status_code == 200, answer.text
    return commitment


def test_hooks_are_listed_by_namespace_and_scope(api: httpx.Client, company_id: int, destination: Destination) -> None:
    hook = _hook(api, company_id, destination.url)
    assert hook["owned_by_company_id"] == company_id and hook["owned_by_project_id"] is None
    listed = api.get(HOOKS, params={"company_id": company_id, "namespace": "trestle-test"}).json()
    assert [item["id"] for item in listed] == [hook["id"]]
    assert api.get(HOOKS, params={"company_id": company_id}).json() == []  # default namespace: "procore"
    assert api.get(HOOKS).status_code == 400  # neither company_id nor project_id
    bad = api.post(
        HOOKS,
        json={
            "company_id": company_id,
            "hook": {"api_version": "v2", "namespace": "Trestle1", "destination_url": destination.url},
        },
    )
    assert bad.status_code == 422 and "namespace" in bad.json()["errors"]
    assert api.delete(f"{HOOKS}/{hook['id']}", params={"company_id": company_id}).status_code == 204
    assert api.get(HOOKS, params={"company_id": company_id, "namespace": "trestle-test"}).json() == []


def test_triggers_offer_only_documented_resources(api: httpx.Client, company_id: int, destination: Destination) -> None:
    hook = _hook(api, company_id, destination.url)
    assert _trigger(api, company_id, hook["id"], "Work Order Contracts").status_code == 201
    assert _trigger(api, company_id, hook["id"], "Work Order Contracts").status_code == 422  # the same twice
    assert _trigger(api, company_id, hook["id"], "Company Vendors", "delete").status_code == 422  # not offered
    assert _trigger(api, company_id, hook["id"], "Invoices Of Dreams").status_code == 422
    listed = api.get(f"{HOOKS}/{hook['id']}/triggers", params={"company_id": company_id})
    assert [(t["resource_name"], t["event_type"]) for t in listed.json()] == [("Work Order Contracts", "update")]
    assert listed.headers["Total"] == "1"
    unknown = api.get(f"{HOOKS}/{hook['id']}/triggers", params={"company_id": company_id, "sort": "id"})
    assert unknown.status_code == 400  # strict: a parameter the docs do not describe


def test_a_change_is_delivered_with_the_hooks_headers(
    api: httpx.Client, company_id: int, state: Any, destination: Destination
) -> None:
    hook = _hook(api, company_id, destination.url)
    _trigger(api, company_id, hook["id"], "Work Order Contracts")
    commitment = _edit_commitment(api, state)
    headers, event = destination.next()
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["content-type"] == "application/json"
    assert event["resource_name"] == "Work Order Contracts" and event["event_type"] == "update"
    assert event["resource_id"] == commitment["id"] and event["project_id"] == commitment["project_id"]
    assert event["company_id"] == company_id and len(event["ulid"]) == 26
    assert destination.received.empty()
    history = api.get(f"{HOOKS}/{hook['id']}/deliveries", params={"company_id": company_id}).json()
    assert [(d["outcome"], d["event"]["ulid"]) for d in history] == [("ok", event["ulid"])]


def test_a_control_plane_edit_makes_an_event_too(
    api: httpx.Client, base_url: str, company_id: int, state: Any, destination: Destination
) -> None:
    hook = _hook(api, company_id, destination.url)
    _trigger(api, company_id, hook["id"], "Requisitions", "delete")
    requisition = next(iter(state.requisitions.values()))
    removed = httpx.post(
        f"{base_url}/_sandbox/simulate/delete", json={"resource": "requisitions", "id": requisition["id"]}
    )
    assert removed.status_code == 200
    _, event = destination.next()
    assert (event["resource_name"], event["event_type"], event["resource_id"]) == (
        "Requisitions",
        "delete",
        requisition["id"],
    )
    assert event["project_id"] == requisition["project_id"]


def test_a_failing_destination_is_retried_in_order(
    api: httpx.Client, base_url: str, company_id: int, state: Any, destination: Destination
) -> None:
    httpx.post(f"{base_url}/_sandbox/webhooks", json={"backoff_start_seconds": 0.1})
    destination.status = 401
    hook = _hook(api, company_id, destination.url)
    _trigger(api, company_id, hook["id"], "Work Order Contracts")
    _edit_commitment(api, state)
    first = destination.next()[1]
    again = destination.next()[1]  # refused again: the same event, after the backoff
    destination.status = 200
    assert destination.next()[1]["ulid"] == first["ulid"] == again["ulid"]
    _edit_commitment(api, state, "changed again")
    later = destination.next()[1]  # delivered after the first, so the history below is complete for it
    assert later["ulid"] != first["ulid"]
    failing = api.get(
        f"{HOOKS}/{hook['id']}/deliveries", params={"company_id": company_id, "filters[status]": "failing"}
    ).json()
    assert [(d["outcome"], d["event"]["ulid"], d["response_status"][:3]) for d in failing] == [
        ("retried", first["ulid"], "401"),
        ("retried", first["ulid"], "401"),
    ]


def test_a_queue_failing_past_the_retry_window_is_marked_failed(
    api: httpx.Client, base_url: str, company_id: int, state: Any, destination: Destination
) -> None:
    httpx.post(f"{base_url}/_sandbox/webhooks", json={"retry_window_seconds": 0})
    destination.status = 500
    hook = _hook(api, company_id, destination.url)
    _trigger(api, company_id, hook["id"], "Work Order Contracts")
    _edit_commitment(api, state)
    given_up = destination.next()[1]
    destination.status = 200
    _edit_commitment(api, state, "changed again")
    fresh = destination.next()[1]  # the next new event starts afresh
    assert fresh["ulid"] != given_up["ulid"]
    failing = api.get(
        f"{HOOKS}/{hook['id']}/deliveries", params={"company_id": company_id, "filters[status]": "failing"}
    ).json()
    assert [(d["outcome"], d["event"]["ulid"]) for d in failing] == [("failed", given_up["ulid"])]
