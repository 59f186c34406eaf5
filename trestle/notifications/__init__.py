"""The run summary: the morning email (HTML + text, sent or written to the outbox) and the
Prefect artifacts that show the same facts in the Prefect UI."""

from trestle.notifications.artifacts import ProgressReporter, publish_run_artifacts
from trestle.notifications.email import DeliveryResult, EmailDeliveryError, deliver_summary
from trestle.notifications.render import RenderedEmail, render_markdown, render_summary

__all__ = [
    "DeliveryResult",
    "EmailDeliveryError",
    "ProgressReporter",
    "RenderedEmail",
    "deliver_summary",
    "publish_run_artifacts",
    "render_markdown",
    "render_summary",
]
