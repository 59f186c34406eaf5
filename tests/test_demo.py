"""``trestle demo`` end to end on the small dataset: chosen ports, an email for the nightly run
and for the payments run, and one printed command that serves the demo's saved data again so the
emails' links open; a sandbox asked for another dataset refuses to touch that data."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

DEADLINE_SECONDS = 120


def clean_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
    return {**env, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "TRESTLE_HOME": str(home)}


def html_links(eml: Path) -> list[str]:
    message = email.message_from_bytes(eml.read_bytes())
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    return re.findall(r'href="(http://127\.0\.0\.1:[^"]+)"', html)


def wait_until_open(url: str, process: subprocess.Popen) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not open within {DEADLINE_SECONDS} s")


def test_demo_emails_both_runs_and_its_data_can_be_served_again(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    command = [sys.executable, "-m", "trestle.cli"]
    demo = subprocess.run(
        [*command, "demo", "--dataset", "small", "--rate-limits", "off", "--home", str(home),
         "--xero-port", "0", "--procore-port", "0"],
        env=clean_env(home), cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert demo.returncode in (0, 1), demo.stdout[-3000:] + demo.stderr[-3000:]
    emails = sorted((home / "outbox").glob("*.eml"))
    assert len(emails) == 2, "one email for the nightly run and one for the payments run"
    assert demo.stdout.count("Summary email written to") == 2
    assert f"trestle sandbox --demo {home}" in demo.stdout

    refused = subprocess.run(
        [*command, "sandbox", "--state-dir", str(home / "sandbox"), "--dataset", "medium",
         "--xero-port", "0", "--procore-port", "0"],
        env=clean_env(home), cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2 and "holds the" in refused.stderr and "small dataset" in refused.stderr

    links = html_links(emails[0])
    assert links, "the email links to the sandbox's record pages"
    served = subprocess.Popen(
        [*command, "sandbox", "--demo", str(home)],
        env=clean_env(home), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert wait_until_open(links[0], served).status_code == 200
        for link in links[:: max(1, len(links) // 20)]:
            assert httpx.get(link, timeout=10).status_code == 200, link
    finally:
        os.killpg(served.pid, signal.SIGTERM)
        served.wait(timeout=60)
