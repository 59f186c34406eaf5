"""The SMTP password never travels without TLS: ``smtp_security = "none"`` with a password is refused."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.notifications.reports import nightly_report
from tests.notifications.smtp_server import Credentials, smtp_server
from trestle.notifications.email import EmailDeliveryError, deliver_summary
from trestle.settings import EmailSettings

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "plain-wire-Pa55word!"


def plain_settings(port: int, **overrides: object) -> EmailSettings:
    return EmailSettings.model_validate(
        {
            "recipients": ["accounts@builder.example"],
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            **overrides,
        }
    )


def test_a_password_is_never_sent_without_tls() -> None:
    """A server that would accept AUTH over plain text never sees the login or the message."""
    auth = Credentials("trestle", PASSWORD)
    with smtp_server(authenticator=auth, auth_required=True, auth_require_tls=False) as (mailbox, port):
        settings = plain_settings(port, smtp_username="trestle", smtp_password=SecretStr(PASSWORD))
        with pytest.raises(EmailDeliveryError) as caught:
            deliver_summary(nightly_report(), settings)

    assert mailbox.messages == []
    message = str(caught.value)
    assert "without TLS" in message and "TRESTLE_EMAIL_SMTP_SECURITY" in message
    assert "'starttls' or 'ssl'" in message
    assert PASSWORD not in f"{message} {caught.value!r}"


def test_a_server_without_login_still_works_over_plain_smtp() -> None:
    """No password, nothing to protect: a local relay on port 25 stays usable."""
    with smtp_server() as (mailbox, port):
        result = deliver_summary(nightly_report(), plain_settings(port))
    assert result.action == "sent"
    assert len(mailbox.messages) == 1 and mailbox.messages[0].login is None
