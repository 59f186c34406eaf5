"""The portal in a real headless Chromium, on an install started by ``trestle up``.

One ``trestle up`` (sandboxes, Prefect server, every deployment served, the portal) serves the
module. Chromium is driven over the DevTools protocol like a person: it signs in on the Procore
sandbox's authorize page, starts runs from the runs page and follows their progress, searches the
review page and follows a record's link into the Procore sandbox. Screenshots go to
``TRESTLE_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import require_chromium
from tests.integrations.apis import procore_api
from tests.portal.cdp import Page, chromium_page
from tests.portal.signin import ALLOWED
from trestle.clients.procore_base import VIEWS
from trestle.db import make_engine
from trestle.deployments.local import free_port
from trestle.integrations import integration
from trestle.models.store import LinkStore
from trestle.sandbox.server import sandbox_env

ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops everything."
RUN_TIMEOUT = 240.0

pytestmark = pytest.mark.timeout(900)


@dataclass
class Install:
    process: subprocess.Popen[str]
    home: Path
    lines: list[str]
    urls: dict[str, str]

    @property
    def portal(self) -> str:
        return self.urls["portal"]

    @property
    def sandbox(self) -> dict[str, str]:
        return sandbox_env(self.urls["xero"], self.urls["procore"], dataset="small")

    def store(self) -> LinkStore:
        return LinkStore(make_engine(f"sqlite:///{self.home / 'trestle.db'}"), "default")


def _read(process: subprocess.Popen[str], lines: list[str], out: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        out.put(line)
    out.put(None)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """``trestle up`` with the small data set; Alex may run, nobody else is named."""
    workdir = tmp_path_factory.mktemp("portal-up")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRESTLE_", "PREFECT_API_URL"))}
    env.update(
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
            "TRESTLE_PROJECT_DIR": str(ROOT),
            "TRESTLE_PORTAL_ALLOWED_USERS": ALLOWED,
            "TRESTLE_PORTAL_RUN_USERS": ALLOWED,
        }
    )
    argv = [sys.executable, "-m", "trestle.cli", "up", "--home", str(workdir / "home"), "--port", str(free_port())]
    argv += ["--xero-port", "0", "--procore-port", "0", "--portal-port", "0", "--dataset", "small"]
    process = subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: list[str] = []
    received: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read, args=(process, lines, received), daemon=True).start()
    try:
        deadline = time.monotonic() + 240
        while True:
            line = received.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail("trestle up exited before it was ready:\n" + "\n".join(lines))
            if line.strip() == READY:
                break
        output = "\n".join(lines)
        portal = re.search(r"^Portal:\s+(\S+)", output, re.MULTILINE)
        sandboxes = re.search(r"^Sandboxes:\s+Xero (\S+), Procore (\S+) ", output, re.MULTILINE)
        ui = re.search(r"^Prefect UI:\s+(\S+)", output, re.MULTILINE)
        assert portal and sandboxes and ui, output
        urls = {"portal": portal[1], "xero": sandboxes[1], "procore": sandboxes[2], "ui": ui[1]}
        yield Install(process, workdir / "home", lines, urls)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def page(install: Install) -> Iterator[Page]:
    with chromium_page(require_chromium()) as opened:
        yield opened


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("TRESTLE_SCREENSHOT_DIR")
    if folder:
        page.screenshot(Path(folder) / f"portal-{name}.png")


def _wait_for_run_end(page: Page) -> str:
    """On a run's progress page (it refreshes itself): its final state's name."""
    page.wait_for("location.pathname.includes('/flow-runs/')", what="the run's progress page")
    return page.wait_for(
        "document.querySelector('p.muted') && document.querySelector('p.muted').innerText.includes('Finished')"
        " && document.getElementById('state').innerText",
        timeout=RUN_TIMEOUT,
        what="the run to end",
    )


def test_1_without_a_session_the_portal_sends_the_browser_to_sign_in(install: Install, page: Page) -> None:
    assert f"Portal:      {install.portal}" in "\n".join(install.lines)
    page.goto(install.portal + "/review")
    page.wait_for("location.pathname === '/login'")
    assert "Sign in with Procore" in page.text()


def test_2_signs_in_through_the_procore_authorize_page(install: Install, page: Page) -> None:
    page.goto(install.portal + "/login")
    page.click("#sign-in")
    page.wait_for(f"location.href.startsWith({json.dumps(install.urls['procore'] + '/oauth/authorize')})")
    page.wait_for("document.getElementById('login')")
    assert "Sign in to Procore" in page.text()
    _shot(page, "procore-sign-in")
    page.fill("#login", ALLOWED)
    page.click("#sign-in")
    page.wait_for(f"location.href === {json.dumps(install.portal + '/review')}", what="the review page")
    assert "Alex Accounts" in page.text()


def test_3_runs_vendors_from_the_runs_page_and_sees_it_complete(install: Install, page: Page) -> None:
    page.goto(install.portal + "/runs")
    page.click("#run-default-vendors")
    assert _wait_for_run_end(page) == "Completed", page.text()
    page.goto(install.portal + "/runs")
    assert re.search(r"default · vendors\s+\S+ \S+ UTC\s+issues", page.text()), page.text()


def test_4_searches_for_a_vendor_sees_its_issue_and_fix_and_follows_its_procore_link(
    install: Install, page: Page
) -> None:
    issue = next(row for row in install.store().open_issues(integration="vendors") if row.code == "vendor.inactive")
    fix = integration("vendors").issue_fixes[issue.code]
    page.goto(install.portal + "/review")
    page.fill("#q", issue.label.split()[0])
    page.click("form[role=search] button")
    page.wait_for("location.search.includes('q=')")
    text = page.text()
    assert issue.label in text and issue.code in text and fix in text
    _shot(page, "review")

    page.click(f"a.record[href$='{issue.record_id}']")
    page.wait_for(f"location.pathname.endsWith({json.dumps('/' + issue.record_id)})")
    record = page.text()
    assert issue.message in record and "Runs that touched it" in record
    assert re.search(r"vendors\s+\S+ \S+ UTC\s+issues\s+flow run", record), record
    _shot(page, "record")
    page.click("#record-links a[data-system=procore]")
    vendor_path = f"/company/vendors/{issue.details['vendor_id']}"
    page.wait_for(f"location.href.startsWith({json.dumps(install.urls['procore'])})", what="the Procore sandbox")
    assert page.url.endswith(vendor_path), page.url
    assert "Not found" not in page.text()


def test_5_starts_a_debug_single_project_run_and_sees_it_complete(install: Install, page: Page) -> None:
    with procore_api(install.sandbox) as api:
        projects = api.get(
            "/rest/v1.1/projects",
            params={
                "company_id": install.sandbox["TRESTLE_PROCORE_COMPANY_ID"],
                "per_page": 100,
                "view": VIEWS["projects"],  # the view that carries project_number
            },
        ).json()
    number = next(project["project_number"] for project in projects if project.get("project_number"))
    page.goto(install.portal + "/runs")
    page.fill("#project-number-default", number)
    page.click("#debug-default", navigates=False)
    page.click("#single-project-default button")
    assert _wait_for_run_end(page) == "Completed", page.text()
    assert "Debug mode" in page.text()
    _shot(page, "run-finished")
    page.goto(install.portal + "/runs")
    assert re.search(rf"default · single-project-{re.escape(number)} \(debug\)", page.text()), page.text()


def test_6_the_keyboard_reaches_the_content_and_every_control(install: Install, page: Page) -> None:
    page.goto(install.portal + "/runs")
    page.press_tab()
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main", "Tab first reaches the skip link"
    reached = set()
    for _ in range(60):
        page.press_tab()
        reached.add(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert {"run-default-vendors", "debug-default-vendors", "project-number-default", "Sign out"} <= reached


def test_7_pages_fit_a_phone_screen(install: Install, page: Page) -> None:
    page.viewport(390, 844, mobile=True)
    try:
        for path in ("/review", "/specs/vendors", "/runs"):
            page.goto(install.portal + path)
            fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            assert fits, f"{path} scrolls sideways on a phone"
        _shot(page, "phone-runs")
    finally:
        page.send("Emulation.clearDeviceMetricsOverride")
