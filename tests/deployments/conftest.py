"""The deployment tests' shared ``trestle up`` (one Prefect server for the package: each costs 10–20 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deployments.install import FAST_DEPLOYMENT, Up, quieten, running_up


@pytest.fixture(scope="package")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """``trestle up`` for every test under tests/deployments; test_up.py's last test stops it with SIGTERM."""
    with running_up(tmp_path_factory.mktemp("trestle-up")) as running:
        yield running


@pytest.fixture(scope="package")
def quiet_schedules(up: Up) -> None:
    """The one-minute schedule paused, with no run of it left: for tests that must run alone."""
    quieten(up.api, FAST_DEPLOYMENT)
