"""Deliver the run summary: by SMTP when a mail server is configured, otherwise as an ``.eml``
file in the outbox folder (the default, so a fresh install never needs a mail server).

The SMTP password is only ever handed to ``smtplib``, and never over a connection without TLS
(``smtp_security = "none"`` with a password is refused before connecting); :class:`EmailDeliveryError`
messages are built from the host, port and the server's reply with the password redacted.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal

from trestle.clients.errors import redact
from trestle.models.report import RunReport
from trestle.notifications.records import csv_filename, records_csv
from trestle.notifications.render import RenderedEmail, render_summary
from trestle.notifications.view import problem_count
from trestle.settings import DEFAULT_HOME, EmailSettings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30.0
DEFAULT_OUTBOX = DEFAULT_HOME / "outbox"


class EmailDeliveryError(Exception):
    """The summary could not be sent or written; the message says where and why, never the password."""


@dataclass(frozen=True)
class DeliveryResult:
    """What :func:`deliver_summary` did: ``sent`` to ``recipients`` via ``where`` (host:port),
    ``written`` to ``path``, or ``skipped``; ``detail`` says why, in words for logs and the CLI."""

    action: Literal["sent", "written", "skipped"]
    detail: str
    where: str | None = None
    path: Path | None = None
    recipients: tuple[str, ...] = ()


RECENT_DELIVERIES: dict[str, DeliveryResult] = {}
"""What became of each run's summary in this process, by run id: ``trestle run`` says where it went."""


def should_send(report: RunReport, send_on: str) -> bool:
    """Whether ``send_on`` asks for a summary of this run (``issues``: only if something needs a look)."""
    if send_on == "never":
        return False
    if send_on == "issues":  # waiting states (not approved yet) are not issues: they alone send nothing
        return report.outcome in ("failed", "blocked") or bool(problem_count(report) or report.totals["failed"])
    return True


def build_message(
    report: RunReport, rendered: RenderedEmail, settings: EmailSettings, now: datetime | None = None
) -> EmailMessage:
    """The summary as multipart/mixed: the text and HTML alternatives (HTML preferred), then the
    CSV of every record the run wrote, skipped or failed."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = settings.sender
    if settings.recipients:
        message["To"] = ", ".join(settings.recipients)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    sender_domain = parseaddr(settings.sender)[1].rpartition("@")[2] or "trestle.localhost"
    message["Message-ID"] = make_msgid("trestle", domain=sender_domain)
    message["X-Trestle-Run-Id"] = report.run_id
    message["X-Trestle-Outcome"] = report.outcome
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    # The email shows the first few records per integration; the CSV carries every one of them.
    message.add_attachment(
        records_csv(report).encode("utf-8"), maintype="text", subtype="csv", filename=csv_filename(report)
    )
    return message


def deliver_summary(
    report: RunReport,
    settings: EmailSettings,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = SMTP_TIMEOUT_SECONDS,
) -> DeliveryResult:
    """Render and deliver the summary of ``report`` as ``settings`` say.

    With ``smtp_host`` and recipients it is sent (raising :class:`EmailDeliveryError` on
    failure); otherwise it is written to ``outbox_dir`` as ``.eml`` plus a viewable ``.html``.
    ``ssl_context`` overrides the system's trusted certificates (a private mail server's CA).
    """
    result = _deliver(report, settings, ssl_context, timeout)
    RECENT_DELIVERIES[report.run_id] = result
    return result


def _deliver(
    report: RunReport, settings: EmailSettings, ssl_context: ssl.SSLContext | None, timeout: float
) -> DeliveryResult:
    if not should_send(report, settings.send_on):
        detail = f"send_on={settings.send_on} and the run ended {report.outcome} with nothing to review"
        if settings.send_on == "never":
            detail = "send_on=never"
        return DeliveryResult(action="skipped", detail=f"summary not sent: {detail}")
    now = datetime.now(UTC)
    rendered = render_summary(report)
    message = build_message(report, rendered, settings, now)
    if settings.smtp_host and settings.recipients:
        return _send(message, settings, ssl_context, timeout)
    reason = "no recipients configured" if settings.smtp_host else "no SMTP host configured"
    return write_to_outbox(message, rendered, report, settings.outbox_dir or DEFAULT_OUTBOX, now, reason)


def write_to_outbox(
    message: EmailMessage,
    rendered: RenderedEmail,
    report: RunReport,
    outbox_dir: Path,
    now: datetime,
    reason: str,
) -> DeliveryResult:
    """Write ``message`` as ``<UTC timestamp>-<run id>.eml`` (the HTML and CSV beside it) into ``outbox_dir``."""
    safe_run_id = re.sub(r"[^A-Za-z0-9_-]+", "-", report.run_id).strip("-") or "run"
    stem = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{safe_run_id}"
    try:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        eml_path = outbox_dir / f"{stem}.eml"
        eml_path.write_bytes(message.as_bytes())
        (outbox_dir / f"{stem}.html").write_text(rendered.html, encoding="utf-8")
        (outbox_dir / f"{stem}.csv").write_text(records_csv(report), encoding="utf-8")
    except OSError as exc:
        raise EmailDeliveryError(f"could not write the run summary to {outbox_dir}: {exc.strerror}") from exc
    logger.info("run summary written to %s (%s)", eml_path, reason)
    return DeliveryResult(action="written", detail=f"written to the outbox: {reason}", path=eml_path)


def _send(
    message: EmailMessage, settings: EmailSettings, ssl_context: ssl.SSLContext | None, timeout: float
) -> DeliveryResult:
    host, port, security = settings.smtp_host or "", settings.smtp_port, settings.smtp_security
    where = f"{host}:{port}"
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    if security == "none" and password:
        raise EmailDeliveryError(
            f"refusing to send the SMTP password to {where} without TLS: TRESTLE_EMAIL_SMTP_SECURITY is 'none'. "
            "Set it to 'starttls' or 'ssl', or remove TRESTLE_EMAIL_SMTP_PASSWORD for a server that needs no login"
        )
    context = ssl_context or ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_username:
                smtp.login(settings.smtp_username, password)
            refused = smtp.send_message(message, to_addrs=settings.recipients)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _scrub(_describe(exc), password)
        raise EmailDeliveryError(
            f"could not send the run summary via {where} ({security}): {reason}"
        ) from None  # the original exception is dropped: its args may carry the server's echo
    accepted = tuple(address for address in settings.recipients if address not in refused)
    detail = f"sent via {where} to {', '.join(accepted)}"
    if refused:
        detail += f" (refused: {', '.join(refused)})"
    logger.info("run summary %s", detail)
    return DeliveryResult(action="sent", detail=detail, where=where, recipients=accepted)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the server rejected the login ({exc.smtp_code} {_reply(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_reply(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"every recipient was refused ({', '.join(exc.recipients)})"
    return f"{type(exc).__name__}: {exc}"


def _reply(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _scrub(text: str, secret: str) -> str:
    return redact(text, [secret])
