"""ProcoreClient: Link-header paging, company header, filters, sync merging, error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from tests.clients.conftest import PROCORE_COMPANY, Recorder, Sleeps
from trestle.clients import ProcoreClient, StaticTokenAuthenticator, ValidationFailed, updated_at_filter
from trestle.clients.errors import OutcomeUnknownError
from trestle.clients.procore_base import SYNC_BATCH_SIZE
from trestle.models.procore import ContractPayment, DirectCost, Vendor

BASE = "https://api.procore.test"


def client_for(recorder: Recorder, per_page: int = 1000) -> ProcoreClient:
    return ProcoreClient(
        api_url=BASE,
        company_id=PROCORE_COMPANY,
        authenticator=StaticTokenAuthenticator("access-xyz"),
        transport=recorder.transport,
        sleep=Sleeps(),
        per_page=per_page,
    )


def test_vendors_follow_link_next_to_the_end() -> None:
    vendors = [{"id": 598134325841112 + n, "name": f"Vendor {n}", "is_active": True} for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["per_page"])
        links = []
        base = f"{BASE}/rest/v1.0/vendors?company_id={PROCORE_COMPANY}&per_page={size}"
        if page > 1:
            links.append(f'<{base}&page=1>; rel="first"')
        if page < 3:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
            links.append(f'<{base}&page=3>; rel="last"')
        headers = {"Total": "5", "Per-Page": str(size), "Link": ", ".join(links)} if links else {"Total": "5"}
        return httpx.Response(200, json=vendors[(page - 1) * size : page * size], headers=headers)

    recorder = Recorder(handler)
    since = datetime(2024, 1, 1, tzinfo=UTC)
    found = list(client_for(recorder, per_page=2).iter_vendors(updated_since=since, ids=[1, 2]))
    assert [vendor.name for vendor in found] == [f"Vendor {n}" for n in range(5)]
    assert found[0].id == 598134325841112
    assert len(recorder.requests) == 3
    first = recorder.requests[0]
    assert first.headers["Procore-Company-Id"] == str(PROCORE_COMPANY)
    assert first.url.params["company_id"] == str(PROCORE_COMPANY)
    assert first.url.params["filters[updated_at]"].startswith("2024-01-01T00:00:00Z...")
    assert first.url.params.get_list("filters[id][]") == ["1", "2"]
    assert all(request.headers["Procore-Company-Id"] == str(PROCORE_COMPANY) for request in recorder.requests)


def test_next_link_to_another_host_is_refused() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(200, json=[{"id": 1}], headers={"Link": '<https://evil.test/x>; rel="next"'})
    )
    with pytest.raises(Exception, match="another host"):
        client_for(recorder).tax_codes()


def test_updated_at_filter_format() -> None:
    since = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    until = datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert updated_at_filter(since, until) == "2024-01-01T00:00:00Z...2024-01-31T23:59:59Z"


def test_sync_vendors_chunks_and_merges() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["company_id"] == PROCORE_COMPANY
        entities, errors = [], []
        for update in body["updates"]:
            if update["origin_id"] == "xero-bad":
                errors.append({**update, "errors": {"id": ["Entity with this ID not found"]}})
            else:
                entities.append({**update, "id": 10})
        return httpx.Response(200, json={"entities": entities, "errors": errors})

    recorder = Recorder(handler)
    updates = [Vendor(name=f"V{n}", origin_id=f"xero-{n}") for n in range(SYNC_BATCH_SIZE + 4)]
    updates.append(Vendor(name="Broken", origin_id="xero-bad", id=77))
    result = client_for(recorder).sync_vendors(updates)
    assert len(result.entities) == SYNC_BATCH_SIZE + 4 and len(result.errors) == 1
    assert result.errors[0].origin_id == "xero-bad"
    assert result.errors[0].messages == ["id: Entity with this ID not found"]
    assert [len(json.loads(r.content)["updates"]) for r in recorder.requests] == [SYNC_BATCH_SIZE, 5]
    assert all(request.method == "PATCH" for request in recorder.requests)


def test_create_contract_payment_body_and_money() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(201, json={"id": 5, **body["contract_payment"], "contract_id": body["contract_id"]})

    recorder = Recorder(handler)
    payment = ContractPayment(amount=Decimal("1250.10"), date=datetime(2024, 5, 1).date(), invoice_number="SI-9")
    created = client_for(recorder).create_contract_payment(11, 22, payment)
    sent = json.loads(recorder.requests[0].content)
    assert sent == {
        "project_id": 11,
        "contract_id": 22,
        "contract_payment": {"amount": "1250.10", "date": "2024-05-01", "invoice_number": "SI-9"},
    }
    assert created.amount == Decimal("1250.10") and created.contract_id == 22


def test_422_is_validation_failed_with_messages() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(
            422, json={"errors": {"base": ["Record is locked by ERP"], "amount": ["is invalid"]}}
        )
    )
    with pytest.raises(ValidationFailed) as caught:
        client_for(recorder).update_requisition_origin(11, 33, commitment_id=22, origin_id="inv-1")
    assert caught.value.messages == ["Record is locked by ERP", "amount is invalid"]
    sent = json.loads(recorder.requests[0].content)
    assert sent == {"project_id": 11, "commitment_id": 22, "requisition": {"origin_id": "inv-1"}}
    assert recorder.requests[0].url.path == "/rest/v1.1/requisitions/33"


def test_commitment_show_parses_lines_and_payments() -> None:
    body = {
        "id": 22,
        "number": "SC-001",
        "status": "Approved",
        "grand_total": "15000.00",
        "vendor": {"id": 7, "company": "Acme Framing"},
        "line_items": [{"id": 1, "amount": "15000.0", "cost_code": {"full_code": "01-100"}}],
        "payments_issued": [{"id": 3, "amount": "500.00", "date": "2024-04-30"}],
        "updated_at": "2020-10-19T19:17:59Z",
    }
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    commitment = client_for(recorder).commitment("work_order", 11, 22)
    assert recorder.requests[0].url.path == "/rest/v1.0/work_order_contracts/22"
    assert recorder.requests[0].url.params["project_id"] == "11"
    assert commitment.grand_total == Decimal("15000.00")
    assert commitment.line_items and commitment.line_items[0].cost_code.full_code == "01-100"  # type: ignore[union-attr]
    assert commitment.payments_issued and commitment.payments_issued[0].amount == Decimal("500.00")
    assert commitment.updated_at == datetime(2020, 10, 19, 19, 17, 59, tzinfo=UTC)
    assert client_for(recorder).usage.calls("procore") == 0  # each client has its own counter by default


def test_reads_ask_for_the_views_that_carry_what_trestle_reads() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=[]))
    client = client_for(recorder)
    list(client.iter_projects())
    list(client.iter_standard_cost_codes(7))
    list(client.iter_requisitions(11))
    list(client.iter_commitments("work_order", 11, ids=[1, 2]))
    views = {request.url.path: request.url.params.get("view") for request in recorder.requests}
    assert views == {
        "/rest/v1.1/projects": "normal",
        "/rest/v1.0/standard_cost_codes": "extended",
        "/rest/v1.1/requisitions": "items",
        "/rest/v1.0/work_order_contracts": None,
    }
    commitments = recorder.requests[-1].url.params
    assert commitments.get_list("filters[id]") == ["1", "2"] and "filters[id][]" not in commitments


def test_direct_cost_list_vendor_is_a_name_and_show_vendor_an_object() -> None:
    listed = {"id": 5, "vendor": "Acme Pty Ltd", "vendor_id": 9, "grand_total": "10.00"}
    shown = {"id": 5, "vendor": {"id": 9, "name": "Acme Pty Ltd"}, "line_items": []}
    responses = iter([httpx.Response(200, json=[listed])])
    recorder = Recorder(lambda request: next(responses))
    found = next(client_for(recorder).iter_direct_costs(3))
    assert found.vendor is not None and found.vendor.name == "Acme Pty Ltd" and found.vendor.id is None
    assert DirectCost.model_validate(shown).vendor.id == 9  # type: ignore[union-attr]


def test_a_header_create_sync_is_never_resent_but_a_line_sync_is() -> None:
    """Headers created by sync match nothing, so a lost answer is not sent again; lines carry their
    origin_id, so a line sync whose answer was lost is sent again and finds what it made."""
    sent: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        sent[request.url.path] = sent.get(request.url.path, 0) + 1
        if sent[request.url.path] == 1:
            return httpx.Response(504, json={"errors": "gateway timeout"})
        updates = json.loads(request.content)["updates"]
        return httpx.Response(
            200, json={"entities": [{**u, "id": 5, "holder": {"id": 9}} for u in updates], "errors": []}
        )

    client = client_for(Recorder(handler))
    with pytest.raises(OutcomeUnknownError):
        client.create_direct_costs(3, [{"invoice_number": "I-1", "vendor_id": 1, "direct_cost_type": "invoice"}])
    assert sent == {"/rest/v1.0/projects/3/direct_costs/sync": 1}
    lines = client.sync_direct_cost_lines(3, [{"direct_cost_id": 9, "cost_code_id": 2, "origin_id": "B:2"}])
    assert sent["/rest/v1.0/projects/3/direct_costs/line_items/sync"] == 2
    assert [(line.origin_id, line.holder.id if line.holder else None) for line in lines.entities] == [("B:2", 9)]


def test_line_item_types_are_the_company_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["company_id"] == str(PROCORE_COMPANY)
        return httpx.Response(200, json=[{"id": 4, "name": "Other", "code": "O", "base_type": "other"}])

    (other,) = client_for(Recorder(handler)).line_item_types()
    assert (other.id, other.code) == (4, "O")
