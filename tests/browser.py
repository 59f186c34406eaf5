"""Headless Chromium from the command line: a page's rendered DOM and a screenshot.

The Prefect UI is a single-page app; ``--virtual-time-budget`` lets Chromium run the app's
scripts and requests until the page is idle (or the budget is spent) before it dumps the DOM or
takes the screenshot. When the text a test waits for is not there yet, :meth:`Chromium.dom` tries
again with a larger budget. Every call uses a new, empty profile and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
BUDGETS_MS = (20_000, 40_000, 80_000)


def find_chromium() -> str | None:
    """The Chromium executable (``TRESTLE_CHROMIUM`` or the usual names), or None."""
    for candidate in (os.environ.get("TRESTLE_CHROMIUM"), *CANDIDATES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def require_chromium() -> str:
    """The Chromium executable, or skip the test; where ``TRESTLE_REQUIRE_CHROMIUM=1`` (CI), fail instead."""
    executable = find_chromium()
    if executable is None:
        message = "no Chromium (/usr/bin/chromium) to render pages with"
        if os.environ.get("TRESTLE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message + " (required when TRESTLE_REQUIRE_CHROMIUM=1)")
        pytest.skip(message)
    return executable


@dataclass
class Chromium:
    """One headless Chromium executable and the window size its pages are laid out in."""

    executable: str
    width: int = 1440
    height: int = 1000
    timeout: float = 120.0

    def dom(self, url: str, expect: Sequence[str] = ()) -> str:
        """The DOM of ``url`` once rendered: retried with larger budgets until every ``expect`` text is in it."""
        html = ""
        for budget in BUDGETS_MS:
            html = self._run(url, ["--dump-dom"], budget, self.height).stdout.decode("utf-8", "replace")
            if all(text in html for text in expect):
                break
        return html

    def screenshot(self, url: str, path: Path, *, height: int | None = None, budget_ms: int = BUDGETS_MS[0]) -> Path:
        """A PNG of ``url`` (``height`` pixels tall, default the window's) written to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        done = self._run(url, [f"--screenshot={path.resolve()}"], budget_ms, height or self.height)
        if not path.is_file() or path.stat().st_size == 0:
            raise RuntimeError(
                f"Chromium wrote no screenshot of {url}:\n{done.stderr.decode(errors='replace')[-2000:]}"
            )
        return path

    def _run(self, url: str, output: list[str], budget_ms: int, height: int) -> subprocess.CompletedProcess[bytes]:
        with tempfile.TemporaryDirectory(prefix="trestle-chromium-") as profile:
            argv = [
                self.executable,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={self.width},{height}",
                f"--virtual-time-budget={budget_ms}",
                *output,
                url,
            ]
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            try:
                stdout, stderr = process.communicate(timeout=self.timeout)
            finally:
                # Its renderer and GPU helpers share its process group: end whatever is left.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process.returncode != 0:
            raise RuntimeError(
                f"Chromium exited with {process.returncode} on {url}:\n{stderr.decode(errors='replace')}"
            )
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
