"""A strict-mode 500 (an answer that breaks the official spec) is not retried: the sandboxes mark it
with ``X-Sandbox-Strict-Violation`` and the client raises :class:`StrictViolationAnswer` at once,
instead of waiting through five attempts for the same broken answer. Real APIs never send the
header, so a plain 500 is still retried (the fault injector's 500s prove it in the same test).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.clients.test_live_sandboxes import RecordedSleep, procore_client, xero_client
from trestle.clients.errors import ServerError, StrictViolationAnswer


def test_a_broken_xero_answer_fails_at_once_and_a_plain_500_is_still_retried(fresh_sandboxes: Any) -> None:
    xero_state = fresh_sandboxes.xero.server.config.app.state.xero
    invoice = next(iter(xero_state.invoices.values()))
    status, invoice["Status"] = invoice["Status"], "APPROVED"  # not in the Invoice.Status enum
    sleep = RecordedSleep()
    client = xero_client(fresh_sandboxes, sleep)
    try:
        with pytest.raises(StrictViolationAnswer, match="answered 500"):
            client.get_invoices([invoice["InvoiceID"]])
        assert sleep.calls == [], "the same broken answer was asked for again"
    finally:
        invoice["Status"] = status
        fresh_sandboxes.xero.server.config.app.state.strict_violations.clear()
    faults = {"error_rate": 1.0, "seed": 1}
    httpx.post(f"{fresh_sandboxes.xero.url}/_sandbox/faults", json=faults).raise_for_status()
    with pytest.raises(ServerError) as failed:
        client.get_invoices([invoice["InvoiceID"]])
    assert not isinstance(failed.value, StrictViolationAnswer) and len(sleep.calls) == 4, "a plain 500 is retried"
    httpx.post(f"{fresh_sandboxes.xero.url}/_sandbox/faults", json={"error_rate": 0.0}).raise_for_status()


def test_a_broken_procore_answer_fails_at_once(fresh_sandboxes: Any) -> None:
    procore_state = fresh_sandboxes.procore.server.config.app.state.procore  # type: ignore[attr-defined]
    vendor = next(v for v in procore_state.vendors.values() if v["is_active"])
    name, vendor["name"] = vendor["name"], 12345  # the schema says name is a string
    sleep = RecordedSleep()
    try:
        with pytest.raises(StrictViolationAnswer, match=r"response \$\.name"):
            procore_client(fresh_sandboxes, sleep).vendor(int(vendor["id"]))
        assert sleep.calls == [], "the same broken answer was asked for again"
    finally:
        vendor["name"] = name
