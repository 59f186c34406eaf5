"""Idempotency keys are per attempt: an update back to an earlier payload (A → B → A) is a new
write with a key of its own, so the Xero sandbox (which replays a key's stored answer, or refuses a
key used for a different request) applies it; a resend of one pending intent keeps its key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.engine.test_hostile_input import vendor_and_code
from tests.integrations.apis import procore_api, xero_api
from tests.integrations.test_commitments import ProcoreWorld, link_dependencies, purchase_order, run, store
from trestle.models.tables import WriteIntent
from trestle.tasks.engine import idempotency_key


def test_attempt_zero_keeps_the_old_key_and_later_attempts_differ() -> None:
    first = idempotency_key("default", "commitments", "7", "f" * 64)
    assert first == idempotency_key("default", "commitments", "7", "f" * 64, 0)
    assert len({first, idempotency_key("default", "commitments", "7", "f" * 64, 1)}) == 2
    assert idempotency_key("default", "commitments", "7", "f" * 64, 2) != idempotency_key(
        "default", "commitments", "7", "f" * 64, 1
    )


def test_an_update_back_to_an_earlier_payload_reaches_xero(trestle_env: dict[str, str]) -> None:
    link_dependencies()
    links = store(trestle_env)
    project_id = int(sorted(link.procore_id for link in links.links("project"))[0])
    with procore_api(trestle_env) as procore, xero_api(trestle_env) as xero:
        vendor, code = vendor_and_code(procore, links, project_id)
        world = ProcoreWorld(procore, project_id)
        line: dict[str, Any] = {"description": "Works", "amount": "100.00", "cost_code_id": code}
        commitment = world.commitment("work_order", "Approved", [line], number="SC-K1", vendor_id=vendor, title="A")
        references = []
        for title in (None, "B", "A", "B"):
            if title:
                world.update("work_order", commitment, title=title)
            report = run()
            assert report["failed"] == 0, report
            assert commitment not in {issue.record_id for issue in links.open_issues(integration="commitments")}
            order_id = next(link.xero_id for link in links.links("commitment") if link.procore_id == commitment)
            references.append(purchase_order(xero, order_id)["Reference"])
    assert references == ["SC-K1 - A", "SC-K1 - B", "SC-K1 - A", "SC-K1 - B"]
    with links.session() as session:
        intents = session.scalars(select(WriteIntent).where(WriteIntent.source_id == commitment)).all()
    assert len({intent.idempotency_key for intent in intents}) == len(intents) == 4
    assert {intent.status for intent in intents} == {"done"}
