"""Property-based tests (hypothesis) of the wire parsers: Xero's ``/Date()/`` values, money on both
wires, and the Procore and Xero models fed any JSON.

The promise under test: a value either parses to exactly what was sent, or is refused — a
``ValueError`` from the date parsers; in a record, the field left out and named
(``tests/clients/test_unreadable.py``), which the pipeline turns into a named review issue — never
another exception that would crash a run, and never a silently changed amount or date.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from trestle.models import procore, xero
from trestle.models.msdate import (
    format_ms_date,
    format_ms_datetime,
    parse_any_xero_date,
    parse_ms_date,
    parse_ms_datetime,
)
from trestle.models.unreadable import unreadable_keys

settings.register_profile("trestle", max_examples=100, deadline=None)
settings.load_profile("trestle")

EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "/Date(1541176290160+0000)/", "/Date(-99999999999999999999)/", "2100-13-40", "1e999"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@given(st.datetimes(min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None)))
def test_ms_datetimes_round_trip_to_the_millisecond(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)
    assert parse_ms_datetime(format_ms_datetime(moment)) == moment


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_ms_dates_round_trip(day: date) -> None:
    assert parse_ms_date(format_ms_date(day)) == day


@given(
    st.integers(min_value=-(2**41), max_value=2**42),
    st.sampled_from(["", "+0000", "+1300", "-0500", "+0545", "-1200"]),
)
def test_an_offset_never_changes_the_instant(milliseconds: int, offset: str) -> None:
    parsed = parse_ms_datetime(f"/Date({milliseconds}{offset})/")
    assert parsed == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


@given(st.text(max_size=60) | st.from_regex(r"\A/Date\(-?\d{1,30}([+-]\d{4})?\)/\Z"))
def test_any_text_is_a_date_or_a_value_error(text: str) -> None:
    for parse in (parse_ms_datetime, parse_any_xero_date):
        with contextlib.suppress(ValueError):
            parse(text)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12))
def test_two_decimal_money_goes_to_xero_exactly(amount: Decimal) -> None:
    line = xero.LineItem(description="x", quantity=Decimal(1), unit_amount=amount)
    assert Decimal(repr(line.to_wire()["UnitAmount"])) == amount


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_money_xero_cannot_take_exactly_is_refused_not_rounded(amount: Decimal) -> None:
    line = xero.LineItem(description="x", quantity=Decimal(1), unit_amount=amount)
    try:
        sent = line.to_wire()["UnitAmount"]
    except ValueError:
        return
    assert Decimal(repr(sent)) == amount


@given(st.decimals(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
def test_procore_money_parses_exactly_or_is_refused(raw: Any) -> None:
    wire = str(raw)
    payment = procore.ContractPayment.model_validate({"amount": wire})
    if "amount" in unreadable_keys(payment):  # refused: left out of the record and named
        assert payment.amount is None and wire.strip()
    elif payment.amount is None:
        assert not wire.strip()
    else:
        assert payment.amount == Decimal(wire.strip())


MODELS: list[type[BaseModel]] = [
    procore.Vendor,
    procore.Project,
    procore.Commitment,
    procore.Requisition,
    procore.DirectCost,
    procore.ContractPayment,
    xero.Contact,
    xero.Invoice,
    xero.CreditNote,
    xero.PurchaseOrder,
    xero.Payment,
    xero.TrackingCategory,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: f"{model.__module__.rsplit('.', 1)[1]}.{model.__name__}")
@given(data=st.data())
def test_models_take_any_json_or_refuse_it_with_a_validation_error(model: type[BaseModel], data: st.DataObject) -> None:
    names = [info.alias or name for name, info in model.model_fields.items()]
    body = data.draw(st.dictionaries(st.sampled_from(names), json_values, max_size=6))
    try:
        parsed = model.model_validate(body)
    except ValidationError:
        return
    if isinstance(parsed, xero.XeroModel | procore.ProcoreModel):
        with contextlib.suppress(ValueError):  # e.g. an amount JSON cannot carry exactly: refused, not rounded
            parsed.to_wire()
