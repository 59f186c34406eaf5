"""A Prefect server bound to every interface tells the UI an API address other machines can reach."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from trestle.deployments.local import free_port, machine_address, public_ui_url, start_prefect_server


def test_the_ui_address_for_a_wildcard_bind_is_this_machines() -> None:
    assert public_ui_url("127.0.0.1", 4200) == "http://127.0.0.1:4200"
    assert public_ui_url("0.0.0.0", 4200) == f"http://{machine_address()}:4200"
    assert machine_address() not in ("0.0.0.0", "")
    assert public_ui_url("0.0.0.0", 4200, "https://prefect.example.com/") == "https://prefect.example.com"


@pytest.mark.timeout(300)
def test_a_server_on_0_0_0_0_gives_the_ui_a_reachable_api_url(tmp_path: Path) -> None:
    port = free_port()
    server = start_prefect_server(home=tmp_path / "prefect", host="0.0.0.0", port=port, scheduler=False)
    try:
        assert server.api_url == f"http://127.0.0.1:{port}/api", "this machine's processes use loopback"
        assert server.ui_url == f"http://{machine_address()}:{port}"
        settings = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()
        assert settings["api_url"] == f"{server.ui_url}/api", settings
        assert httpx.get(f"{server.ui_url}/api/health", timeout=10).status_code == 200, "reachable at that address"
    finally:
        server.stop()
