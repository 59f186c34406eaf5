"""Secrets never leak: client secrets and issued access tokens appear in no log, report, email or error.

The vendors flow runs against the sandboxes with every logger at DEBUG, once as configured and
once each with a wrong Xero and a wrong Procore client secret (failed runs whose reports carry an
error). Then every place a person or a log shipper could read is searched for the secrets and for
each access and refresh token the sandboxes issued: captured log records and console output,
the flow runs' logs and artifacts in the Prefect API, the run summaries, the ``runs`` table, the
email outbox, and the texts and tracebacks of the exceptions the clients raise.
"""

from __future__ import annotations

import email
import json
import logging
import traceback
from collections.abc import Iterable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogWorker

from trestle.cli import run_flow
from trestle.clients import AuthenticationError, ProcoreClient, XeroClient
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore
from trestle.sandbox.common import TokenRegistry

WRONG_SECRETS = {
    "TRESTLE_XERO_CLIENT_SECRET": "wrong-xero-secret-5e1f0c9a7b2d4e6f",
    "TRESTLE_PROCORE_CLIENT_SECRET": "wrong-procore-secret-8a3c6e9b1d4f7a2c",
}


def issued_tokens(registry: TokenRegistry) -> set[str]:
    """Every access and refresh token a simulator has issued (the registry keeps them by value)."""
    return set(registry._access) | set(registry._refresh)


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets found in ``text``, shortened so a failure message does not print them whole."""
    return [f"{secret[:4]}…" for secret in secrets if secret and secret in text]


def outbox_texts(outbox: Path) -> Iterator[tuple[str, str]]:
    """Each outbox file's raw text, and each decoded MIME part of each ``.eml`` (bodies may be encoded)."""
    for path in sorted(outbox.iterdir()):
        raw = path.read_bytes()
        yield path.name, raw.decode("utf-8", errors="replace")
        if path.suffix == ".eml":
            message: Message = email.message_from_bytes(raw)
            yield f"{path.name} headers", "\n".join(f"{key}: {value}" for key, value in message.items())
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    yield f"{path.name} part {part.get_content_type()}", payload.decode("utf-8", errors="replace")


def prefect_texts(flow_run_ids: list[str]) -> Iterator[tuple[str, str]]:
    """The flow runs' log messages and artifacts as stored by the Prefect API."""
    APILogWorker.drain_all(timeout=10)  # logs are shipped in batches: send what is queued first
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=flow_run_ids))
        )
    yield "prefect logs", "\n".join(log.message for log in logs)
    yield "prefect artifacts", "\n".join(json.dumps(artifact.data, default=str) for artifact in artifacts)


def exception_texts(error: BaseException) -> str:
    """``str``, ``repr`` and the full traceback (with causes) of ``error``."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, Trestle's, httpx's and Prefect's included, captured at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("trestle", "prefect", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_secret_or_token_in_logs_reports_emails_or_errors(
    trestle_env: dict[str, str],
    fresh_sandboxes: Any,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summaries = [run_flow(vendors_flow, notify=True)]
    assert summaries[0]["integrations"]["vendors"]["created"] > 0, "the good run should have synced"
    for variable, wrong in WRONG_SECRETS.items():
        with monkeypatch.context() as patch:
            patch.setenv(variable, wrong)
            summaries.append(run_flow(vendors_flow, notify=True))
    for failed in summaries[1:]:
        assert failed["outcome"] == "failed", failed
        assert failed["integrations"]["vendors"]["error"], "a failed run must say why"

    secrets = {trestle_env["TRESTLE_XERO_CLIENT_SECRET"], trestle_env["TRESTLE_PROCORE_CLIENT_SECRET"]}
    secrets |= set(WRONG_SECRETS.values())
    tokens = issued_tokens(fresh_sandboxes.xero_runtime.tokens) | issued_tokens(fresh_sandboxes.procore_runtime.tokens)
    assert len(tokens) >= 2, "both sandboxes should have issued access tokens"
    needles = secrets | tokens

    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    runs = store.last_runs(limit=10)
    assert len(runs) == len(summaries)
    outbox = Path(trestle_env["TRESTLE_HOME"]) / "outbox"
    assert len(list(outbox.glob("*.eml"))) == len(summaries), "every run, failed ones too, wrote its email"

    captured = capsys.readouterr()
    places: list[tuple[str, str]] = [
        ("captured log messages", "\n".join(record.getMessage() for record in debug_logs.records)),
        ("captured log text with tracebacks", debug_logs.text),
        ("console output", captured.out + captured.err),
        ("run summaries", json.dumps(summaries, default=str)),
        ("runs table", json.dumps([run.summary for run in runs], default=str)),
        *outbox_texts(outbox),
        *prefect_texts([run.flow_run_id for run in runs if run.flow_run_id]),
    ]
    assert debug_logs.records, "nothing was logged: the capture is not working"
    assert dict(places)["prefect logs"], "no flow run logs came back from the Prefect API"
    found = {where: hits for where, text in places if (hits := leaks(text, needles))}
    assert found == {}, f"secrets leaked into: {found}"


@pytest.mark.parametrize("system", ["xero", "procore"])
def test_client_errors_for_a_wrong_secret_carry_no_secret(
    fresh_sandboxes: Any, system: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    env = fresh_sandboxes.env
    wrong = WRONG_SECRETS[f"TRESTLE_{system.upper()}_CLIENT_SECRET"]
    client: XeroClient | ProcoreClient
    if system == "xero":
        client = XeroClient.custom_connection(
            client_id=env["TRESTLE_XERO_CLIENT_ID"],
            client_secret=wrong,
            tenant_id=env["TRESTLE_XERO_TENANT_ID"],
            api_url=env["TRESTLE_XERO_API_URL"],
            identity_url=env["TRESTLE_XERO_IDENTITY_URL"],
        )
    else:
        client = ProcoreClient.service_account(
            client_id=env["TRESTLE_PROCORE_CLIENT_ID"],
            client_secret=wrong,
            company_id=int(env["TRESTLE_PROCORE_COMPANY_ID"]),
            api_url=env["TRESTLE_PROCORE_API_URL"],
            login_url=env["TRESTLE_PROCORE_LOGIN_URL"],
        )
    with client, pytest.raises(AuthenticationError) as raised:
        client.tax_rates() if isinstance(client, XeroClient) else client.tax_codes()
    assert raised.value.system == system
    real = env[f"TRESTLE_{system.upper()}_CLIENT_SECRET"]
    assert leaks(exception_texts(raised.value), {wrong, real}) == []
    assert leaks(debug_logs.text, {wrong, real}) == []
