"""``trestle up`` with Prefect's server auth string: the API needs the login, everything it starts has it.

One ``trestle up`` subprocess binds 0.0.0.0 on a free port with ``PREFECT_SERVER_API_AUTH_STRING``
set: it must not warn, the API must refuse requests without the login (health probes excepted),
and ``trestle serve`` and the work pool it set up (both clients of the API) must have worked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from trestle.deployments.catalog import WORK_POOL, deployment_specs
from trestle.deployments.local import exposure_warning, free_port

ROOT = Path(__file__).resolve().parents[2]
AUTH = "trestle-admin:correct-horse-battery-9"
READY = "Ctrl-C stops everything."

pytestmark = pytest.mark.timeout(600)


def test_binding_beyond_loopback_without_a_login_warns() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.1.1"):
        assert exposure_warning(host, None) is None
    warning = exposure_warning("0.0.0.0", None)
    assert warning and "PREFECT_SERVER_API_AUTH_STRING" in warning and "PREFECT_API_AUTH_STRING" in warning
    assert exposure_warning("0.0.0.0", AUTH) is None


def test_up_with_an_auth_string_requires_the_login_everywhere(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRESTLE_", "PREFECT_API"))}
    env |= {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "TRESTLE_PROJECT_DIR": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "PREFECT_SERVER_API_AUTH_STRING": AUTH,
    }
    port = free_port()
    argv = [sys.executable, "-m", "trestle.cli", "up", "--home", str(tmp_path / "home"), "--port", str(port)]
    argv += ["--host", "0.0.0.0", "--xero-port", "0", "--procore-port", "0", "--dataset", "small"]
    output = tmp_path / "up.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while READY not in output.read_text():
            assert process.poll() is None, f"trestle up exited early:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"trestle up was not ready:\n{output.read_text()}"
            time.sleep(0.5)
        printed = output.read_text()
        assert "WARNING" not in printed
        assert AUTH not in printed and "correct-horse" not in printed
        assert "PREFECT_API_AUTH_STRING" in printed, "other shells are told they need the login too"

        api = f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{api}/health").status_code == 200, "health probes stay open"
        assert httpx.post(f"{api}/deployments/filter", json={}).status_code == 401
        wrong = httpx.post(f"{api}/deployments/filter", json={}, auth=("trestle-admin", "guess"))
        assert wrong.status_code == 401
        login = httpx.BasicAuth(*AUTH.split(":", 1))
        deployments = httpx.post(f"{api}/deployments/filter", json={"limit": 200}, auth=login).json()
        ready = [item for item in deployments if item["status"] == "READY"]
        assert len(ready) == len(deployment_specs([])), "trestle serve registered and polls with the login"
        pool = httpx.get(f"{api}/work_pools/{WORK_POOL}", auth=login)
        assert pool.status_code == 200 and pool.json()["type"] == "process"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
