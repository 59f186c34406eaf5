"""A portal served over HTTP against the session's sandboxes and a fresh SQLite link store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trestle.deployments.local import free_port
from trestle.sandbox.procore.authorize import USER_ID_BASE


@dataclass
class Portal:
    url: str
    env: dict[str, str]


StartPortal = Callable[..., Portal]


@pytest.fixture
def start_portal(sandboxes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartPortal]:
    """Start a portal with these extra ``TRESTLE_*`` settings and, optionally, a TOML file's text."""
    from trestle.db import make_engine, upgrade
    from trestle.portal.app import create_app
    from trestle.sandbox.runner import serve_in_thread

    for key in list(os.environ):
        if key.startswith("TRESTLE_") and key not in ("TRESTLE_TEST_POSTGRES_URL", "TRESTLE_REQUIRE_POSTGRES"):
            monkeypatch.delenv(key)
    stack = ExitStack()

    def start(settings: dict[str, str], toml: str | None = None) -> Portal:
        port = free_port()
        env = {
            **sandboxes.env,
            "TRESTLE_HOME": str(tmp_path / "home"),
            "TRESTLE_DATABASE_URL": f"sqlite:///{tmp_path / 'home' / 'trestle.db'}",
            "TRESTLE_PORTAL_PORT": str(port),
            **settings,
        }
        if toml is not None:
            (tmp_path / "trestle.toml").write_text(toml)
            env["TRESTLE_CONFIG"] = str(tmp_path / "trestle.toml")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        upgrade(make_engine(env["TRESTLE_DATABASE_URL"]))
        server = serve_in_thread(create_app(), port=port)
        stack.callback(server.stop)
        return Portal(f"http://127.0.0.1:{server.port}", env)

    with stack:
        yield start


@pytest.fixture
def portal(start_portal: StartPortal) -> Portal:
    """The portal on a free port: Alex (by email) may run, Pat (by user id) may look, Sam may not enter."""
    return start_portal(
        {
            "TRESTLE_PORTAL_ALLOWED_USERS": f"alex.accounts@ironbark.sandbox.invalid, {USER_ID_BASE + 1}",
            "TRESTLE_PORTAL_RUN_USERS": "alex.accounts@ironbark.sandbox.invalid",
        }
    )
