"""Delivering the summary: over a real SMTP server (plain, AUTH, STARTTLS, SSL) and to the outbox."""

from __future__ import annotations

import base64
import csv
import io
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.notifications.reports import clean_report, failed_report, nightly_report
from tests.notifications.smtp_server import (
    Credentials,
    Received,
    SelfSignedCertificate,
    free_port,
    make_certificate,
    smtp_server,
)
from trestle.models.report import IssueView, RunReport
from trestle.notifications.email import EmailDeliveryError, deliver_summary
from trestle.notifications.render import render_summary
from trestle.settings import EmailSettings

# The AUTH-over-plain server is deliberate: it is how the login itself is tested without TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

RECIPIENTS = ["accounts@builder.example", "ops@builder.example"]
SENDER = "Trestle <trestle@builder.example>"
PASSWORD = "s3cret-Pa55word!"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def smtp_settings(port: int, **overrides: object) -> EmailSettings:
    values: dict[str, object] = {
        "recipients": RECIPIENTS,
        "sender": SENDER,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
    }
    values.update(overrides)
    return EmailSettings.model_validate(values)


def parts(message: EmailMessage) -> dict[str, str]:
    """The decoded text of each leaf part, by content type."""
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def assert_is_the_summary(message: EmailMessage, report: RunReport) -> None:
    rendered = render_summary(report)
    assert message["Subject"] == rendered.subject
    assert message["From"] == SENDER
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message["Date"] and message["Message-ID"].endswith("@builder.example>")
    assert message.get_content_type() == "multipart/mixed"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html", "text/csv"}
    attachment = next(part for part in message.iter_attachments())
    assert attachment.get_filename() == "trestle-acme-nightly-2025-03-04.csv"
    csv_rows = list(csv.DictReader(io.StringIO(bodies["text/csv"])))
    assert [row["record"] for row in csv_rows] == [o.label for item in report.integrations for o in item.outcomes]
    assert "Totals: 2 created, 2 updated, 5 unchanged, 1 skipped, 1 failed, 2 issues" in bodies["text/plain"]
    for item in report.integrations:
        for outcome in item.outcomes:
            for url in (outcome.source_url, outcome.target_url):
                if url:
                    assert url in bodies["text/plain"]
                    assert f'<a href="{url}"' in bodies["text/html"]


def only_message(received: list[Received]) -> Received:
    assert len(received) == 1
    return received[0]


def test_sends_both_parts_over_plain_smtp() -> None:
    report = nightly_report()
    with smtp_server() as (mailbox, port):
        result = deliver_summary(report, smtp_settings(port))

    got = only_message(mailbox.messages)
    assert result.action == "sent"
    assert result.where == f"127.0.0.1:{port}"
    assert result.recipients == tuple(RECIPIENTS)
    assert got.mail_from == "trestle@builder.example"
    assert got.rcpt_tos == RECIPIENTS
    assert not got.over_tls and got.login is None
    assert_is_the_summary(got.message, report)


def test_logs_in_when_the_server_requires_auth(certificate: SelfSignedCertificate) -> None:
    report = nightly_report()
    auth = Credentials("trestle", PASSWORD)
    server_tls = {"tls_context": certificate.server_context(), "require_starttls": True}
    with smtp_server(authenticator=auth, auth_required=True, **server_tls) as (mailbox, port):
        settings = smtp_settings(
            port, smtp_security="starttls", smtp_username="trestle", smtp_password=SecretStr(PASSWORD)
        )
        result = deliver_summary(report, settings, ssl_context=certificate.client_context())

    assert result.action == "sent"
    got = only_message(mailbox.messages)
    assert got.login == "trestle"
    assert_is_the_summary(got.message, report)


def test_wrong_password_raises_without_revealing_it(certificate: SelfSignedCertificate) -> None:
    wrong = "Wr0ng-but-secret-pw"
    auth = Credentials("trestle", PASSWORD)
    server_tls = {"tls_context": certificate.server_context(), "require_starttls": True}
    with smtp_server(authenticator=auth, auth_required=True, **server_tls) as (mailbox, port):
        settings = smtp_settings(
            port, smtp_security="starttls", smtp_username="trestle", smtp_password=SecretStr(wrong)
        )
        with pytest.raises(EmailDeliveryError) as caught:
            deliver_summary(nightly_report(), settings, ssl_context=certificate.client_context())

    assert mailbox.messages == []
    shown = f"{caught.value} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert "rejected the login (535" in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert wrong not in shown
    assert base64.b64encode(wrong.encode()).decode() not in shown
    assert base64.b64encode(f"\0trestle\0{wrong}".encode()).decode() not in shown


def test_starttls_then_auth(certificate: SelfSignedCertificate) -> None:
    report = nightly_report()
    auth = Credentials("trestle", PASSWORD)
    server_tls = {"tls_context": certificate.server_context(), "require_starttls": True}
    with smtp_server(authenticator=auth, auth_required=True, **server_tls) as (mailbox, port):
        settings = smtp_settings(
            port, smtp_security="starttls", smtp_username="trestle", smtp_password=SecretStr(PASSWORD)
        )
        result = deliver_summary(report, settings, ssl_context=certificate.client_context())

    assert result.action == "sent"
    got = only_message(mailbox.messages)
    assert got.over_tls and got.login == "trestle"
    assert_is_the_summary(got.message, report)


def test_starttls_refuses_an_untrusted_certificate(certificate: SelfSignedCertificate) -> None:
    server_tls = {"tls_context": certificate.server_context(), "require_starttls": True}
    with smtp_server(**server_tls) as (mailbox, port), pytest.raises(EmailDeliveryError) as caught:
        deliver_summary(nightly_report(), smtp_settings(port, smtp_security="starttls"))

    assert mailbox.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_implicit_ssl(certificate: SelfSignedCertificate) -> None:
    report = nightly_report()
    with smtp_server(ssl_context=certificate.server_context()) as (mailbox, port):
        settings = smtp_settings(port, smtp_security="ssl")
        result = deliver_summary(report, settings, ssl_context=certificate.client_context())

    assert result.action == "sent"
    got = only_message(mailbox.messages)
    assert got.over_tls
    assert_is_the_summary(got.message, report)


def test_unreachable_server_raises_a_clear_error() -> None:
    port = free_port()  # nothing listens here
    settings = smtp_settings(port)
    with pytest.raises(EmailDeliveryError, match=f"via 127.0.0.1:{port} \\(none\\): ConnectionRefusedError"):
        deliver_summary(nightly_report(), settings, timeout=5)


def read_eml(path: Path) -> EmailMessage:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_default_settings_write_the_message_to_the_outbox(tmp_path: Path) -> None:
    report = nightly_report()
    settings = EmailSettings(recipients=RECIPIENTS, sender=SENDER, outbox_dir=tmp_path / "outbox")

    result = deliver_summary(report, settings)

    assert result.action == "written"
    assert result.path is not None and result.path.parent == tmp_path / "outbox"
    assert result.path.name.endswith(f"-{report.run_id}.eml")
    assert_is_the_summary(read_eml(result.path), report)
    html_copy = result.path.with_suffix(".html").read_text(encoding="utf-8")
    assert html_copy == render_summary(report).html


def test_smtp_host_without_recipients_writes_to_the_outbox(tmp_path: Path) -> None:
    settings = EmailSettings(smtp_host="127.0.0.1", smtp_port=free_port(), outbox_dir=tmp_path)

    result = deliver_summary(nightly_report(), settings)

    assert result.action == "written"
    assert "no recipients configured" in result.detail
    assert result.path is not None and "To" not in read_eml(result.path)


def test_send_on_issues_skips_a_clean_run_and_sends_a_troubled_one(tmp_path: Path) -> None:
    settings = EmailSettings(recipients=RECIPIENTS, outbox_dir=tmp_path, send_on="issues")

    skipped = deliver_summary(clean_report(), settings)
    failed = deliver_summary(failed_report(), settings)
    with_issues = deliver_summary(nightly_report(), settings)

    assert skipped.action == "skipped" and skipped.path is None
    assert failed.action == "written" and with_issues.action == "written"
    assert len(list(tmp_path.glob("*.eml"))) == 2


def test_send_on_never_writes_nothing(tmp_path: Path) -> None:
    settings = EmailSettings(outbox_dir=tmp_path, send_on="never")

    assert deliver_summary(nightly_report(), settings).action == "skipped"
    assert list(tmp_path.iterdir()) == []


def test_send_on_issues_is_not_triggered_by_waiting_states_alone(tmp_path: Path) -> None:
    report = clean_report()
    report.integrations[0].issues.append(
        IssueView(code="commitment.not_approved", message="Not approved yet.", entity="commitment", record_id="1",
                  label="SC-1")
    )  # fmt: skip
    report.integrations[0].outcome = "issues"
    settings = EmailSettings(recipients=RECIPIENTS, outbox_dir=tmp_path, send_on="issues")
    assert deliver_summary(report, settings).action == "skipped"
    report.integrations[0].issues[0].code = "commitment.no_lines"
    assert deliver_summary(report, settings).action == "written"
