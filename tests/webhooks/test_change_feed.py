"""The change feed end to end over real HTTP: Procore sandbox → receiver → link store → nightly.

The receiver runs in a bare FastAPI app served by uvicorn (the same router the portal mounts);
a middleware counts its answers so a test waits for a delivery on a condition, not a sleep.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from tests.integrations.apis import api_requests, procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore
from trestle.sandbox.runner import serve_in_thread
from trestle.settings import load_settings
from trestle.tasks.context import RunContext
from trestle.webhooks.receiver import delivery_path, receiver_router
from trestle.webhooks.setup import install, status_lines
from trestle.webhooks.store import FeedStore

PAIR = "default"


class Receiver:
    """The receiver over HTTP, and a count of its answers by status a test can wait on."""

    def __init__(self, database_url: str) -> None:
        self.answers: Counter[int] = Counter()
        self.changed = threading.Condition()
        app = FastAPI()
        app.include_router(receiver_router(make_engine(database_url), [PAIR]))

        @app.middleware("http")
        async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            response = await call_next(request)
            with self.changed:
                self.answers[response.status_code] += 1
                self.changed.notify_all()
            return response

        self.server = serve_in_thread(app)
        self.url = self.server.url + delivery_path(PAIR)

    def wait_for(self, status: int, count: int) -> None:
        """Block until the receiver has answered ``status`` ``count`` times (15 s at most)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.answers[status] >= count, timeout=15), dict(self.answers)


@pytest.fixture
def receiver(trestle_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("TRESTLE_SYNC_CHANGE_FEED", "true")
    running = Receiver(trestle_env["TRESTLE_DATABASE_URL"])
    yield running
    running.server.stop()


def _context() -> RunContext:
    return RunContext(load_settings(None))


def _night(sandbox_url: str) -> tuple[dict[str, Any], Counter[str]]:
    before = api_requests(sandbox_url)
    summary = run_flow(get_flow("nightly"), notify=False)
    return summary, api_requests(sandbox_url) - before


def _edit_in_web_app(sandboxes: Any, commitment_id: int, title: str) -> httpx.Response:
    """A person renames a commitment in Procore's web app (not Trestle's app: its events count)."""
    body = {"resource": "commitments", "id": commitment_id, "changes": {"title": title}}
    return httpx.post(f"{sandboxes.procore.url}/_sandbox/simulate/edit", json=body)


def _issue_locations(links: LinkStore) -> Counter[str]:
    """Distinct (kind, project) of the commitments with open issues, counted per kind."""
    places = {
        (issue.details["kind"], issue.details["project_id"])
        for issue in links.open_issues(integration="commitments")
        if issue.details and "kind" in issue.details
    }
    return Counter(kind for kind, _ in places)


def _hook_header(env: dict[str, str]) -> str:
    hooks = procore_api(env).get(
        "/rest/v1.0/webhooks/hooks", params={"company_id": env["TRESTLE_PROCORE_COMPANY_ID"], "namespace": "trestle"}
    )
    return str(hooks.json()[0]["destination_headers"]["Authorization"])


def _event(ulid: str) -> dict[str, Any]:
    return {
        "id": 1,
        "ulid": ulid,
        "timestamp": "2026-12-02T06:00:00.000000Z",
        "resource_name": "Work Order Contracts",
        "resource_id": 5,
        "event_type": "update",
        "company_id": 1,
        "project_id": 7,
        "user_id": 1,
        "api_version": "v2.0",
        "metadata": {},
    }


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_deliveries_are_authenticated_and_stored_once(trestle_env: dict[str, str], receiver: Receiver) -> None:
    result = install(_context(), receiver.url)
    assert result.created and ("Requisitions", "delete") in result.added and not result.refused
    again = install(_context(), receiver.url)  # idempotent: same hook, nothing to add
    assert (again.hook_id, again.created, again.added) == (result.hook_id, False, [])
    store = FeedStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), PAIR)
    header = _hook_header(trestle_env)
    assert header.startswith("Bearer ") and store.hook() is not None
    assert header not in repr(store.hook()) and header[7:] not in repr(store.hook())  # only its hash is kept

    refused = httpx.post(receiver.url, json=_event("01JTESTBADSECRET000000000A"), headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401 and store.summary().count == 0
    assert httpx.post(receiver.url, json=_event("01JTESTNOSECRET0000000000A")).status_code == 401
    assert store.summary().count == 0

    for _ in range(2):  # Procore delivers at least once: the repeat is stored once
        sent = httpx.post(receiver.url, json=_event("01JTESTREPEATED0000000000A"), headers={"Authorization": header})
        assert sent.status_code == 204
    assert store.summary().count == 1
    bad = httpx.post(receiver.url, json={"ulid": "01JTESTBROKEN000000000000A"}, headers={"Authorization": header})
    assert bad.status_code == 400 and "resource_name" in bad.json()["error"]
    assert store.summary().count == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_nightly_reads_only_changed_projects_and_sweeps_after_failures(
    trestle_env: dict[str, str], receiver: Receiver, fresh_sandboxes: Any
) -> None:
    procore_url = trestle_env["TRESTLE_PROCORE_API_URL"]
    install(_context(), receiver.url)
    first, first_calls = _night(procore_url)  # the first run with the feed: a full sweep
    assert first["integrations"]["commitments"]["created"] > 0
    assert first_calls["GET /rest/v1.0/work_order_contracts"] > 1

    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), PAIR)
    quiet, quiet_calls = _night(procore_url)
    assert quiet["outcome"] in ("success", "issues")
    # No project is listed for changes, and the records with open issues wait for what blocks them
    # (trestle.integrations.recheck): none of their blockers changed, so nothing is re-read.
    assert _issue_locations(links), "the seed leaves commitments with open issues"
    assert quiet_calls["GET /rest/v1.1/requisitions"] == 0
    assert quiet_calls["GET /rest/v1.0/work_order_contracts"] == 0
    assert quiet_calls["GET /rest/v1.0/purchase_order_contracts"] == 0

    state = fresh_sandboxes.procore.server.config.app.state.procore
    linked = {link.procore_id: link.xero_id for link in links.links("commitment")}
    commitment = next(
        record
        for record in state.commitments.values()
        if str(record["id"]) in linked and record["type"] == "WorkOrderContract"
    )
    delivered = receiver.answers[204]
    edited = _edit_in_web_app(fresh_sandboxes, commitment["id"], "Changed via feed")
    assert edited.status_code == 200, edited.text
    receiver.wait_for(204, delivered + 1)

    changed, changed_calls = _night(procore_url)
    assert changed["integrations"]["commitments"]["updated"] == 1
    assert changed_calls["GET /rest/v1.0/work_order_contracts"] == 1  # that project only
    assert changed_calls["GET /rest/v1.1/requisitions"] == 0
    order = xero_api(trestle_env).get(f"/PurchaseOrders/{linked[str(commitment['id'])]}").json()["PurchaseOrders"][0]
    assert order["Reference"].endswith(" - Changed via feed")

    # The receiver stops accepting (its stored secret no longer matches): Procore's history shows
    # failing deliveries, so the next night sweeps every project.
    hook = FeedStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), PAIR).hook()
    assert hook is not None
    FeedStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), PAIR).save_hook(
        hook.hook_id, hook.namespace, hook.destination_url, "Bearer rotated-elsewhere"
    )
    _edit_in_web_app(fresh_sandboxes, commitment["id"], "Lost in transit")
    receiver.wait_for(401, 1)
    assert any(
        line.startswith("failing or discarded deliveries at Procore: last at 20") for line in status_lines(_context())
    )
    swept, swept_calls = _night(procore_url)
    every_project = first_calls["GET /rest/v1.0/work_order_contracts"]  # the first night read each project once
    # every project listed again (claims' labels may list commitments once more, as when polling)
    assert swept_calls["GET /rest/v1.0/work_order_contracts"] >= every_project
    assert swept_calls["GET /rest/v1.1/requisitions"] >= every_project
    assert swept["integrations"]["commitments"]["updated"] == 1  # the change the feed missed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_feed_sweeps_without_a_hook_a_trigger_or_a_recent_sweep(
    trestle_env: dict[str, str], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from trestle.integrations import registry
    from trestle.timeutil import utcnow
    from trestle.webhooks.feed import FEED_STREAM, SWEEP_STREAM, projects_to_read

    def decision() -> tuple[bool, str]:
        ctx = _context()
        scope = projects_to_read(registry()["commitments"](ctx))
        return scope.sweep, scope.reason

    assert decision() == (True, "first run with the change feed")
    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), PAIR)
    links.save_cursor("commitments", FEED_STREAM, utcnow())
    links.save_cursor("commitments", SWEEP_STREAM, utcnow() - timedelta(days=1))
    assert decision() == (True, "no hook is registered (run trestle webhooks install)")
    result = install(_context(), receiver.url)
    assert decision() == (False, "events since the cursor")
    procore = procore_api(trestle_env)
    company = {"company_id": trestle_env["TRESTLE_PROCORE_COMPANY_ID"]}
    trigger = next(
        t
        for t in procore.get(f"/rest/v1.0/webhooks/hooks/{result.hook_id}/triggers", params=company).json()
        if t["resource_name"] == "Change Order Packages" and t["event_type"] == "delete"
    )
    procore.delete(f"/rest/v1.0/webhooks/hooks/{result.hook_id}/triggers/{trigger['id']}", params=company)
    assert decision() == (True, "no trigger for Change Order Packages")
    install(_context(), receiver.url)  # puts it back
    assert decision() == (False, "events since the cursor")
    monkeypatch.setenv("TRESTLE_SYNC_SWEEP_EVERY_DAYS", "1")
    assert decision() == (True, "the safety sweep (due every 1 days)")
    monkeypatch.delenv("TRESTLE_SYNC_SWEEP_EVERY_DAYS")
    procore.delete(f"/rest/v1.0/webhooks/hooks/{result.hook_id}", params=company)
    assert decision()[0] and "gone from Procore" in decision()[1]
    monkeypatch.setenv("TRESTLE_SYNC_CHANGE_FEED", "false")
    assert decision() == (True, "change feed off")
