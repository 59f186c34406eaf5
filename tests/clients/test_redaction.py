"""The one redaction: remembered secrets, credential-shaped text and URL passwords are masked in
exception text and in every log record as it is created."""

from __future__ import annotations

import logging
import secrets

import pytest

from trestle.clients.errors import describe_exception, redact, remember_secrets


def test_remembered_secrets_are_masked_in_exceptions_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    secret = secrets.token_urlsafe(24)
    remember_secrets(secret)
    logger = logging.getLogger("trestle.test_redaction")
    with caplog.at_level(logging.INFO, logger="trestle.test_redaction"):
        logger.info("saving %s failed", secret)
        try:
            raise RuntimeError(f"database said: [parameters: ('{secret}',)]")
        except RuntimeError:
            logger.exception("boom")
    assert secret not in caplog.text
    assert "saving *** failed" in caplog.text and "RuntimeError: database said: [parameters: ('***',)]" in caplog.text
    assert describe_exception(KeyError(secret)) == "KeyError: '***'"


def test_records_without_secrets_keep_their_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("trestle.test_redaction")
    with caplog.at_level(logging.INFO, logger="trestle.test_redaction"):
        logger.info("%s %s", "GET", "/rest/v1.0/vendors")
    assert caplog.records[-1].args == ("GET", "/rest/v1.0/vendors")  # uvicorn's access formatter reads them


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://trestle:p%40ss@db.internal/trestle", "postgresql://trestle:***@db.internal/trestle"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: *** ***"),
        ("sent Bearer abc.def-ghi", "sent Bearer ***"),
        ('{"refresh_token": "r-123456", "scope": "x"}', '{"refresh_token": "***", "scope": "x"}'),
        ("smtp password=hunter22 rejected", "smtp password=*** rejected"),
        ("https://api.xero.com/api.xro/2.0/Contacts?where=x@y", "https://api.xero.com/api.xro/2.0/Contacts?where=x@y"),
    ],
)
def test_credential_shaped_text_is_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_validation_error_is_one_line_of_fields_and_reasons_without_the_record_data() -> None:
    from pydantic import BaseModel, ValidationError

    class Bill(BaseModel):
        number: int
        total: float
        contact: str
        status: str

    try:
        Bill.model_validate({"number": "not-a-number", "total": "private-amount-7", "contact": None})
    except ValidationError as exc:
        text = describe_exception(exc)
    assert text == (
        "Bill is not valid (4 problems): number: Input should be a valid integer, unable to parse string as an "
        "integer; total: Input should be a valid number, unable to parse string as a number; contact: Input "
        "should be a valid string; and 1 more"
    )
    assert "private-amount-7" not in text and "pydantic.dev" not in text and "\n" not in text


def test_any_other_text_is_folded_onto_one_line() -> None:
    assert describe_exception(RuntimeError("first line\n  second line")) == "RuntimeError: first line second line"
