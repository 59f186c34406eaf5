"""The wire models read a record with a wrongly typed field instead of raising (issue #16).

What is promised (:mod:`trestle.models.unreadable`): a record whose own id is readable always
parses; a field that cannot be read is left out and named, with what was expected and what came
(never words, which may be secrets); a record with nothing wrong parses exactly as strict
validation would; and a model built in code stays strict, so a write's body never loses a field.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.clients.test_wire_properties import MODELS, json_values
from trestle.models import procore, xero
from trestle.models.unreadable import problems_of, strictly, unreadable_keys
from trestle.notifications.words import unreadable_words


def test_a_wrongly_typed_field_is_left_out_and_named() -> None:
    claim = procore.Requisition.model_validate(
        {
            "id": 7,
            "invoice_number": "INV-7",
            "total_claimed_amount": {"amount": "1.00"},
            "billing_date": "2100-13-40",
            "items": [{"id": 1, "net_amount": "12,5"}],
        }
    )
    assert (claim.id, claim.invoice_number) == (7, "INV-7"), "the readable fields are kept"
    assert claim.total_claimed_amount is None and claim.billing_date is None and claim.items is None
    found = {problem.field: problem.found for problem in problems_of(claim)}
    assert found == {
        "total_claimed_amount": "a JSON object",
        "billing_date": "the text '2100-13-40'",
        "items[0].net_amount": "the text '12,5'",
    }
    assert unreadable_keys(claim) == {"total_claimed_amount", "billing_date", "items"}


def test_a_record_with_nothing_wrong_has_no_problems() -> None:
    assert problems_of(procore.Requisition.model_validate({"id": 7, "total_claimed_amount": "1.00"})) == ()
    assert problems_of(xero.Contact.model_validate({"ContactID": "c-1", "Name": "Plain"})) == ()


def test_words_are_never_echoed_and_hidden_fields_show_no_value() -> None:
    contact = xero.Contact.model_validate({"ContactID": "c-1", "IsSupplier": "password hunter2", "EmailAddress": 42})
    found = {problem.field: problem.found for problem in problems_of(contact)}
    assert found == {"IsSupplier": "a text of 16 characters", "EmailAddress": "the number 42"}
    attachment = procore.ProcoreAttachment.model_validate({"id": 1, "url": 12345})
    assert [problem.found for problem in problems_of(attachment)] == ["a number"], "a pre-signed URL field"


def test_an_unreadable_id_still_raises_since_the_record_cannot_be_named() -> None:
    with pytest.raises(ValidationError) as raised:
        procore.Requisition.model_validate({"id": "secret words", "status": "approved"})
    assert "secret words" not in str(raised.value), "the failed run's error never echoes what was sent"
    with pytest.raises(ValidationError):
        procore.Commitment.model_validate({"title": "no id"})
    with pytest.raises(ValidationError):
        xero.Contact.model_validate({"ContactID": 12, "Name": "x"})


def test_models_built_in_code_stay_strict() -> None:
    with pytest.raises(ValidationError):
        procore.Vendor(name=12)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        xero.LineItem(unit_amount={"x": 1})  # type: ignore[arg-type]
    with strictly(), pytest.raises(ValidationError):
        xero.Contact.model_validate({"ContactID": "c-1", "Name": 12})


def test_the_review_message_names_each_field_in_words() -> None:
    claim = procore.Requisition.model_validate({"id": 7, "total_claimed_amount": [], "vendor_name": 3})
    message = unreadable_words("Procore", problems_of(claim))
    assert message.startswith("Procore sent this record with values Trestle cannot read: "), message
    assert "vendor name (vendor_name): expected a valid string, found the number 3" in message
    assert "total claimed amount (total_claimed_amount): expected " in message and "found a list of 0" in message
    assert message.endswith("it is read again every run until Procore sends a readable value.")


def _identity(model: type[BaseModel]) -> tuple[str, Any]:
    if issubclass(model, procore.ProcoreModel):
        return "id", 562949953421312
    return f"{model.__name__}ID", "0f6e3d52-6f7c-4c45-9d37-8f2b3a1c0d11"


@settings(max_examples=100, deadline=None)
@pytest.mark.parametrize("model", MODELS, ids=lambda model: f"{model.__module__.rsplit('.', 1)[1]}.{model.__name__}")
@given(data=st.data())
def test_any_json_with_a_readable_id_parses_and_strict_agrees_when_nothing_is_named(
    model: type[BaseModel], data: st.DataObject
) -> None:
    names = [info.alias or name for name, info in model.model_fields.items()]
    key, value = _identity(model)
    body = data.draw(st.dictionaries(st.sampled_from(names), json_values, max_size=6)) | {key: value}
    parsed = model.model_validate(body)  # never raises: the id is readable
    problems = problems_of(parsed)
    with strictly():
        if problems:
            with pytest.raises(ValidationError):
                model.model_validate(body)
            left_out = unreadable_keys(parsed)
            assert left_out <= set(body) and key not in left_out
            readable = model.model_validate({k: v for k, v in body.items() if k not in left_out})
            assert readable.model_dump() == parsed.model_dump(), "only the named fields were left out"
        else:
            assert model.model_validate(body) == parsed
