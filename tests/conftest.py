"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(os.environ.get("TRESTLE_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` (the official API specs and notes).

    A user's own clone may not have it, so tests that need it skip; on CI (``CI=true``) it
    must be there and its absence fails the run.
    """
    if not REFERENCE_DIR.is_dir():
        message = f"API reference folder not found at {REFERENCE_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return REFERENCE_DIR
