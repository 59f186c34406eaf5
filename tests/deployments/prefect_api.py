"""The Prefect REST API as the deployment tests use it: deployments, flow runs, waiting for runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class PrefectApi:
    """Calls to one Prefect server's REST API (``http://host:port/api``)."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; the JSON answer (failing the test on a non-2xx status)."""
        response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def deployment(self, name: str) -> dict[str, Any]:
        """The one deployment called ``name``."""
        found = self("POST", "/deployments/filter", json={"deployments": {"name": {"any_": [name]}}})
        assert len(found) == 1, f"deployment {name!r}: {len(found)} found"
        return found[0]

    def start_run(self, name: str, parameters: dict[str, Any] | None = None) -> str:
        """Start a run of deployment ``name`` as the UI's Run button does; its id."""
        body = {"parameters": parameters} if parameters else {}
        return self("POST", f"/deployments/{self.deployment(name)['id']}/create_flow_run", json=body)["id"]

    def wait(
        self,
        run_ids: list[str],
        timeout: float,
        *,
        still_serving: Callable[[], str | None] = lambda: None,
        details: Callable[[], str] = lambda: "",
    ) -> dict[str, dict[str, Any]]:
        """Poll until every run has ended.

        Fails after ``timeout`` (adding ``details()``, e.g. a log tail), or as soon as
        ``still_serving()`` names a reason the runs cannot end (the server or runner died).
        """
        deadline = time.monotonic() + timeout
        runs: dict[str, dict[str, Any]] = {}
        slow_answers = 0
        while time.monotonic() < deadline:
            if problem := still_serving():
                pytest.fail(problem)
            try:
                runs = {run_id: self("GET", f"/flow_runs/{run_id}") for run_id in run_ids}
            except httpx.TimeoutException:
                # A SQLite-backed server busy taking in a run's events can take longer than one
                # request's timeout to answer; the wait is bounded by its own deadline, not by that.
                slow_answers += 1
                continue
            if all(run["state_type"] in TERMINAL for run in runs.values()):
                return runs
            time.sleep(2)
        states = {run_id: run.get("state_type") for run_id, run in runs.items()}
        pytest.fail(
            f"flow runs did not end within {timeout:.0f} s: {states} ({slow_answers} polls timed out)\n{details()}"
        )
