"""A running Procore simulator for the tests, reset to the small scenario before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from trestle.sandbox.common import SandboxRuntime, sandbox_client
from trestle.sandbox.procore import create_app
from trestle.sandbox.runner import RunningServer, serve_in_thread

SEED = 1


def issue_token(base_url: str, seed: int = SEED) -> str:
    """A DMSA access token from the simulator's token endpoint."""
    client = sandbox_client("procore", seed)
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture(scope="session")
def procore_server() -> Iterator[RunningServer]:
    """The simulator with rate limits off (the rate-limit tests start their own)."""
    app = create_app(SandboxRuntime(name="procore", dataset="small", seed=SEED, rate_limit_mode="off"))
    server = serve_in_thread(app)
    server.app = app  # type: ignore[attr-defined]  # tests inspect the live state
    yield server
    server.stop()


@pytest.fixture
def base_url(procore_server: RunningServer) -> str:
    """The simulator's URL, after resetting it to the seeded scenario."""
    httpx.post(f"{procore_server.url}/_sandbox/reset", json={"dataset": "small", "seed": SEED}).raise_for_status()
    return procore_server.url


@pytest.fixture
def state(procore_server: RunningServer, base_url: str):
    """The live simulator state (read it to pick ids; never change it directly)."""
    return procore_server.app.state.procore  # type: ignore[attr-defined]


@pytest.fixture
def company_id(state) -> int:
    return state.company_id


@pytest.fixture
def api(base_url: str, company_id: int) -> Iterator[httpx.Client]:
    """An authenticated client sending Procore-Company-Id, like a real integration."""
    token = issue_token(base_url)
    headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": str(company_id)}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        yield client
