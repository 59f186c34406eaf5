"""The shared REST core: retries, Retry-After, give-up, lost writes, malformed bodies, usage counts."""

from __future__ import annotations

import httpx
import pytest

from tests.clients.conftest import PROCORE_COMPANY, XERO_TENANT, Recorder, Sleeps, envelope, xero_json
from trestle.clients import (
    DailyLimitExceeded,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ProcoreClient,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    StaticTokenAuthenticator,
    TransportError,
    XeroClient,
)


def xero(recorder: Recorder, sleeps: Sleeps, **kwargs: object) -> XeroClient:
    return XeroClient(
        api_url="https://api.xero.test",
        tenant_id=XERO_TENANT,
        authenticator=StaticTokenAuthenticator("access-abc"),
        transport=recorder.transport,
        sleep=sleeps,
        monotonic=sleeps.monotonic,
        rand=lambda: 0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def procore(recorder: Recorder, sleeps: Sleeps) -> ProcoreClient:
    return ProcoreClient(
        api_url="https://api.procore.test",
        company_id=PROCORE_COMPANY,
        authenticator=StaticTokenAuthenticator("access-xyz"),
        transport=recorder.transport,
        sleep=sleeps,
        clock=sleeps.monotonic,
        rand=lambda: 0.5,
    )


ORGANISATION = envelope("Organisations", [{"OrganisationID": "org-1", "Name": "Harbour Build Ltd"}])


def scripted(*responses: httpx.Response) -> Recorder:
    queue = list(responses)
    return Recorder(lambda request: queue.pop(0))


def test_429_with_retry_after_is_honoured_and_capped(sleeps: Sleeps) -> None:
    limited = {"X-Rate-Limit-Problem": "minute"}
    recorder = scripted(
        xero_json({}, 429, **{"Retry-After": "7", **limited}),
        xero_json({}, 429, **{"Retry-After": "3600", **limited}),
        xero_json(ORGANISATION),
    )
    client = xero(recorder, sleeps)
    assert client.organisation().name == "Harbour Build Ltd"
    assert sleeps.calls == [7.0, 120.0]
    assert len(recorder.requests) == 3


def test_429_without_retry_after_backs_off_exponentially(sleeps: Sleeps) -> None:
    recorder = scripted(
        xero_json({}, 429, **{"X-Rate-Limit-Problem": "minute"}),
        xero_json({}, 429, **{"X-Rate-Limit-Problem": "concurrent"}),
        xero_json(ORGANISATION),
    )
    xero(recorder, sleeps).organisation()
    assert sleeps.calls == [1.0, 2.0]


def test_5xx_retried_then_success(sleeps: Sleeps) -> None:
    recorder = scripted(xero_json({}, 500), xero_json({}, 503), xero_json(ORGANISATION))
    client = xero(recorder, sleeps)
    client.organisation()
    assert len(recorder.requests) == 3
    assert client.usage.snapshot()["xero"]["retries"] == 2


def test_5xx_gives_up_after_max_attempts(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: xero_json({"Title": "boom"}, 503))
    client = xero(recorder, sleeps, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ServerError) as caught:
        client.organisation()
    assert caught.value.status == 503 and caught.value.system == "xero"
    assert len(recorder.requests) == 3
    assert len(sleeps.calls) == 2


def test_rate_limit_gives_up_too(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: xero_json({}, 429, **{"Retry-After": "1", "X-Rate-Limit-Problem": "minute"}))
    with pytest.raises(RateLimitedError) as caught:
        xero(recorder, sleeps, retry=RetryPolicy(max_attempts=2)).organisation()
    assert caught.value.problem == "minute" and caught.value.retry_after == 1.0


def test_xero_day_limit_raises_at_once_without_sleeping(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: xero_json({}, 429, **{"Retry-After": "40000", "X-Rate-Limit-Problem": "day"}))
    with pytest.raises(DailyLimitExceeded) as caught:
        xero(recorder, sleeps).organisation()
    assert caught.value.retry_after == 40000.0
    assert sleeps.calls == []
    assert len(recorder.requests) == 1


def test_transport_errors_are_retried_for_reads(sleeps: Sleeps) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return xero_json(ORGANISATION)

    xero(Recorder(handler), sleeps).organisation()
    assert len(attempts) == 3 and sleeps.calls == [1.0, 2.0]


def test_transport_errors_give_up_as_transport_error(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransportError):
        xero(Recorder(handler), sleeps, retry=RetryPolicy(max_attempts=2)).organisation()


def test_lost_xero_write_is_retried_with_the_same_idempotency_key(sleeps: Sleeps) -> None:
    option = {"TrackingOptionID": "opt-1", "Name": "P-1001 Harbour View", "Status": "ACTIVE"}
    recorder = scripted(httpx.Response(504), xero_json(envelope("Options", [option])))
    created = xero(recorder, sleeps).create_tracking_option("cat-1", "P-1001 Harbour View", idempotency_key="opt-p1001")
    assert created.tracking_option_id == "opt-1"
    puts = recorder.to("/Options")
    assert [request.method for request in puts] == ["PUT", "PUT"]
    assert {request.headers["Idempotency-Key"] for request in puts} == {"opt-p1001"}
    assert puts[0].content == puts[1].content == b'{"Name":"P-1001 Harbour View"}'


def test_lost_procore_post_is_outcome_unknown_and_not_resent(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: httpx.Response(504))
    client = procore(recorder, sleeps)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_contract_payment(11, 22, {"amount": "100.00", "date": "2024-05-01"})
    assert caught.value.system == "procore" and caught.value.method == "POST"
    assert "look the record up" in str(caught.value)
    assert len(recorder.requests) == 1 and sleeps.calls == []


def test_procore_post_read_timeout_is_outcome_unknown(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    recorder = Recorder(handler)
    with pytest.raises(OutcomeUnknownError):
        procore(recorder, sleeps).create_direct_cost(11, {"invoice_number": "INV-1", "vendor_id": 5})
    assert len(recorder.requests) == 1


def test_procore_post_refused_connection_is_retried(sleeps: Sleeps) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": 9, "amount": "100.0"})

    payment = procore(Recorder(handler), sleeps).create_contract_payment(11, 22, {"amount": "100.00"})
    assert payment.id == 9 and len(calls) == 2


def test_html_instead_of_json_is_malformed_with_a_clear_message(sleeps: Sleeps) -> None:
    html = httpx.Response(
        200, content=b"<html><body>Service maintenance</body></html>", headers={"Content-Type": "text/html"}
    )
    recorder = scripted(html)
    with pytest.raises(MalformedResponseError) as caught:
        xero(recorder, sleeps).organisation()
    message = str(caught.value)
    assert "xero" in message and "/Organisation" in message and "text/html" in message
    assert "Service maintenance" in caught.value.body_excerpt


def test_missing_envelope_is_malformed_and_names_it(sleeps: Sleeps) -> None:
    recorder = scripted(xero_json({"Id": "x", "Status": "OK", "Contact": []}))
    with pytest.raises(MalformedResponseError) as caught:
        list(xero(recorder, sleeps).iter_contacts())
    assert "'Contacts'" in str(caught.value) and caught.value.route == "/Contacts"


def test_procore_object_where_list_expected_is_malformed(sleeps: Sleeps) -> None:
    recorder = scripted(httpx.Response(200, json={"data": []}))
    with pytest.raises(MalformedResponseError) as caught:
        procore(recorder, sleeps).tax_codes()
    assert "expected a JSON array" in str(caught.value)


def test_caller_survives_malformed_body_and_continues(sleeps: Sleeps) -> None:
    recorder = scripted(httpx.Response(200, content=b"not json"), xero_json(ORGANISATION))
    client = xero(recorder, sleeps)
    with pytest.raises(MalformedResponseError):
        client.organisation()
    assert client.organisation().name == "Harbour Build Ltd"


def test_not_found_is_fatal_and_not_retried(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: httpx.Response(404, text="The resource you're looking for cannot be found"))
    with pytest.raises(NotFoundError) as caught:
        xero(recorder, sleeps).contact_group("nope")
    assert "cannot be found" in caught.value.detail and len(recorder.requests) == 1


def test_api_usage_counts_per_route_and_budget(sleeps: Sleeps) -> None:
    recorder = Recorder(lambda request: xero_json(envelope("Accounts", [])))
    client = xero(recorder, sleeps)
    client.accounts()
    client.accounts()
    snapshot = client.usage.snapshot()["xero"]
    assert snapshot["calls"] == {"GET /Accounts": 2}
    assert snapshot["total"] == 2
    assert snapshot["budget"] == {"minute": 58, "day": 4990, "app_minute": 9990}
    assert client.usage.calls("xero", "GET /Accounts") == 2
