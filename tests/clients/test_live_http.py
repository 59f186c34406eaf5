"""The clients over real HTTP (uvicorn in a thread): a real read timeout on a write, Link paging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request, Response

from tests.clients.conftest import PROCORE_COMPANY, Sleeps
from trestle.clients import OutcomeUnknownError, ProcoreClient, StaticTokenAuthenticator
from trestle.sandbox.runner import RunningServer, serve_in_thread


class Seen:
    def __init__(self) -> None:
        self.posts = 0
        self.company_headers: list[str | None] = []
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[tuple[RunningServer, Seen]]:
    seen = Seen()
    app = FastAPI()

    @app.post("/rest/v1.0/contract_payments")
    def create_payment() -> dict[str, int]:
        with seen.lock:
            seen.posts += 1
        time.sleep(0.6)  # commits, but answers after the client's read timeout
        return {"id": 1}

    @app.get("/rest/v1.0/tax_codes")
    def tax_codes(request: Request, response: Response, page: int = 1) -> list[dict[str, object]]:
        seen.company_headers.append(request.headers.get("Procore-Company-Id"))
        if page == 1:
            next_url = str(request.url.include_query_params(page=2))
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return [{"id": page, "code": f"T{page}", "rate1": "7.5"}]

    running = serve_in_thread(app)
    try:
        yield running, seen
    finally:
        running.stop()


def client(url: str) -> ProcoreClient:
    return ProcoreClient(
        api_url=url,
        company_id=PROCORE_COMPANY,
        authenticator=StaticTokenAuthenticator("access-live"),
        timeout=0.25,
        sleep=Sleeps(),
    )


def test_real_read_timeout_on_post_is_outcome_unknown(server: tuple[RunningServer, Seen]) -> None:
    running, seen = server
    with pytest.raises(OutcomeUnknownError):
        client(running.url).create_contract_payment(1, 2, {"amount": "10.00"})
    time.sleep(0.5)
    assert seen.posts == 1


def test_real_link_paging(server: tuple[RunningServer, Seen]) -> None:
    running, seen = server
    codes = client(running.url).tax_codes()
    assert [code.code for code in codes] == ["T1", "T2"]
    assert seen.company_headers == [str(PROCORE_COMPANY)] * 2
