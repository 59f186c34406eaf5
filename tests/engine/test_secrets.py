"""Secrets never leak: client secrets and issued access tokens appear in no log, report, email or error.

The vendors flow runs against the sandboxes with every logger at DEBUG, once as configured and
once each with a wrong Xero and a wrong Procore client secret (failed runs whose reports carry an
error). Then every place a person or a log shipper could read is searched for the secrets and for
each access and refresh token the sandboxes issued: captured log records and console output,
the flow runs' logs and artifacts in the Prefect API, the run summaries, the ``runs`` table, the
email outbox, and the texts and tracebacks of the exceptions the clients raise.

The second run-level test plants more: Procore in refresh-token mode (a configured refresh token
and every rotated one), the token encryption key, an SMTP password used over STARTTLS, and (on
PostgreSQL) a database password. Then each layer fails in turn (the database refuses the rotated
token, the database refuses to record the run, Xero refuses the login, the mail server refuses
the login) and every output is searched, the database's rows and files included.
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

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging.handlers import APILogWorker
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.engine.test_token_store import authorise
from tests.notifications.reports import nightly_report
from tests.notifications.smtp_server import Credentials, make_certificate, smtp_server
from trestle.cli import run_flow
from trestle.clients import AuthenticationError, ProcoreClient, XeroClient
from trestle.crypto import new_key
from trestle.db import make_engine
from trestle.flows.integrations import vendors_flow
from trestle.models.store import LinkStore
from trestle.models.tables import Base
from trestle.notifications.email import EmailDeliveryError, deliver_summary
from trestle.sandbox.common import TokenRegistry
from trestle.settings import load_settings

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


# ------------------------------------------------------------------ every layer failing in turn
DB_PASSWORD = "DBPASS-planted-4c1d9e7a"
SMTP_PASSWORD = "SMTP-planted-Pa55-6b2e8f"
WRONG_SMTP_PASSWORD = "SMTP-wrong-Pa55-0a7d3c"


def refuse_writes(engine: Engine, table: str, operations: tuple[str, ...] = ("UPDATE",)) -> list[str]:
    """Make the database refuse ``operations`` on ``table`` (a real database error); returns undo SQL."""
    undo = []
    for operation in operations:
        name = f"refuse_{table}_{operation.lower()}"
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
                undo.append(f"DROP TRIGGER {name}")
            else:
                connection.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
                    "LANGUAGE plpgsql"
                )
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {name} BEFORE {operation} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
                undo.append(f"DROP TRIGGER {name} ON {table}")
    return undo


def database_texts(engine: Engine, url: str) -> Iterator[tuple[str, str]]:
    """Every row of every table as text, and for SQLite the database files' raw bytes."""
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(table.select()).all()
            yield f"table {table.name}", "\n".join(repr(tuple(row)) for row in rows)
    if engine.dialect.name == "sqlite":
        database = Path(make_url(url).database or "")
        for path in database.parent.glob(database.name + "*"):
            yield f"file {path.name}", path.read_bytes().decode("latin-1")


def flow_run_messages(flow_run_ids: list[str]) -> str:
    """The final state messages of the flow runs (what the Prefect UI shows for a failed run)."""
    with get_client(sync_client=True) as client:
        return "\n".join(str(client.read_flow_run(flow_run_id).state) for flow_run_id in flow_run_ids)


def test_planted_secrets_appear_nowhere_when_each_layer_fails(
    trestle_env: dict[str, str],
    fresh_sandboxes: Any,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Refresh-token mode, SMTP with a password, a database URL with a password; then a token save,
    a database write, a Xero login and an SMTP login fail in turn, and every output is searched."""
    env = trestle_env
    url = env["TRESTLE_DATABASE_URL"]
    if not url.startswith("sqlite"):  # this server trusts 127.0.0.1, so any password logs in
        url = make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
        monkeypatch.setenv("TRESTLE_DATABASE_URL", url)
    configured_refresh = authorise(fresh_sandboxes.env)
    secret_key = new_key()
    certificate = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert_path))  # the system trust store, for this test
    settings = {
        "TRESTLE_SECRET_KEY": secret_key,
        "TRESTLE_PROCORE_AUTH_MODE": "refresh_token",
        "TRESTLE_PROCORE_REFRESH_TOKEN": configured_refresh,
        "TRESTLE_EMAIL_RECIPIENTS": "accounts@builder.example",
        "TRESTLE_EMAIL_SMTP_HOST": "127.0.0.1",
        "TRESTLE_EMAIL_SMTP_SECURITY": "starttls",
        "TRESTLE_EMAIL_SMTP_USERNAME": "trestle",
        "TRESTLE_EMAIL_SMTP_PASSWORD": SMTP_PASSWORD,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    engine = make_engine(url)
    smtp = {"authenticator": Credentials("trestle", SMTP_PASSWORD), "auth_required": True}
    smtp |= {"tls_context": certificate.server_context(), "require_starttls": True}
    summaries: list[dict[str, Any]] = []
    with smtp_server(**smtp) as (mailbox, port):
        monkeypatch.setenv("TRESTLE_EMAIL_SMTP_PORT", str(port))
        summaries.append(run_flow(vendors_flow, notify=True))
        assert summaries[0]["integrations"]["vendors"]["created"] > 0, "the good run should have synced"
        assert len(mailbox.messages) == 1, "the summary went out over STARTTLS with the password"

        undo = refuse_writes(engine, "oauth_tokens")  # 1. the rotated token cannot be saved
        httpx.post(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/tokens/expire").raise_for_status()
        summaries.append(run_flow(vendors_flow, notify=True))
        assert summaries[-1]["outcome"] != "failed", "a failed token save must not kill the run"
        undo += refuse_writes(engine, "runs")  # 2. the link store fails as the run is recorded
        summaries.append(run_flow(vendors_flow, notify=True))
        assert summaries[-1]["outcome"] == "failed", summaries[-1]
        with engine.begin() as connection:
            for statement in undo:
                connection.exec_driver_sql(statement)

        with monkeypatch.context() as patch:  # 3. Xero refuses the login (401)
            patch.setenv("TRESTLE_XERO_CLIENT_SECRET", WRONG_SECRETS["TRESTLE_XERO_CLIENT_SECRET"])
            summaries.append(run_flow(vendors_flow, notify=True))
        assert summaries[-1]["outcome"] == "failed"
        with monkeypatch.context() as patch:  # 4. the mail server refuses the login
            patch.setenv("TRESTLE_EMAIL_SMTP_PASSWORD", WRONG_SMTP_PASSWORD)
            summaries.append(run_flow(vendors_flow, notify=True))
            with pytest.raises(EmailDeliveryError) as refused:
                deliver_summary(nightly_report(), load_settings().email)
        assert "rejected the login" in str(refused.value)

    tokens = issued_tokens(fresh_sandboxes.xero_runtime.tokens) | issued_tokens(fresh_sandboxes.procore_runtime.tokens)
    needles = {
        env["TRESTLE_XERO_CLIENT_SECRET"],
        env["TRESTLE_PROCORE_CLIENT_SECRET"],
        *WRONG_SECRETS.values(),
        configured_refresh,
        secret_key,
        SMTP_PASSWORD,
        WRONG_SMTP_PASSWORD,
        *tokens,
    }
    if not url.startswith("sqlite"):
        needles.add(DB_PASSWORD)
    assert len(tokens) >= 4, "access and rotated refresh tokens should have been issued"
    store = LinkStore(engine, "default")
    runs = store.last_runs(limit=20)
    assert len(runs) == len(summaries)
    captured = capsys.readouterr()
    home = Path(env["TRESTLE_HOME"])
    places: list[tuple[str, str]] = [
        ("captured log messages", "\n".join(record.getMessage() for record in debug_logs.records)),
        ("captured log text with tracebacks", debug_logs.text),
        ("console output", captured.out + captured.err),
        ("run summaries", json.dumps(summaries, default=str)),
        *database_texts(engine, url),
        ("emails received", "\n".join(message.message.as_string() for message in mailbox.messages)),
        ("pending token files", "\n".join(path.read_text() for path in home.glob("tokens/*"))),
        ("SMTP failure", exception_texts(refused.value)),
        *prefect_texts([run.flow_run_id for run in runs if run.flow_run_id]),
        ("flow run states", flow_run_messages([run.flow_run_id for run in runs if run.flow_run_id])),
    ]
    if (home / "outbox").is_dir():
        places += list(outbox_texts(home / "outbox"))
    joined = "\n".join(text for _, text in places)
    assert "disk full" in joined, "the database failures should be reported (without their parameters)"
    assert "trestle tokens reset --pair default" in joined, "the failed token save says what to do"
    found = {where: hits for where, text in places if (hits := leaks(text, needles))}
    assert found == {}, f"secrets leaked into: {found}"
